import { isEbsProvisioner, readEbsClass } from '../core/ebs.js';
import { formatGiB, parseQuantity, roundUpGiB } from '../core/quantity.js';
import { claimPath } from '../core/storage.js';
import { type GovernedKind } from '../core/kinds.js';
import type { Policy, PolicyProblem } from '../policy/model.js';
import { boundsProblems, classFieldPath, forClaimKinds, lookupFailure, violation } from './common.js';
import type { Finding, RuleContext, RuleFamily } from './contract.js';

function validateClaims(context: RuleContext): Finding[] {
  const findings: Finding[] = [];
  const sizePolicies = context.policies;
  for (const claim of context.claims) {
    const path = claimPath(claim, 'spec', 'resources', 'requests', 'storage');
    for (const policy of sizePolicies) {
      if (claim.requestBytes === undefined) {
        const what =
          claim.requestText === undefined ? 'no storage request' : `"${claim.requestText}" is not a quantity`;
        findings.push(violation('capacity/request-missing', policy, path, `${what}; set a size such as 10Gi`));
        continue;
      }
      const min = policy.capacity?.min;
      const max = policy.capacity?.max;
      const minBytes = min === undefined ? undefined : parseQuantity(min);
      const maxBytes = max === undefined ? undefined : parseQuantity(max);
      if (minBytes !== undefined && claim.requestBytes < minBytes) {
        findings.push(
          violation(
            'capacity/policy-limits',
            policy,
            path,
            `${claim.requestText} is below the policy minimum ${min}; request at least ${min}`,
          ),
        );
      }
      if (maxBytes !== undefined && claim.requestBytes > maxBytes) {
        findings.push(
          violation(
            'capacity/policy-limits',
            policy,
            path,
            `${claim.requestText} is above the policy maximum ${max}; request at most ${max}`,
          ),
        );
      }
    }
    const resolved = claim.storageClass;
    if (resolved.state === 'unknown' && claim.requestBytes !== undefined) {
      for (const policy of sizePolicies)
        findings.push(
          ...lookupFailure(policy, classFieldPath(claim), `size limits of class ${resolved.name}`, resolved.reason),
        );
      continue;
    }
    if (resolved.state !== 'found' || claim.requestBytes === undefined || !isEbsProvisioner(resolved.info.provisioner))
      continue;
    const settings = readEbsClass(resolved.info.provisioner, resolved.info.parameters);
    const limits = context.settings.ebsLimitsFor(settings.type);
    const gib = roundUpGiB(claim.requestBytes);
    if (!limits || (gib >= limits.minGiB && gib <= limits.maxGiB)) continue;
    const bound = gib < limits.minGiB ? `at least ${formatGiB(limits.minGiB)}` : `at most ${formatGiB(limits.maxGiB)}`;
    for (const policy of sizePolicies) {
      findings.push(
        violation(
          'capacity/type-limits',
          policy,
          path,
          `EBS ${settings.type} volumes (class ${resolved.name}) must be ${bound}; ${claim.requestText} provisions ${formatGiB(gib)}`,
        ),
      );
    }
  }
  return findings;
}

function describe(policy: Policy, _kind: GovernedKind): string[] {
  return [
    ...(policy.capacity ? [`size: ${policy.capacity.min ?? '0'} to ${policy.capacity.max ?? 'unbounded'}`] : []),
    'size within the EBS volume type limits (the facts table, or providerLimits)',
  ];
}

/** Bounds in order: a min above the max admits no claim. */
function checkPolicy(policy: Policy): PolicyProblem[] {
  return boundsProblems(policy.capacity, ['spec', 'capacity']);
}

export const capacityFamily: RuleFamily = {
  name: 'capacity',
  // The EBS type limits apply wherever IOPS are judged too, since an IOPS quote needs a valid size.
  sections: ['capacity', 'iops'],
  ruleIds: ['capacity/request-missing', 'capacity/type-limits', 'capacity/policy-limits'],
  factRules: [],
  mutations: [],
  claimFields: ['spec.resources', 'spec.storageClassName', 'metadata.annotations'],
  describe,
  validate: forClaimKinds(validateClaims),
  mutate: {},
  checkPolicy,
};
