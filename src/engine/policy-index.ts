import { GOVERNED_KINDS, isClusterScoped, type GovernedKind } from '../core/kinds.js';
import { known, type ClusterLookup, type Lookup } from '../lookup/lookup.js';
import { byPrecedence, type Policy } from '../policy/model.js';
import { lookupFailure } from '../rules/common.js';
import type { Finding } from '../rules/contract.js';
import { matchByName, matchBySelector } from './matching.js';

/** Stands in for labels when no candidate has a namespaceSelector: never read. */
const NO_LABELS_NEEDED = known<Record<string, string> | undefined>(undefined);

interface KindIndex {
  /** Policies naming a namespace exactly, by that name. */
  exact: Map<string, Policy[]>;
  /** Policies with a glob or no namespace list: tested one by one, their results memoised per namespace. */
  patterned: Policy[];
  byNamespace: Map<string, Policy[]>;
}

const MEMO_LIMIT = 10_000;

interface GoverningPolicies {
  policies: Policy[];
  /** Lookup failures met while matching namespace labels. */
  findings: Finding[];
}

/**
 * Finds the policies that govern an object without scanning every policy: exact namespace names are
 * a map lookup, and glob matches are memoised per namespace. Label selectors are checked per request
 * because namespace labels change while the policy set does not.
 */
export class PolicyIndex {
  private readonly kinds = new Map<GovernedKind, KindIndex>();
  private readonly clusterScoped = new Map<GovernedKind, Policy[]>();

  constructor(readonly policies: readonly Policy[]) {
    for (const kind of GOVERNED_KINDS.filter((governed) => !isClusterScoped(governed))) {
      const index: KindIndex = { exact: new Map(), patterned: [], byNamespace: new Map() };
      for (const policy of policies) {
        if (!policy.match.kinds.includes(kind)) continue;
        const names = policy.match.namespaces;
        if (!names || names.some((name) => name.includes('*') || name.includes('?'))) {
          index.patterned.push(policy);
          continue;
        }
        for (const name of names) {
          const list = index.exact.get(name) ?? [];
          list.push(policy);
          index.exact.set(name, list);
        }
      }
      this.kinds.set(kind, index);
    }
    for (const kind of GOVERNED_KINDS.filter(isClusterScoped))
      this.clusterScoped.set(kind, policies.filter((policy) => policy.match.kinds.includes(kind)).sort(byPrecedence));
  }

  private candidates(kind: GovernedKind, namespace: string): Policy[] {
    const index = this.kinds.get(kind);
    if (!index) return [];
    let list = index.byNamespace.get(namespace);
    if (!list) {
      list = [...(index.exact.get(namespace) ?? []), ...index.patterned]
        .filter((policy) => matchByName(policy, kind, namespace).governs)
        .sort(byPrecedence);
      if (index.byNamespace.size >= MEMO_LIMIT) index.byNamespace.clear();
      index.byNamespace.set(namespace, list);
    }
    return list;
  }

  match(kind: GovernedKind, namespace: string, lookup: ClusterLookup): GoverningPolicies {
    if (isClusterScoped(kind)) return { policies: this.clusterScoped.get(kind) ?? [], findings: [] };
    const candidates = this.candidates(kind, namespace);
    if (!candidates.some((policy) => policy.match.namespaceSelector)) return { policies: candidates, findings: [] };
    const policies: Policy[] = [];
    const findings: Finding[] = [];
    let labels: Lookup<Record<string, string> | undefined> | undefined;
    for (const policy of candidates) {
      if (policy.match.namespaceSelector) labels ??= lookup.namespaceLabels(namespace);
      const step = matchBySelector(policy, namespace, labels ?? NO_LABELS_NEEDED);
      if (step.lookupFailed !== undefined) {
        findings.push(
          ...lookupFailure(
            policy,
            'metadata.namespace',
            `whether policy ${policy.name} governs namespace ${namespace}`,
            step.lookupFailed,
          ),
        );
      }
      if (step.governs) policies.push(policy);
    }
    return { policies, findings };
  }
}
