import { globMatches } from '../core/selectors.js';
import type { SourceProblem } from '../io/yaml.js';
import type { Policy } from './model.js';

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
export function claimsMayOverlap(a: Policy, b: Policy): boolean {
  const kinds = a.match.kinds.filter((kind) => kind !== 'StorageClass' && b.match.kinds.includes(kind));
  if (kinds.length === 0) return false;
  const [na, nb] = [a.match.namespaces, b.match.namespaces];
  if (!na || !nb) {
    const literals = (na ?? nb ?? []).filter((pattern) => !isGlob(pattern));
    const other = na ? b : a;
    const listed = na ?? nb;
    // One policy names only exact namespaces and the other excludes all of them: no overlap.
    if (listed && literals.length === listed.length && literals.every((namespace) => excluded(other, namespace))) return false;
    return true;
  }
  return na.some((pa) => nb.some((pb) => patternsMayOverlap(pa, pb) && !(!isGlob(pa) && (excluded(b, pa) || excluded(a, pa))) && !(!isGlob(pb) && (excluded(a, pb) || excluded(b, pb)))));
}

/**
 * Checks across policies: two policies that may govern the same claim and set different defaults
 * are an error, since which default a claim gets would then hang on priorities nobody reviewed together.
 */
export function lintPolicies(policies: readonly Policy[]): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const withDefaults = policies.filter((policy) => policy.storageClasses?.defaults);
  for (let i = 0; i < withDefaults.length; i += 1) {
    for (let j = i + 1; j < withDefaults.length; j += 1) {
      const [a, b] = [withDefaults[i] as Policy, withDefaults[j] as Policy];
      if (JSON.stringify(a.storageClasses?.defaults) === JSON.stringify(b.storageClasses?.defaults)) continue;
      if (!claimsMayOverlap(a, b)) continue;
      problems.push({
        file: b.file,
        field: 'spec.storageClasses.defaults',
        message: `policy ${b.name} and policy ${a.name} (${a.file}) may both govern the same claims and set different defaults; narrow one's match.namespaces or add the other's namespaces to excludeNamespaces`,
      });
    }
  }
  return problems;
}
