import { globMatches } from '../core/selectors.js';
import type { SourceProblem } from '../io/yaml.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import { isClusterScoped } from '../core/kinds.js';
import { POLICY_SECTIONS, type Policy, type PolicyException, type RuleId } from '../policy/model.js';
import { configures, kindsOf, type LintReport } from '../rules/contract.js';
import { familyOfRule, RULE_FAMILIES } from '../rules/registry.js';

interface LintProblem extends SourceProblem {
  severity: 'error' | 'warning';
  check: string;
}

/** Why a policy can never report a rule, from what its family declares (kinds, sections, facts); undefined if it can. */
function whyNeverReported(policy: Policy, rule: RuleId): string | undefined {
  const family = familyOfRule(rule);
  if (!family) return undefined;
  const kinds = kindsOf(family);
  if (!kinds.some((kind) => policy.match.kinds.includes(kind)))
    return `${family.name} judges ${kinds.join(', ')} and match.kinds has none of them`;
  if (family.factRules.includes(rule) || configures(policy, family)) return undefined;
  return `the policy has no ${family.sections.join(' or ')} section`;
}

type Locate = (policy: Policy, path: Array<string | number>) => { line: number; column: number } | undefined;

function isGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

function literalPrefix(pattern: string): string {
  const wildcard = pattern.search(/[*?]/);
  return wildcard < 0 ? pattern : pattern.slice(0, wildcard);
}

/** Whether some namespace could match both patterns; globs against globs are judged by their literal prefixes. */
function patternsMayOverlap(a: string, b: string): boolean {
  if (!isGlob(a)) return globMatches(b, a);
  if (!isGlob(b)) return globMatches(a, b);
  const [pa, pb] = [literalPrefix(a), literalPrefix(b)];
  return pa.startsWith(pb) || pb.startsWith(pa);
}

function excluded(policy: Policy, namespace: string): boolean {
  return (policy.match.excludeNamespaces ?? []).some((pattern) => globMatches(pattern, namespace));
}

/** Whether two policies may govern a claim in the same namespace. Label selectors are assumed to overlap. */
function claimsMayOverlap(a: Policy, b: Policy): boolean {
  const kinds = a.match.kinds.filter((kind) => !isClusterScoped(kind) && b.match.kinds.includes(kind));
  if (kinds.length === 0) return false;
  const [na, nb] = [a.match.namespaces, b.match.namespaces];
  if (!na || !nb) {
    const listed = na ?? nb ?? [];
    const other = na ? b : a;
    // One policy names only exact namespaces and the other excludes all of them: no overlap.
    return !(listed.length > 0 && listed.every((namespace) => !isGlob(namespace) && excluded(other, namespace)));
  }
  const reachable = (pattern: string): boolean => isGlob(pattern) || (!excluded(a, pattern) && !excluded(b, pattern));
  return na.some((pa) => nb.some((pb) => patternsMayOverlap(pa, pb) && reachable(pa) && reachable(pb)));
}

/**
 * Checks across a policy set that the schema cannot make. What every family declares is checked here (a section for
 * kinds the policy does not govern, a rule override that never fires); what only a family knows is its lint hooks
 * (RuleFamily.lint: defaults that conflict or would be denied, classes the cluster does not have), called for each
 * policy, each pair that may govern the same claims, and the inventory; warn/audit rules need an owner.
 */
export function lintPolicies(
  policies: readonly Policy[],
  options: { locate?: Locate; inventory?: ClusterLookup; now?: number; exceptions?: readonly PolicyException[] } = {},
): LintProblem[] {
  const problems: LintProblem[] = [];
  const report: LintReport = (severity, check, policy, path, message) => {
    problems.push({
      severity,
      check,
      file: policy.file,
      ...options.locate?.(policy, path),
      field: path.join('.').replace(/\.(\d+)/g, '[$1]'),
      message: `${message} [policy ${policy.name}]`,
    });
  };

  // Pairs that may govern the same claims, for the families' checks of what two policies leave admissible. Pairs
  // only: three lists can be pairwise compatible and still share nothing, which the webhook then reports per claim.
  for (const [i, a] of policies.entries())
    for (const b of policies.slice(i + 1))
      if (claimsMayOverlap(a, b)) for (const family of RULE_FAMILIES) family.lint?.pair?.(a, b, report);

  const optInSections = RULE_FAMILIES.flatMap((family) => family.lint?.optInSections ?? []);
  for (const policy of policies) {
    const governsClaims = policy.match.kinds.some((kind) => !isClusterScoped(kind));
    for (const section of optInSections) {
      const value = policy[section];
      if (value !== undefined && Object.keys(value).length === 0) {
        report(
          'warning',
          'empty-section',
          policy,
          ['spec', section],
          `${section} is empty: nothing is set (storageClasses: only the default missing-class warning applies); add the settings you meant or remove it`,
        );
      }
    }
    for (const section of POLICY_SECTIONS) {
      const kinds = [...new Set(RULE_FAMILIES.filter((family) => family.sections.includes(section)).flatMap(kindsOf))];
      if (policy[section] !== undefined && !kinds.some((kind) => policy.match.kinds.includes(kind))) {
        report(
          'error',
          'never-applies',
          policy,
          ['spec', section],
          `${section} judges ${kinds.join(', ')}; add one to match.kinds (${policy.match.kinds.join(', ')})`,
        );
      }
    }
    for (const family of RULE_FAMILIES) family.lint?.policy?.(policy, report);
    const names = policy.match.namespaces;
    if (governsClaims && names && names.length > 0 && names.every((name) => !isGlob(name) && excluded(policy, name))) {
      report(
        'error',
        'never-applies',
        policy,
        ['spec', 'match', 'namespaces'],
        'every listed namespace is also in excludeNamespaces',
      );
    }
    for (const rule of Object.keys(policy.rules) as RuleId[]) {
      const why = whyNeverReported(policy, rule);
      if (why) report('warning', 'never-fires', policy, ['spec', 'rules', rule], `${why}, so ${rule} never fires`);
    }
    if (policy.enforceFrom !== undefined && Date.parse(policy.enforceFrom) <= (options.now ?? Date.now())) {
      report(
        'warning',
        'enforce-from-past',
        policy,
        ['spec', 'enforceFrom'],
        `${policy.enforceFrom} has passed: the policy denies now; remove enforceFrom`,
      );
    }
    const softened = policy.action !== 'deny' || Object.values(policy.rules).some((action) => action !== 'deny');
    if (softened && !policy.owner) {
      report(
        'warning',
        'owner',
        policy,
        ['metadata'],
        'warn and audit rules need someone to act on them: add the annotation storage-policy-webhook.io/owner',
      );
    }
    const { inventory } = options;
    if (inventory) for (const family of RULE_FAMILIES) family.lint?.inventory?.(policy, inventory, report);
  }
  problems.push(...lintExceptions(policies, options.exceptions ?? [], options.now ?? Date.now()));
  return problems;
}

/** Does some name match both lists of names or globs (absent: any)? */
function listsMayOverlap(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || !b) return true;
  return a.some((pa) => b.some((pb) => patternsMayOverlap(pa, pb)));
}

/** Exceptions that name what does not exist, have run out, or cover what another already covers. */
function lintExceptions(
  policies: readonly Policy[],
  exceptions: readonly PolicyException[],
  now: number,
): LintProblem[] {
  const problems: LintProblem[] = [];
  const report = (
    severity: LintProblem['severity'],
    check: string,
    exception: PolicyException,
    field: string,
    message: string,
  ): void => {
    problems.push({
      severity,
      check,
      file: exception.file,
      field,
      message: `${message} [exception ${exception.name}]`,
    });
  };
  exceptions.forEach((exception, index) => {
    if (exception.expiresAt !== undefined && Date.parse(exception.expiresAt) <= now)
      report(
        'warning',
        'exception-expired',
        exception,
        'spec.expiresAt',
        `expired ${exception.expiresAt}: it exempts nothing; remove it`,
      );
    exception.policies.forEach((entry, entryIndex) => {
      const policy = policies.find((candidate) => candidate.name === entry.name);
      if (!policy)
        return report(
          'error',
          'exception-unknown-policy',
          exception,
          `spec.policies[${entryIndex}].name`,
          `no policy ${entry.name} in the set`,
        );
      for (const rule of entry.rules ?? []) {
        const why = whyNeverReported(policy, rule);
        if (why)
          report(
            'warning',
            'exception-never-applies',
            exception,
            `spec.policies[${entryIndex}].rules`,
            `policy ${entry.name}: ${why}, so it never reports ${rule}`,
          );
      }
    });
    for (const other of exceptions.slice(index + 1)) {
      const shared = exception.policies.filter((entry) =>
        other.policies.some(
          (theirs) =>
            theirs.name === entry.name &&
            (!entry.rules || !theirs.rules || entry.rules.some((rule) => theirs.rules?.includes(rule))),
        ),
      );
      const kinds =
        !exception.match.kinds ||
        !other.match.kinds ||
        exception.match.kinds.some((kind) => other.match.kinds?.includes(kind));
      if (
        shared.length > 0 &&
        kinds &&
        listsMayOverlap(exception.match.namespaces, other.match.namespaces) &&
        listsMayOverlap(exception.match.names, other.match.names)
      ) {
        report(
          'warning',
          'exception-overlap',
          exception,
          'spec.match',
          `may cover the same objects and rules of ${shared.map((entry) => entry.name).join(', ')} as exception ${other.name}: one owner per exemption`,
        );
      }
    }
  });
  return problems;
}
