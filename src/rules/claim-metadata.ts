import { claimPath } from '../core/storage.js';
import type { MetadataRequirement, Policy } from '../policy/model.js';
import { emptyResult, type Finding, type ReviewedClaim, type RuleContext, type RuleFamily, type RuleResult } from './contract.js';

// Labels and annotations every claim must carry (an owner, a cost centre, an NFS storage path), on
// PersistentVolumeClaims and on each StatefulSet template (its claims inherit the template's metadata).

function matchesWhole(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`, 'u').test(value);
}

function requirementFinding(claim: ReviewedClaim, policy: Policy, requirement: MetadataRequirement): Finding | undefined {
  const className = claim.storageClass.state === 'no-class' ? undefined : claim.storageClass.name;
  if (requirement.whenClasses && (className === undefined || !requirement.whenClasses.includes(className))) return undefined;
  const [what, key, map] = requirement.label !== undefined ? (['label', requirement.label, claim.labels] as const) : (['annotation', requirement.annotation ?? '', claim.annotations] as const);
  const value = map[key];
  const path = claimPath(claim, 'metadata', what === 'label' ? 'labels' : 'annotations', key);
  if (value === undefined) {
    if (requirement.ifPresent) return undefined;
    return { rule: 'claim-metadata/required', policy, path, message: `the ${what} ${key} is required${requirement.pattern ? ` (matching ${requirement.pattern})` : ''}`, severity: 'violation' };
  }
  if (requirement.pattern === undefined || matchesWhole(requirement.pattern, value)) return undefined;
  return { rule: 'claim-metadata/required', policy, path, message: `${JSON.stringify(value)} does not match ${requirement.pattern}`, severity: 'violation' };
}

function evaluate(context: RuleContext): RuleResult {
  const result = emptyResult();
  if (context.phase === 'mutate') return result;
  for (const policy of context.policies) {
    for (const requirement of policy.claimMetadata?.required ?? []) {
      for (const claim of context.claims) {
        const finding = requirementFinding(claim, policy, requirement);
        if (finding) result.findings.push(finding);
      }
    }
  }
  return result;
}

export const claimMetadataFamily: RuleFamily = {
  name: 'claim-metadata',
  sections: ['claimMetadata'],
  ruleIds: ['claim-metadata/required'],
  kinds: ['PersistentVolumeClaim', 'StatefulSet'],
  mutates: false,
  claimFields: ['metadata.labels', 'metadata.annotations', 'spec.storageClassName'],
  evaluate,
};
