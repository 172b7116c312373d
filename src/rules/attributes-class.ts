import { csiDriverOf } from '../core/capabilities.js';
import { isEbsProvisioner, parseDriverInteger, quoteIops, quoteThroughput, readEbsClass } from '../core/ebs.js';
import { setAt } from '../core/patch.js';
import { claimPath, readAttributesClass } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import type { Policy, PolicyProblem } from '../policy/model.js';
import { classFieldPath, forClaimKinds, listOf, lookupFailure, supplier, violation } from './common.js';
import {
  type ComposedSettings,
  type Finding,
  type Mutation,
  type ReviewedClaim,
  type RuleContext,
  type RuleFamily,
} from './contract.js';

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
  if (!limits)
    return [violation('attributes-class/limits', policy, 'parameters.type', `EBS has no volume type ${settings.type}`)];
  const findings: Finding[] = [];
  const iops = settings.iopsText === undefined ? undefined : parseDriverInteger(settings.iopsText);
  if (settings.iopsText !== undefined && (iops === undefined || iops <= 0)) {
    findings.push(
      violation(
        'attributes-class/limits',
        policy,
        'parameters.iops',
        `iops "${settings.iopsText}" is not a positive integer the driver can parse`,
      ),
    );
  } else if (iops !== undefined) {
    if (!limits.iops)
      findings.push(
        violation('attributes-class/limits', policy, 'parameters.iops', `type ${settings.type} takes no iops`),
      );
    else if (iops < limits.iops.min || iops > limits.iops.max) {
      const whose = limits.overriddenBy ? ` (limit set by policy ${limits.overriddenBy})` : '';
      findings.push(
        violation(
          'attributes-class/limits',
          policy,
          'parameters.iops',
          `${iops} IOPS is outside ${settings.type}'s ${limits.iops.min}-${limits.iops.max}${whose}: EC2 refuses the modification and claims keep their old volume`,
        ),
      );
    }
  }
  const throughput = quoteThroughput(settings, limits, quoteIops(settings, limits.minGiB, limits));
  if (throughput.outcome === 'fails') {
    findings.push(
      violation(
        'attributes-class/limits',
        policy,
        'parameters.throughput',
        `throughput ${throughput.mibps} MiB/s is outside what ${settings.type} allows (limit ${throughput.limit} MiB/s)`,
      ),
    );
  }
  if (settings.throughputText !== undefined && !limits.throughput)
    findings.push(
      violation(
        'attributes-class/limits',
        policy,
        'parameters.throughput',
        `type ${settings.type} takes no throughput`,
      ),
    );
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
    findings.push(
      violation(
        'attributes-class/allowed',
        policy,
        path,
        `VolumeAttributesClass ${vac.name} is not allowed here; use one of ${listOf(settings.allowed)}`,
      ),
    );
  }
  if (vac.state === 'unknown')
    return [...findings, ...lookupFailure(policy, path, `VolumeAttributesClass ${vac.name}`, vac.reason)];
  if (vac.state === 'missing') {
    return [
      ...findings,
      violation(
        'attributes-class/missing',
        policy,
        path,
        `VolumeAttributesClass ${vac.name} does not exist: provisioning or the modification waits until it does`,
        'warn',
      ),
    ];
  }
  if (
    claim.storageClass.state === 'found' &&
    csiDriverOf(claim.storageClass.info.provisioner) !== vac.info.driverName
  ) {
    findings.push(
      violation(
        'attributes-class/driver',
        policy,
        path,
        `VolumeAttributesClass ${vac.name} is for ${vac.info.driverName}, but class ${claim.storageClass.name} (${classFieldPath(claim)}) is provisioned by ${claim.storageClass.info.provisioner}: the claim would never be provisioned or modified; use a VAC of that driver`,
      ),
    );
  }
  return findings;
}

/** A PersistentVolumeClaim created without a VAC gets the policies' default the engine resolved for it; a template is never written. */
function defaultMutation(context: RuleContext, claim: ReviewedClaim): Mutation | undefined {
  const vac = claim.attributesClass;
  const owner = context.settings.attributesClassDefault;
  if (claim.templateName !== undefined || vac.state !== 'found' || vac.origin !== 'policy-default' || !owner)
    return undefined;
  return {
    rule: 'attributes-class/default',
    policy: owner.policy,
    patch: [setAt(context.object, PATH, vac.name)],
    note: `spec.volumeAttributesClassName set to ${vac.name} (default)`,
  };
}

function validateAttributesClass(context: RuleContext): Finding[] {
  return context.governing.flatMap((policy) => limitFindings(context, policy));
}

function mutateClaims(context: RuleContext): Mutation[] {
  return context.claims.flatMap((claim) => defaultMutation(context, claim) ?? []);
}

function validateClaims(context: RuleContext): Finding[] {
  return context.claims.flatMap((claim) => context.governing.flatMap((policy) => claimFindings(claim, policy)));
}

function describe(policy: Policy, kind: GovernedKind, governing: readonly Policy[]): string[] {
  const lines: string[] = [];
  const overrides = Object.entries(policy.providerLimits?.ebs ?? {}).map(([type, limits]) => {
    const fields = Object.entries(limits).map(([field, value]) => `${field} ${value}`);
    return `${type} ${fields.join(', ')} (${supplier(policy, governing, (candidate) => candidate.providerLimits?.ebs?.[type] !== undefined)})`;
  });
  if (overrides.length > 0) lines.push(`provider limits: ${overrides.join('; ')}`);
  if (kind === 'VolumeAttributesClass')
    return [
      ...lines,
      'EBS VolumeAttributesClasses: type, iops and throughput within the provider limits (every governing policy)',
    ];
  const vacs = policy.volumeAttributesClasses;
  if (vacs?.allowed) lines.push(`allowed VolumeAttributesClasses: ${listOf(vacs.allowed)}`);
  if (vacs?.default !== undefined && kind === 'PersistentVolumeClaim') {
    lines.push(
      `default VolumeAttributesClass: ${vacs.default} (${supplier(policy, governing, (candidate) => candidate.volumeAttributesClasses?.default !== undefined)})`,
    );
  }
  return [
    ...lines,
    'a VolumeAttributesClass of another driver is denied, one that does not exist warned (every governing policy)',
  ];
}

/** The default VolumeAttributesClass is one the policy allows: otherwise every defaulted claim would be denied. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  const vacs = policy.volumeAttributesClasses;
  return vacs?.default !== undefined && vacs.allowed && !vacs.allowed.includes(vacs.default)
    ? [
        {
          path: ['spec', 'volumeAttributesClasses', 'default'],
          message: `default "${vacs.default}" is not in volumeAttributesClasses.allowed (${vacs.allowed.join(', ')}): every defaulted claim would be denied`,
        },
      ]
    : [];
}

/** The default VolumeAttributesClass: the first, in precedence order, that every policy's allowed list accepts. */
export function composeAttributesClasses(
  policies: readonly Policy[],
): Pick<ComposedSettings, 'attributesClassDefault'> {
  const accepted = (name: string): boolean =>
    policies.every((policy) => policy.volumeAttributesClasses?.allowed?.includes(name) ?? true);
  const owner = policies.find(
    (policy) =>
      policy.volumeAttributesClasses?.default !== undefined && accepted(policy.volumeAttributesClasses.default),
  );
  return {
    attributesClassDefault: owner?.volumeAttributesClasses?.default
      ? { policy: owner, name: owner.volumeAttributesClasses.default }
      : undefined,
  };
}

export const attributesClassFamily: RuleFamily = {
  name: 'attributes-class',
  sections: ['volumeAttributesClasses', 'iops', 'providerLimits'],
  ruleIds: [
    'attributes-class/allowed',
    'attributes-class/driver',
    'attributes-class/missing',
    'attributes-class/limits',
  ],
  // What EC2 or external-provisioner refuses whatever a policy says: judged for every governing policy.
  factRules: ['attributes-class/driver', 'attributes-class/missing', 'attributes-class/limits'],
  mutations: [{ id: 'attributes-class/default', serves: [] }],
  claimFields: ['spec.volumeAttributesClassName', 'spec.storageClassName', 'metadata.annotations'],
  describe,
  validate: {
    ...forClaimKinds(validateClaims),
    VolumeAttributesClass: validateAttributesClass,
  },
  mutate: { PersistentVolumeClaim: mutateClaims, StatefulSet: mutateClaims },
  checkPolicy,
};
