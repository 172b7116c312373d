import { csiDriverOf } from '../core/capabilities.js';
import { isEbsProvisioner, parseDriverInteger, quoteIops, quoteThroughput, readEbsClass } from '../core/ebs.js';
import { setAt } from '../core/patch.js';
import { claimPath, readAttributesClass } from '../core/storage.js';
import type { Policy } from '../policy/model.js';
import { classFieldPath, listOf, lookupFailure } from './common.js';
import { emptyResult, type Finding, type Mutation, type ReviewedClaim, type RuleContext, type RuleFamily, type RuleResult } from './contract.js';

// VolumeAttributesClasses (storage.k8s.io/v1, GA 1.34): how EBS volumes change type, IOPS and throughput in
// place. A VAC's parameters override its claim's StorageClass (the IOPS family quotes with them); this family
// judges the VAC objects against the provider limits, and which VACs a claim may name.

const PATH = ['spec', 'volumeAttributesClassName'];

/** EBS parameters a VAC sets: type, iops and throughput within the type's limits (the facts table). */
function limitFindings(context: RuleContext, policy: Policy): Finding[] {
  const vac = readAttributesClass(context.object);
  if (!isEbsProvisioner(vac.driverName)) return [];
  const settings = readEbsClass(vac.driverName, vac.parameters);
  const limits = context.settings.ebsLimitsFor(settings.type);
  if (!limits) return [{ rule: 'attributes-class/limits', policy, path: 'parameters.type', message: `EBS has no volume type ${settings.type}`, severity: 'violation' }];
  const findings: Finding[] = [];
  const iops = settings.iopsText === undefined ? undefined : parseDriverInteger(settings.iopsText);
  if (settings.iopsText !== undefined && (iops === undefined || iops <= 0)) {
    findings.push({ rule: 'attributes-class/limits', policy, path: 'parameters.iops', message: `iops "${settings.iopsText}" is not a positive integer the driver can parse`, severity: 'violation' });
  } else if (iops !== undefined) {
    if (!limits.iops) findings.push({ rule: 'attributes-class/limits', policy, path: 'parameters.iops', message: `type ${settings.type} takes no iops`, severity: 'violation' });
    else if (iops < limits.iops.min || iops > limits.iops.max) {
      const whose = limits.overriddenBy ? ` (limit set by policy ${limits.overriddenBy})` : '';
      findings.push({
        rule: 'attributes-class/limits',
        policy,
        path: 'parameters.iops',
        message: `${iops} IOPS is outside ${settings.type}'s ${limits.iops.min}-${limits.iops.max}${whose}: EC2 refuses the modification and claims keep their old volume`,
        severity: 'violation',
      });
    }
  }
  const throughput = quoteThroughput(settings, limits, quoteIops(settings, limits.minGiB, limits));
  if (throughput.outcome === 'fails') {
    findings.push({
      rule: 'attributes-class/limits',
      policy,
      path: 'parameters.throughput',
      message: `throughput ${throughput.mibps} MiB/s is outside what ${settings.type} allows (limit ${throughput.limit} MiB/s)`,
      severity: 'violation',
    });
  }
  if (settings.throughputText !== undefined && !limits.throughput)
    findings.push({ rule: 'attributes-class/limits', policy, path: 'parameters.throughput', message: `type ${settings.type} takes no throughput`, severity: 'violation' });
  return findings;
}

/**
 * Which VACs a claim may name (the policy's list), and what makes a claim's VAC never apply, for every policy
 * that governs claims: external-provisioner refuses to provision a claim whose VAC is for another driver
 * ("VAC ... referenced in PVC is for driver X which does not match driver name Y": kubernetes-csi/external-provisioner,
 * pkg/controller/controller.go)
 * and leaves it Pending, and the resizer never carries out such a switch on a bound claim; a VAC that does not
 * exist yet makes both wait.
 */
function claimFindings(claim: ReviewedClaim, policy: Policy): Finding[] {
  const settings = policy.volumeAttributesClasses;
  const vac = claim.attributesClass;
  if (vac.state === 'none') return [];
  const path = claimPath(claim, ...PATH);
  const findings: Finding[] = [];
  if (settings?.allowed && !settings.allowed.includes(vac.name)) {
    findings.push({ rule: 'attributes-class/allowed', policy, path, message: `VolumeAttributesClass ${vac.name} is not allowed here; use one of ${listOf(settings.allowed)}`, severity: 'violation' });
  }
  if (vac.state === 'unknown') return [...findings, ...lookupFailure(policy, path, `VolumeAttributesClass ${vac.name}`, vac.reason)];
  if (vac.state === 'missing') {
    return [
      ...findings,
      {
        rule: 'attributes-class/missing',
        policy,
        path,
        message: `VolumeAttributesClass ${vac.name} does not exist: provisioning or the modification waits until it does`,
        severity: 'violation',
        action: 'warn',
      },
    ];
  }
  if (claim.storageClass.state === 'found' && csiDriverOf(claim.storageClass.info.provisioner) !== vac.info.driverName) {
    findings.push({
      rule: 'attributes-class/driver',
      policy,
      path,
      message: `VolumeAttributesClass ${vac.name} is for ${vac.info.driverName}, but class ${claim.storageClass.name} (${classFieldPath(claim)}) is provisioned by ${claim.storageClass.info.provisioner}: the claim would never be provisioned or modified; use a VAC of that driver`,
      severity: 'violation',
    });
  }
  return findings;
}

/** A PersistentVolumeClaim created without a VAC gets the policies' default the engine resolved for it; a template is never written. */
function defaultMutation(context: RuleContext, claim: ReviewedClaim): Mutation | undefined {
  const vac = claim.attributesClass;
  const owner = context.settings.attributesClassDefault;
  if (claim.templateName !== undefined || vac.state !== 'found' || vac.origin !== 'policy-default' || !owner) return undefined;
  return { rule: 'attributes-class/default', policy: owner.policy, patch: [setAt(context.object, PATH, vac.name)], note: `spec.volumeAttributesClassName set to ${vac.name} (default)` };
}

function evaluate(context: RuleContext): RuleResult {
  const result = emptyResult();
  if (context.kind === 'VolumeAttributesClass') {
    if (context.phase === 'validate') for (const policy of context.policies) result.findings.push(...limitFindings(context, policy));
    return result;
  }
  for (const claim of context.claims) {
    const mutation = defaultMutation(context, claim);
    if (mutation) result.mutations.push(mutation);
    if (context.phase === 'validate') for (const policy of context.policies) result.findings.push(...claimFindings(claim, policy));
  }
  return result;
}

export const attributesClassFamily: RuleFamily = {
  name: 'attributes-class',
  sections: ['volumeAttributesClasses', 'iops', 'providerLimits'],
  ruleIds: ['attributes-class/allowed', 'attributes-class/driver', 'attributes-class/missing', 'attributes-class/limits'],
  factRules: ['attributes-class/driver', 'attributes-class/missing'],
  kinds: ['PersistentVolumeClaim', 'StatefulSet', 'VolumeAttributesClass'],
  mutates: true,
  claimFields: ['spec.volumeAttributesClassName', 'spec.storageClassName', 'metadata.annotations'],
  evaluate,
};
