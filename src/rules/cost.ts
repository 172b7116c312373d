import { csiDriverOf } from '../core/capabilities.js';
import { effectiveParameters, isEbsProvisioner, provisionedBy, readEbsClass } from '../core/ebs.js';
import { parseDuration } from '../core/duration.js';
import { objectAt } from '../core/json.js';
import { pointer, setAt, type PatchOperation } from '../core/patch.js';
import {
  DEFAULT_PRICES,
  formatCost,
  type PricedVolume,
  type PriceTable,
  type Quote,
  quoteMonthly,
} from '../core/prices.js';
import { parseQuantity, roundUpGiB } from '../core/quantity.js';
import { unusedSince } from '../core/volumes.js';
import { claimPath, type AttributesClassInfo, type StorageClassInfo } from '../core/storage.js';
import type { Policy } from '../policy/model.js';
import { advice, claimNamesOf, forClaimKinds, lookupFailure, violation } from './common.js';
import type { VolumeMeasure } from '../lookup/lookup.js';
import type {
  ComposedSettings,
  DescribeScope,
  Finding,
  Mutation,
  ReviewedClaim,
  RuleContext,
  RuleFamily,
} from './contract.js';
import type { GovernedKind } from '../core/kinds.js';

// What a claim costs a month at list prices (core/prices.ts, or a policy's prices), and budgets in money. A claim
// gets the quote as an annotation with its IOPS quote; a template (a StatefulSet's, a pod's generic ephemeral
// volume) is quoted per claim and for its replicas, as a warning, since templates are never written. The namespace
// total is its existing claims from the live cache, as the IOPS budget's.

const COST_ANNOTATION = 'storage-policy-webhook.io/monthly-cost';

const GIB = 1024 ** 3;

/** What a claim provisions, for pricing: EBS by the class (and VAC) as the driver creates it; EFS by the request. */
export function pricedVolume(
  storageClass: StorageClassInfo | undefined,
  attributes: AttributesClassInfo | undefined,
  requestBytes: number | undefined,
): PricedVolume | undefined {
  if (!storageClass || requestBytes === undefined || requestBytes <= 0) return undefined;
  if (csiDriverOf(storageClass.provisioner) === 'efs.csi.aws.com')
    return { kind: 'efs', type: 'standard', gib: requestBytes / GIB, iops: 0, throughputMiBps: 0 };
  if (!isEbsProvisioner(storageClass.provisioner)) return undefined;
  const vac = attributes?.driverName === 'ebs.csi.aws.com' ? attributes.parameters : undefined;
  const settings = readEbsClass(storageClass.provisioner, effectiveParameters(storageClass.parameters, vac));
  const { iops, throughputMiBps } = provisionedBy(storageClass, vac ? attributes : undefined, requestBytes);
  return { kind: 'ebs', type: settings.type, gib: roundUpGiB(requestBytes), iops, throughputMiBps };
}

function claimQuote(claim: ReviewedClaim, table: PriceTable): Quote | undefined {
  const storageClass = claim.storageClass.state === 'found' ? claim.storageClass.info : undefined;
  const attributes = claim.attributesClass.state === 'found' ? claim.attributesClass.info : undefined;
  const volume = pricedVolume(storageClass, attributes, claim.requestBytes);
  return volume && quoteMonthly(volume, table);
}

/** Per price table, one function pricing an existing claim, so the cache memoises the namespace's sum per table. */
const monthlyCostIn = new WeakMap<PriceTable, VolumeMeasure>();

function measureFor(table: PriceTable): VolumeMeasure {
  let measure = monthlyCostIn.get(table);
  if (!measure) {
    measure = (volume) => {
      const priced = pricedVolume(volume.storageClass, volume.attributesClass, volume.requestBytes);
      return (priced && quoteMonthly(priced, table)?.total) ?? 0;
    };
    monthlyCostIn.set(table, measure);
  }
  return measure;
}

/** The monthly cost of the namespace's other claims; the reason when the cache cannot say. */
function existingCost(context: RuleContext): { total: number } | { reason: string } {
  const sum = context.lookup.namespaceTotal(
    context.namespace,
    claimNamesOf(context.claims),
    measureFor(context.settings.prices.table),
  );
  return sum.known ? { total: sum.value } : { reason: sum.reason };
}

function money(amount: number, table: PriceTable): string {
  return formatCost(amount, table.currency);
}

function budgetFindings(
  context: RuleContext,
  policy: Policy,
  quotes: Array<{ claim: ReviewedClaim; quote: Quote }>,
): Finding[] {
  const budget = policy.cost;
  const table = context.settings.prices.table;
  if (!budget) return [];
  const findings: Finding[] = [];
  if (budget.maxPerClaim !== undefined) {
    for (const { claim, quote } of quotes) {
      if (quote.total <= budget.maxPerClaim) continue;
      findings.push(
        violation(
          'cost/claim-budget',
          policy,
          claimPath(claim, 'spec', 'resources', 'requests', 'storage'),
          `costs ${money(quote.total, table)} a month (${quote.basis}), over the per-claim budget of ${money(budget.maxPerClaim, table)}; request less, or a class with fewer IOPS or a cheaper type`,
        ),
      );
    }
  }
  const first = quotes[0];
  if (budget.maxPerNamespace === undefined || !first) return findings;
  const added = quotes.reduce((sum, { claim, quote }) => sum + quote.total * claim.copies, 0);
  if (added === 0) return findings;
  const path = claimPath(first.claim, 'spec', 'resources', 'requests', 'storage');
  const existing = existingCost(context);
  if ('reason' in existing)
    return [...findings, ...lookupFailure(policy, path, `the namespace cost budget`, existing.reason)];
  if (existing.total + added > budget.maxPerNamespace) {
    findings.push({
      ...violation(
        'cost/namespace-budget',
        policy,
        path,
        `namespace ${context.namespace} would cost ${money(existing.total + added, table)} a month (${money(existing.total, table)} existing + ${money(added, table)} new), over its budget of ${money(budget.maxPerNamespace, table)}; free storage or ask for a larger budget`,
      ),
      amount: added,
    });
  }
  return findings;
}

function quotesOf(context: RuleContext): Array<{ claim: ReviewedClaim; quote: Quote }> {
  return context.claims.flatMap((claim) => {
    const quote = claimQuote(claim, context.settings.prices.table);
    return quote ? [{ claim, quote }] : [];
  });
}

function validateClaims(context: RuleContext): Finding[] {
  const quotes = quotesOf(context);
  const table = context.settings.prices.table;
  const findings = context.policies.flatMap((policy) => budgetFindings(context, policy, quotes));
  // A template is never annotated: its quote, per claim and for the replicas, is a warning where it is written.
  const [estimator] = context.policies;
  if (estimator)
    for (const { claim, quote } of quotes) {
      if (claim.templateName === undefined) continue;
      findings.push(
        advice(
          'cost/estimate',
          estimator,
          claimPath(claim, 'spec', 'resources', 'requests', 'storage'),
          `each claim ${money(quote.total, table)} a month (${quote.basis}), ${money(quote.total * claim.copies, table)} for ${claim.copies} replica${claim.copies === 1 ? '' : 's'}`,
        ),
      );
    }
  return findings;
}

/**
 * A bound claim no pod has used for longer than a policy's idleAfter, with what it costs a month: a warning in the
 * audit's reports (and on a person's UPDATE of it), never a denial, since deleting data is the owner's call.
 */
function idleFindings(context: RuleContext): Finding[] {
  const since = unusedSince(context.object);
  const [claim] = context.claims;
  if (since === undefined || !claim) return [];
  const table = context.settings.prices.table;
  const quote = claimQuote(claim, table);
  return context.policies.flatMap((policy) => {
    const idleAfter = policy.cost?.idleAfter;
    const limit = idleAfter === undefined ? undefined : parseDuration(idleAfter);
    if (limit === undefined || context.now - since < limit) return [];
    // The warning kubectl prints is cut at 120 characters: since when, the cost and the fix first, the detail after.
    // No age ("41 days"): a message that changed with every audit would rewrite every report each time.
    const instant = new Date(since).toISOString().replace('.000Z', 'Z');
    const cost = quote ? `at ${money(quote.total, table)} a month` : '(no price for its class)';
    const detail = `unused since ${instant}${quote ? `; ${quote.basis}` : ''}`;
    return [
      advice(
        'cost/idle',
        policy,
        'status.conditions[Unused]',
        `idle since ${instant.slice(0, 10)} ${cost} (idleAfter ${idleAfter}): delete it, or snapshot and delete it (${detail})`,
      ),
    ];
  });
}

/** The claim's cost before this UPDATE (its old size and VAC), for the quote's difference. */
function previousCost(context: RuleContext, claim: ReviewedClaim): number | undefined {
  if (context.operation !== 'UPDATE' || !context.oldObject) return undefined;
  const request = objectAt(context.oldObject, 'spec', 'resources', 'requests')?.['storage'];
  const bytes =
    typeof request === 'string' ? parseQuantity(request) : typeof request === 'number' ? request : undefined;
  const vacName = objectAt(context.oldObject, 'spec')?.['volumeAttributesClassName'];
  const vac = typeof vacName === 'string' && vacName ? context.lookup.attributesClass(vacName) : undefined;
  const storageClass = claim.storageClass.state === 'found' ? claim.storageClass.info : undefined;
  const volume = pricedVolume(storageClass, vac?.known ? vac.value : undefined, bytes);
  return volume && quoteMonthly(volume, context.settings.prices.table)?.total;
}

/**
 * The quote as an annotation on a claim, written by the policy that writes the IOPS quote (or the first with a cost
 * section): derived again on UPDATE, so a resize or a VAC switch is quoted again, with the difference in the note.
 */
function mutateClaims(context: RuleContext): Mutation[] {
  const annotator = context.settings.quoteAnnotator ?? context.governing.find((policy) => policy.cost !== undefined);
  if (!annotator) return [];
  const table = context.settings.prices.table;
  return context.claims.flatMap((claim): Mutation[] => {
    if (claim.templateName !== undefined || claim.storageClass.state === 'unknown') return [];
    const quote = claimQuote(claim, table);
    const value = quote && formatCost(quote.total, table.currency);
    if (claim.annotations[COST_ANNOTATION] === value) return [];
    if (value === undefined) {
      if (claim.annotations[COST_ANNOTATION] === undefined) return [];
      return [
        {
          rule: 'cost/quote',
          policy: annotator,
          patch: [{ op: 'remove', path: pointer('metadata', 'annotations', COST_ANNOTATION) }],
          note: 'monthly-cost annotation removed: no price for the class',
        },
      ];
    }
    const patch: PatchOperation[] = [
      objectAt(context.object, 'metadata', 'annotations') === undefined
        ? setAt(context.object, ['metadata', 'annotations'], { [COST_ANNOTATION]: value })
        : setAt(context.object, ['metadata', 'annotations', COST_ANNOTATION], value),
    ];
    const before = previousCost(context, claim);
    const difference =
      before !== undefined && Math.abs((quote?.total ?? 0) - before) >= 0.005
        ? `, was ${money(before, table)} (${(quote?.total ?? 0) >= before ? '+' : '-'}${money(Math.abs((quote?.total ?? 0) - before), table)})`
        : '';
    const caveat = quote?.caveat ? `; ${quote.caveat}` : '';
    return [
      {
        rule: 'cost/quote',
        policy: annotator,
        patch,
        note: `monthly cost ${value} (${quote?.basis ?? ''})${difference}${caveat}`,
      },
    ];
  });
}

function describe(policy: Policy, kind: GovernedKind, governing: readonly Policy[], scope: DescribeScope): string[] {
  const cost = policy.cost;
  if (!cost) return [];
  const limits = [
    cost.maxPerClaim !== undefined ? `max ${cost.maxPerClaim} per claim` : '',
    cost.maxPerNamespace !== undefined ? `max ${cost.maxPerNamespace} per namespace` : '',
    cost.idleAfter !== undefined ? `claims unused for ${cost.idleAfter} reported idle` : '',
  ].filter(Boolean);
  const priced = governing.some((candidate) => candidate.prices !== undefined)
    ? 'policy prices'
    : 'AWS us-east-1 list prices';
  const lines = [`monthly cost (${priced}): ${limits.join(', ')}, quote annotated on claims`];
  if (cost.maxPerNamespace === undefined || kind !== 'PersistentVolumeClaim') return lines;
  const table = scope.settings.prices.table;
  const used = scope.lookup.namespaceTotal(scope.namespace, new Set(), measureFor(table));
  lines.push(
    used.known
      ? `namespace ${scope.namespace} uses ${money(used.value, table)} of its ${money(cost.maxPerNamespace, table)} budget a month (${Math.round((used.value / cost.maxPerNamespace) * 100)}%), ${money(Math.max(0, cost.maxPerNamespace - used.value), table)} left`
      : `namespace ${scope.namespace}'s use of the budget: unknown (${used.reason})`,
  );
  return lines;
}

/**
 * The price table claims are quoted with: the built-in table with, per type, the highest-precedence policy's price,
 * so one claim has one quote whichever policy's budget reads it; the currency is the highest-precedence priced
 * policy's. Which policy set each type's price, for explain.
 */
export function composeCost(policies: readonly Policy[]): Pick<ComposedSettings, 'prices'> {
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
  return { prices: { table, setBy } };
}

export const costFamily: RuleFamily = {
  name: 'cost',
  sections: ['cost'],
  ruleIds: ['cost/claim-budget', 'cost/namespace-budget', 'cost/estimate', 'cost/idle'],
  factRules: [],
  // Written with the IOPS quote for every governing policy, whether or not it has a cost section.
  mutations: [{ id: 'cost/quote', serves: [], fact: true }],
  claimFields: ['spec.resources', 'spec.storageClassName', 'spec.volumeAttributesClassName', 'metadata.annotations'],
  describe,
  validate: {
    ...forClaimKinds(validateClaims),
    PersistentVolumeClaim: (context) => [...validateClaims(context), ...idleFindings(context)],
  },
  mutate: { PersistentVolumeClaim: mutateClaims },
};
