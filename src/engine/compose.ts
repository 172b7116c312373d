import { ebsLimits } from '../core/ebs.js';
import { DEFAULT_PRICES, type PriceTable } from '../core/prices.js';
import type { Claim } from '../core/storage.js';
import type { DefaultClassChoice, Policy } from '../policy/model.js';
import type { ComposedSettings } from '../rules/contract.js';

// How several policies that govern one object combine. The one place that decides it; docs/policies.md
// ("Several policies on one object") says the same in prose.
//
// Judging settings are never merged: each policy judges the object on its own, each finding carries its
// policy and its action, and the object must satisfy them all. So allowed lists intersect and limits
// take the tightest by construction. What mutates must therefore be chosen so that every policy accepts
// it, or the webhook would deny its own patch:
//   - storageClasses.allowed: the intersection of every allow list; storageClasses.denied: the union;
//   - storageClasses.defaults: the first applicable choice, in precedence order, whose class those
//     accept (a higher-priority default another policy forbids is passed over);
//   - storageClasses.fallback: likewise, the first fallback every policy accepts;
//   - volumeAttributesClasses.default: the first default every policy's allowed list accepts;
//   - zones.allowed: the intersection; pods are pinned to it, and a class gets allowedTopologies of it;
//     pinStatefulSets is on when any zone policy wants it, addAllowedTopologies likewise;
//   - iops.annotateQuote: the highest-precedence IOPS policy that annotates writes the quotes;
//   - providerLimits.ebs.<type>: the highest-precedence policy that overrides a type sets its limits (fields
//     it leaves out keep the facts table's); one set of provider facts per object, whichever policy judges.
//   - prices.ebs.<type>, prices.efs: the highest-precedence policy that prices a type sets its price (the built-in
//     table otherwise), so one claim has one quote whichever policy's budget reads it; the currency is that of
//     the highest-precedence policy with prices.

/** The built-in table with, per type, the highest-precedence policy's price; and which policy set each. */
function composePrices(policies: readonly Policy[]): { table: PriceTable; setBy: Record<string, string> } {
  const table: PriceTable = { ...DEFAULT_PRICES, ebs: { ...DEFAULT_PRICES.ebs } };
  const setBy: Record<string, string> = {};
  const priced = policies.filter((policy) => policy.prices !== undefined);
  table.currency = priced[0]?.prices?.currency ?? DEFAULT_PRICES.currency;
  for (const policy of [...priced].reverse()) {
    for (const [type, price] of Object.entries(policy.prices?.ebs ?? {})) {
      table.ebs[type] = price;
      setBy[type] = policy.name;
    }
    if (policy.prices?.efs) {
      table.efs = policy.prices.efs;
      setBy['efs'] = policy.name;
    }
  }
  return { table, setBy };
}

function choiceApplies(choice: DefaultClassChoice, claim: Claim): boolean {
  if (choice.whenVolumeMode && choice.whenVolumeMode !== claim.volumeMode) return false;
  if (choice.whenAccessModes && !choice.whenAccessModes.some((mode) => claim.accessModes.includes(mode))) return false;
  return true;
}

function intersection(lists: ReadonlyArray<readonly string[]>): string[] | undefined {
  const [first, ...rest] = lists;
  if (!first) return undefined;
  return first.filter((value, index) => first.indexOf(value) === index && rest.every((list) => list.includes(value)));
}

/** `policies` in precedence order, as the index returns them. */
export function composeSettings(policies: readonly Policy[]): ComposedSettings {
  const allowedClasses = intersection(
    policies.flatMap((policy) => (policy.storageClasses?.allowed ? [policy.storageClasses.allowed] : [])),
  );
  const deniedClasses = [...new Set(policies.flatMap((policy) => policy.storageClasses?.denied ?? []))];
  const classAccepted = (name: string): boolean =>
    (!allowedClasses || allowedClasses.includes(name)) && !deniedClasses.includes(name);
  const fallbackOwner = policies.find(
    (policy) => policy.storageClasses?.fallback !== undefined && classAccepted(policy.storageClasses.fallback),
  );
  const attributesClassAccepted = (name: string): boolean =>
    policies.every((policy) => policy.volumeAttributesClasses?.allowed?.includes(name) ?? true);
  const attributesClassOwner = policies.find(
    (policy) =>
      policy.volumeAttributesClasses?.default !== undefined &&
      attributesClassAccepted(policy.volumeAttributesClasses.default),
  );
  const zonePolicies = policies.filter((policy) => policy.zones !== undefined);
  const [zonePolicy] = zonePolicies;
  const zones = zonePolicy
    ? {
        allowed: intersection(zonePolicies.map((policy) => policy.zones?.allowed ?? [])) ?? [],
        policy: zonePolicy,
        pinStatefulSets: zonePolicies.some((policy) => policy.zones?.pinStatefulSets !== false),
        addAllowedTopologies: zonePolicies.some((policy) => policy.zones?.addAllowedTopologies === true),
      }
    : undefined;
  return {
    admissibleClasses: allowedClasses?.filter((name) => !deniedClasses.includes(name)),
    classAccepted,
    fallback: fallbackOwner?.storageClasses?.fallback
      ? { policy: fallbackOwner, class: fallbackOwner.storageClasses.fallback }
      : undefined,
    attributesClassDefault: attributesClassOwner?.volumeAttributesClasses?.default
      ? { policy: attributesClassOwner, name: attributesClassOwner.volumeAttributesClasses.default }
      : undefined,
    defaultClassFor(claim) {
      for (const policy of policies) {
        for (const choice of policy.storageClasses?.defaults ?? []) {
          if (!choiceApplies(choice, claim)) continue;
          if (!classAccepted(choice.class)) continue;
          return { policy, choice };
        }
      }
      return undefined;
    },
    zones,
    quoteAnnotator: policies.find((policy) => policy.iops !== undefined && policy.iops.annotateQuote !== false),
    prices: composePrices(policies),
    ebsLimitsFor(type) {
      const owner = policies.find((policy) => policy.providerLimits?.ebs?.[type] !== undefined);
      const limits = owner?.providerLimits?.ebs?.[type];
      return ebsLimits(type, owner && limits ? { policy: owner.name, limits } : undefined);
    },
  };
}
