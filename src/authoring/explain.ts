import { matchByName, matchBySelector } from '../engine/matching.js';
import { isClusterScoped, type GovernedKind } from '../core/kinds.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import { globMatches } from '../core/selectors.js';
import { exemptionNote, isActive } from '../engine/exceptions.js';
import { byPrecedence, type Policy, type PolicyException } from '../policy/model.js';
import { configures, hasFacts, kindsOf, type DescribeScope } from '../rules/contract.js';
import { composeSettings } from '../rules/registry.js';
import { RULE_FAMILIES } from '../rules/registry.js';

interface Explanation {
  policy: Policy;
  governs: boolean;
  /** Why it does or does not govern, one clause each. */
  reasons: string[];
  /** What it does there, one line per family, when it governs. */
  effects: string[];
}

function matchReasons(
  policy: Policy,
  kind: GovernedKind,
  namespace: string,
  lookup: ClusterLookup,
): { governs: boolean; reasons: string[] } {
  const byName = matchByName(policy, kind, namespace);
  if (!byName.governs || isClusterScoped(kind)) return { governs: byName.governs, reasons: [byName.reason] };
  const reasons = [`match.kinds includes ${kind}`, byName.reason];
  if (!policy.match.namespaceSelector) return { governs: true, reasons };
  const bySelector = matchBySelector(policy, namespace, lookup.namespaceLabels(namespace));
  return { governs: bySelector.governs, reasons: [...reasons, bySelector.reason] };
}

/** What a governing policy does to objects of a kind: each family's own account of itself, then the policy-wide settings. */
function effectsOf(policy: Policy, kind: GovernedKind, governing: Policy[], scope: DescribeScope): string[] {
  const effects = RULE_FAMILIES.filter(
    (family) => kindsOf(family).includes(kind) && (configures(policy, family) || hasFacts(family)),
  ).flatMap((family) => family.describe(policy, kind, governing, scope));
  const overrides = Object.entries(policy.rules).map(([rule, action]) => `${rule}=${action}`);
  const enforced = policy.enforceFrom === undefined ? '' : `; denies from ${policy.enforceFrom}`;
  effects.push(
    `action: ${policy.action}${overrides.length ? ` (overrides: ${overrides.join(', ')})` : ''}; lookupFailure: ${policy.lookupFailure}${enforced}`,
  );
  return effects;
}

/** Which policies govern objects of a kind in a namespace, why, and what each does there. */
export function explain(
  policies: readonly Policy[],
  namespace: string,
  kind: GovernedKind,
  lookup: ClusterLookup,
): Explanation[] {
  const ordered = [...policies].sort(byPrecedence);
  const matched = ordered.map((policy) => ({ policy, ...matchReasons(policy, kind, namespace, lookup) }));
  const governing = matched.filter((entry) => entry.governs).map((entry) => entry.policy);
  const scope = { namespace, lookup, settings: composeSettings(governing) };
  return matched.map((entry) => ({
    ...entry,
    effects: entry.governs ? effectsOf(entry.policy, kind, governing, scope) : [],
  }));
}

/** The active exceptions that may cover objects of a kind in a namespace (by kind and namespace; names and labels decide per object). */
export function exceptionsFor(
  exceptions: readonly PolicyException[],
  namespace: string,
  kind: GovernedKind,
  now: number,
): string[] {
  return exceptions
    .filter((exception) => isActive(exception, now) && (!exception.match.kinds || exception.match.kinds.includes(kind)))
    .filter((exception) =>
      isClusterScoped(kind)
        ? !exception.match.namespaces
        : !exception.match.namespaces || exception.match.namespaces.some((pattern) => globMatches(pattern, namespace)),
    )
    .map((exception) => {
      const what = exception.policies
        .map((entry) => `${entry.name}${entry.rules ? ` (${entry.rules.join(', ')})` : ' (every rule)'}`)
        .join('; ');
      const which = [
        exception.match.names ? `names ${exception.match.names.join(', ')}` : '',
        exception.match.labelSelector ? 'a label selector' : '',
      ]
        .filter(Boolean)
        .join(' and ');
      return `${exemptionNote(exception, now)}: ${what}${which ? `, for ${which}` : ''}`;
    });
}

export function formatExplanation(
  explanations: Explanation[],
  namespace: string,
  kind: GovernedKind,
  exceptions: string[] = [],
): string {
  const lines = [
    `${kind} in ${isClusterScoped(kind) ? 'the cluster' : `namespace ${namespace}`}: ${explanations.filter((entry) => entry.governs).length} of ${explanations.length} policies govern (highest precedence first)`,
  ];
  for (const entry of explanations) {
    lines.push(
      '',
      `${entry.governs ? 'GOVERNS' : 'skips  '} ${entry.policy.name} (priority ${entry.policy.priority}, ${entry.policy.file})${entry.policy.owner ? `, owner ${entry.policy.owner}` : ''}`,
    );
    entry.reasons.forEach((reason) => lines.push(`  - ${reason}`));
    entry.effects.forEach((effect) => lines.push(`  * ${effect}`));
  }
  if (exceptions.length > 0)
    lines.push(
      '',
      `${exceptions.length} exception(s) may apply here:`,
      ...exceptions.map((exception) => `  ! ${exception}`),
    );
  return lines.join('\n');
}
