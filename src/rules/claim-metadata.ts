import { claimPath } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import type { MetadataRequirement, Policy, PolicyProblem } from '../policy/model.js';
import { forClaimKinds, listOf, matchesWhole, patternProblems, violation } from './common.js';
import { type Finding, type ReviewedClaim, type RuleContext, type RuleFamily } from './contract.js';

// Labels and annotations every claim must carry (an owner, a cost centre, an NFS storage path), on
// PersistentVolumeClaims and on each StatefulSet template (its claims inherit the template's metadata).

function requirementFinding(
  claim: ReviewedClaim,
  policy: Policy,
  requirement: MetadataRequirement,
): Finding | undefined {
  const className = claim.storageClass.state === 'no-class' ? undefined : claim.storageClass.name;
  if (requirement.whenClasses && (className === undefined || !requirement.whenClasses.includes(className)))
    return undefined;
  const [what, key, map] =
    requirement.label !== undefined
      ? (['label', requirement.label, claim.labels] as const)
      : (['annotation', requirement.annotation ?? '', claim.annotations] as const);
  const value = map[key];
  const path = claimPath(claim, 'metadata', what === 'label' ? 'labels' : 'annotations', key);
  if (value === undefined) {
    if (requirement.ifPresent) return undefined;
    return violation(
      'claim-metadata/required',
      policy,
      path,
      `the ${what} ${key} is required${requirement.pattern ? ` (matching ${requirement.pattern})` : ''}`,
    );
  }
  if (requirement.pattern === undefined || matchesWhole(requirement.pattern, value)) return undefined;
  return violation(
    'claim-metadata/required',
    policy,
    path,
    `${JSON.stringify(value)} does not match ${requirement.pattern}`,
  );
}

function validateClaims(context: RuleContext): Finding[] {
  const findings: Finding[] = [];
  for (const policy of context.policies) {
    for (const requirement of policy.claimMetadata?.required ?? []) {
      for (const claim of context.claims) {
        const finding = requirementFinding(claim, policy, requirement);
        if (finding) findings.push(finding);
      }
    }
  }
  return findings;
}

function describe(policy: Policy, _kind: GovernedKind): string[] {
  return (policy.claimMetadata?.required ?? []).map((requirement) => {
    const key =
      requirement.label !== undefined ? `label ${requirement.label}` : `annotation ${requirement.annotation ?? ''}`;
    const pattern = requirement.pattern ? ` matching ${requirement.pattern}` : '';
    return `claims need the ${key}${pattern}${requirement.ifPresent ? ' (when present)' : ''}${requirement.whenClasses ? ` on ${listOf(requirement.whenClasses)}` : ''}`;
  });
}

/** Each requirement names one key (a label or an annotation), and its pattern compiles. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  return (policy.claimMetadata?.required ?? []).flatMap((requirement, index) => {
    const path = ['spec', 'claimMetadata', 'required', index];
    return [
      ...((requirement.label === undefined) === (requirement.annotation === undefined)
        ? [{ path, message: 'name exactly one of label or annotation' }]
        : []),
      ...patternProblems(requirement.pattern, [...path, 'pattern']),
    ];
  });
}

export const claimMetadataFamily: RuleFamily = {
  name: 'claim-metadata',
  sections: ['claimMetadata'],
  ruleIds: ['claim-metadata/required'],
  factRules: [],
  mutations: [],
  claimFields: ['metadata.labels', 'metadata.annotations', 'spec.storageClassName'],
  describe,
  validate: forClaimKinds(validateClaims),
  mutate: {},
  checkPolicy,
};
