import { globMatches, selectorMatches } from '../core/selectors.js';
import { isClusterScoped, type GovernedKind } from '../core/kinds.js';
import type { Lookup } from '../lookup/lookup.js';
import type { Policy } from '../policy/model.js';

// Whether a policy governs an object of a kind in a namespace, with the clause that decides. The policy
// index (every request) and `storage-policy explain` both ask here, so they cannot disagree.

type MatchStep = { governs: boolean; reason: string };

/** Kind, namespace names and exclusions: what depends only on the policy and the namespace's name. */
export function matchByName(policy: Policy, kind: GovernedKind, namespace: string): MatchStep {
  if (!policy.match.kinds.includes(kind))
    return { governs: false, reason: `match.kinds is ${policy.match.kinds.join(', ')}, not ${kind}` };
  if (isClusterScoped(kind))
    return { governs: true, reason: `${kind} is cluster-scoped: namespace criteria do not apply` };
  const names = policy.match.namespaces;
  const hit = names ? names.find((pattern) => globMatches(pattern, namespace)) : undefined;
  if (names && hit === undefined)
    return { governs: false, reason: `namespace ${namespace} matches none of match.namespaces (${names.join(', ')})` };
  const exclusion = (policy.match.excludeNamespaces ?? []).find((pattern) => globMatches(pattern, namespace));
  if (exclusion !== undefined)
    return { governs: false, reason: `excludeNamespaces ${exclusion} excludes ${namespace}` };
  if (hit === undefined) return { governs: true, reason: 'no match.namespaces: every namespace' };
  return {
    governs: true,
    reason:
      hit === namespace
        ? `match.namespaces names ${namespace}`
        : `match.namespaces pattern ${hit} matches ${namespace}`,
  };
}

/**
 * The namespaceSelector against the namespace's labels. Unknown labels (cache not synced) follow the
 * policy's lookupFailure: deny applies the policy anyway; warn and allow skip it.
 */
export function matchBySelector(
  policy: Policy,
  namespace: string,
  labels: Lookup<Record<string, string> | undefined>,
): MatchStep & { lookupFailed?: string } {
  const selector = policy.match.namespaceSelector;
  if (!selector) return { governs: true, reason: 'no namespaceSelector' };
  if (!labels.known) {
    const governs = policy.lookupFailure === 'deny';
    return {
      governs,
      lookupFailed: labels.reason,
      reason: `namespaceSelector needs the labels of ${namespace}, which are unknown (${labels.reason}); lookupFailure ${policy.lookupFailure} ${governs ? 'applies' : 'skips'} the policy`,
    };
  }
  const matched = selectorMatches(selector, labels.value ?? {});
  const shown =
    Object.entries(labels.value ?? {})
      .map(([key, value]) => `${key}=${value}`)
      .join(', ') || 'none';
  return {
    governs: matched,
    reason: `namespaceSelector ${matched ? 'matches' : 'does not match'} the labels (${shown})`,
  };
}
