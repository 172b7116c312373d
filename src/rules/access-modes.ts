import { conditionHolds, isAccessMode, type ProvisionerCapabilities } from '../core/capabilities.js';
import { claimPath, type Claim, type StorageClassInfo } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import type { Finding, RuleContext, RuleFamily } from './contract.js';
import type { Policy } from '../policy/model.js';
import { advice, classFieldPath, forClaimKinds, listOf, lookupFailure, violation } from './common.js';

/** Checks that hold whatever the provisioner: at least one mode, and ReadWriteOncePod alone. */
function structuralFindings(claim: Claim, policy: Policy): Finding[] {
  if (claim.accessModes.length === 0) {
    return [
      violation(
        'access-modes/required',
        policy,
        claimPath(claim, 'spec', 'accessModes'),
        'a claim needs at least one access mode; add ReadWriteOnce',
      ),
    ];
  }
  if (claim.accessModes.includes('ReadWriteOncePod') && new Set(claim.accessModes).size > 1) {
    return [
      violation(
        'access-modes/read-write-once-pod-exclusive',
        policy,
        claimPath(claim, 'spec', 'accessModes'),
        `ReadWriteOncePod cannot be combined with ${listOf(claim.accessModes.filter((mode) => mode !== 'ReadWriteOncePod'))}; ask for ReadWriteOncePod alone`,
      ),
    ];
  }
  return [];
}

/** The modes a policy allows or denies, whatever the provisioner serves (e.g. require ReadWriteOncePod). */
function chosenModeFindings(claim: Claim, policy: Policy): Finding[] {
  const { allowed, denied } = policy.accessModes ?? {};
  if (!allowed && !denied) return [];
  return claim.accessModes.flatMap((mode, index): Finding[] => {
    const refused =
      (allowed && !(allowed as string[]).includes(mode)) || (denied as string[] | undefined)?.includes(mode);
    if (!refused) return [];
    const instead = allowed ? `; use ${listOf(allowed)}` : '';
    return [
      violation(
        'access-modes/not-allowed',
        policy,
        claimPath(claim, 'spec', 'accessModes', index),
        `${mode} is not allowed here${instead}`,
      ),
    ];
  });
}

function capabilityFindings(
  claim: Claim,
  policy: Policy,
  storageClass: StorageClassInfo,
  capabilities: ProvisionerCapabilities,
): Finding[] {
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
      findings.push(
        violation('access-modes/unsupported', policy, path, `${mode} is not an access mode; use one of ${served}`),
      );
      return;
    }
    if (capabilities.modes.includes(mode)) return;
    const conditional = capabilities.conditional?.find((entry) => entry.mode === mode);
    if (conditional && conditionHolds(conditional, claim.volumeMode, storageClass.parameters)) {
      if (conditional.caution) {
        findings.push(
          advice('access-modes/caution', policy, path, `${mode} on ${provisioner} ${conditional.condition}`),
        );
      }
      return;
    }
    const why = conditional
      ? `${mode} on ${provisioner} ${conditional.condition}`
      : `${mode} is not supported by ${provisioner}`;
    findings.push(
      violation('access-modes/unsupported', policy, path, `${why} (supports ${served}); class ${storageClass.name}`),
    );
  });
  if (capabilities.volumeModes && !capabilities.volumeModes.includes(claim.volumeMode)) {
    findings.push(
      violation(
        'access-modes/unsupported',
        policy,
        claimPath(claim, 'spec', 'volumeMode'),
        `volumeMode ${claim.volumeMode} is not supported by ${provisioner} (supports ${listOf(capabilities.volumeModes)})`,
      ),
    );
  }
  if (
    capabilities.csi &&
    !multiWriter &&
    claim.accessModes.includes('ReadWriteOnce') &&
    claim.accessModes.includes('ReadOnlyMany')
  ) {
    findings.push(
      violation(
        'access-modes/read-only-with-read-write-once',
        policy,
        claimPath(claim, 'spec', 'accessModes'),
        `CSI driver ${provisioner} rejects ReadOnlyMany together with ReadWriteOnce; keep one of them`,
      ),
    );
  }
  return findings;
}

function validateClaims(context: RuleContext): Finding[] {
  const findings: Finding[] = [];
  for (const policy of context.policies) {
    const settings = policy.accessModes;
    if (!settings) continue;
    for (const claim of context.claims) {
      findings.push(...chosenModeFindings(claim, policy));
      const structural = structuralFindings(claim, policy);
      findings.push(...structural);
      if (structural.length > 0) continue;
      const resolved = claim.storageClass;
      if (resolved.state === 'no-class') continue;
      if (resolved.state === 'unknown') {
        findings.push(
          ...lookupFailure(policy, classFieldPath(claim), `access modes for class ${resolved.name}`, resolved.reason),
        );
        continue;
      }
      const unknownAction = settings.unknownProvisioner ?? 'warn';
      // A class the cluster lacks is storage-class/missing's to report; its modes cannot be judged.
      if (resolved.state === 'missing') continue;
      const capabilities = context.capabilitiesFor(policy).get(resolved.info.provisioner);
      if (!capabilities) {
        if (unknownAction !== 'allow') {
          findings.push(
            violation(
              'access-modes/unknown-provisioner',
              policy,
              classFieldPath(claim),
              `provisioner ${resolved.info.provisioner} of class ${resolved.name} has no known capabilities; declare them in spec.accessModes.capabilities`,
              unknownAction,
            ),
          );
        }
        continue;
      }
      findings.push(...capabilityFindings(claim, policy, resolved.info, capabilities));
    }
  }
  return findings;
}

function describe(policy: Policy, _kind: GovernedKind): string[] {
  const modes = policy.accessModes;
  if (!modes) return [];
  const limits = [
    modes.allowed ? `only ${listOf(modes.allowed)}` : '',
    modes.denied ? `never ${listOf(modes.denied)}` : '',
  ].filter(Boolean);
  return [
    ...(limits.length > 0 ? [`access modes: ${limits.join('; ')}`] : []),
    `access modes checked against the provisioner; unknown provisioner: ${modes.unknownProvisioner ?? 'warn'}`,
  ];
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
  factRules: [],
  mutations: [],
  claimFields: ['spec.accessModes', 'spec.volumeMode', 'spec.storageClassName', 'metadata.annotations'],
  describe,
  validate: forClaimKinds(validateClaims),
  mutate: {},
};
