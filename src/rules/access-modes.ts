import { conditionHolds, isAccessMode, type ProvisionerCapabilities } from '../core/capabilities.js';
import { claimPath, type Claim, type StorageClassInfo } from '../core/storage.js';
import { emptyResult, type Finding, type RuleContext, type RuleFamily, type RuleResult } from './contract.js';
import type { Policy } from '../policy/model.js';
import { classFieldPath, listOf, lookupFailure } from './common.js';

/** Checks that hold whatever the provisioner: at least one mode, and ReadWriteOncePod alone. */
function structuralFindings(claim: Claim, policy: Policy): Finding[] {
  if (claim.accessModes.length === 0) {
    return [{ rule: 'access-modes/required', policy, path: claimPath(claim, 'spec', 'accessModes'), message: 'a claim needs at least one access mode; add ReadWriteOnce', severity: 'violation' }];
  }
  if (claim.accessModes.includes('ReadWriteOncePod') && new Set(claim.accessModes).size > 1) {
    return [
      {
        rule: 'access-modes/read-write-once-pod-exclusive',
        policy,
        path: claimPath(claim, 'spec', 'accessModes'),
        message: `ReadWriteOncePod cannot be combined with ${listOf(claim.accessModes.filter((mode) => mode !== 'ReadWriteOncePod'))}; ask for ReadWriteOncePod alone`,
        severity: 'violation',
      },
    ];
  }
  return [];
}

/** The modes a policy allows or denies, whatever the provisioner serves (e.g. require ReadWriteOncePod). */
function chosenModeFindings(claim: Claim, policy: Policy): Finding[] {
  const { allowed, denied } = policy.accessModes ?? {};
  if (!allowed && !denied) return [];
  return claim.accessModes.flatMap((mode, index): Finding[] => {
    const refused = (allowed && !(allowed as string[]).includes(mode)) || (denied as string[] | undefined)?.includes(mode);
    if (!refused) return [];
    const instead = allowed ? `; use ${listOf(allowed)}` : '';
    return [{ rule: 'access-modes/not-allowed', policy, path: claimPath(claim, 'spec', 'accessModes', index), message: `${mode} is not allowed here${instead}`, severity: 'violation' }];
  });
}

function capabilityFindings(claim: Claim, policy: Policy, storageClass: StorageClassInfo, capabilities: ProvisionerCapabilities): Finding[] {
  const findings: Finding[] = [];
  const { provisioner } = storageClass;
  const served = listOf(capabilities.modes);
  // csi-lib-utils maps a list with ReadWriteMany to MULTI_NODE_MULTI_WRITER alone: the other listed modes
  // are not asked of a CSI driver, so only ReadWriteMany must be served.
  const multiWriter = capabilities.csi === true && claim.accessModes.includes('ReadWriteMany');
  claim.accessModes.forEach((mode, index) => {
    const path = claimPath(claim, 'spec', 'accessModes', index);
    if (multiWriter && mode !== 'ReadWriteMany' && isAccessMode(mode)) return;
    if (!isAccessMode(mode)) {
      findings.push({ rule: 'access-modes/unsupported', policy, path, message: `${mode} is not an access mode; use one of ${served}`, severity: 'violation' });
      return;
    }
    if (capabilities.modes.includes(mode)) return;
    const conditional = capabilities.conditional?.find((entry) => entry.mode === mode);
    if (conditional && conditionHolds(conditional, claim.volumeMode, storageClass.parameters)) {
      if (conditional.caution) {
        findings.push({ rule: 'access-modes/caution', policy, path, message: `${mode} on ${provisioner} ${conditional.condition}`, severity: 'advice' });
      }
      return;
    }
    const why = conditional ? `${mode} on ${provisioner} ${conditional.condition}` : `${mode} is not supported by ${provisioner}`;
    findings.push({ rule: 'access-modes/unsupported', policy, path, message: `${why} (supports ${served}); class ${storageClass.name}`, severity: 'violation' });
  });
  if (capabilities.volumeModes && !capabilities.volumeModes.includes(claim.volumeMode)) {
    findings.push({
      rule: 'access-modes/unsupported',
      policy,
      path: claimPath(claim, 'spec', 'volumeMode'),
      message: `volumeMode ${claim.volumeMode} is not supported by ${provisioner} (supports ${listOf(capabilities.volumeModes)})`,
      severity: 'violation',
    });
  }
  if (capabilities.csi && !multiWriter && claim.accessModes.includes('ReadWriteOnce') && claim.accessModes.includes('ReadOnlyMany')) {
    findings.push({
      rule: 'access-modes/read-only-with-read-write-once',
      policy,
      path: claimPath(claim, 'spec', 'accessModes'),
      message: `CSI driver ${provisioner} rejects ReadOnlyMany together with ReadWriteOnce; keep one of them`,
      severity: 'violation',
    });
  }
  return findings;
}

function evaluate(context: RuleContext): RuleResult {
  const result = emptyResult();
  if (context.kind === 'StorageClass') return result;
  for (const policy of context.policies) {
    const settings = policy.accessModes;
    if (!settings) continue;
    for (const claim of context.claims) {
      result.findings.push(...chosenModeFindings(claim, policy));
      const structural = structuralFindings(claim, policy);
      result.findings.push(...structural);
      if (structural.length > 0) continue;
      const resolved = claim.storageClass;
      if (resolved.state === 'no-class') continue;
      if (resolved.state === 'unknown') {
        result.findings.push(...lookupFailure(policy, classFieldPath(claim), `access modes for class ${resolved.name}`, resolved.reason));
        continue;
      }
      const unknownAction = settings.unknownProvisioner ?? 'warn';
      // A class the cluster lacks is storage-class/missing's to report; its modes cannot be judged.
      if (resolved.state === 'missing') continue;
      const capabilities = context.capabilitiesFor(policy).get(resolved.info.provisioner);
      if (!capabilities) {
        if (unknownAction !== 'allow') {
          result.findings.push({
            rule: 'access-modes/unknown-provisioner',
            policy,
            path: classFieldPath(claim),
            message: `provisioner ${resolved.info.provisioner} of class ${resolved.name} has no known capabilities; declare them in spec.accessModes.capabilities`,
            severity: 'violation',
            action: unknownAction,
          });
        }
        continue;
      }
      result.findings.push(...capabilityFindings(claim, policy, resolved.info, capabilities));
    }
  }
  return result;
}

export const accessModesFamily: RuleFamily = {
  name: 'access-modes',
  sections: ['accessModes'],
  ruleIds: [
    'access-modes/required',
    'access-modes/unsupported',
    'access-modes/read-write-once-pod-exclusive',
    'access-modes/read-only-with-read-write-once',
    'access-modes/unknown-provisioner',
    'access-modes/caution',
    'access-modes/not-allowed',
  ],
  kinds: ['PersistentVolumeClaim', 'StatefulSet'],
  mutates: false,
  claimFields: ['spec.accessModes', 'spec.volumeMode', 'spec.storageClassName', 'metadata.annotations'],
  evaluate,
};
