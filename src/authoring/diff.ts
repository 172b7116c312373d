import type { JsonObject } from '../core/json.js';
import { type Claim } from '../core/storage.js';
import { isClusterScoped, type GovernedKind } from '../core/kinds.js';
import { composeSettings } from '../rules/registry.js';
import type { Engine, ResolvedFinding } from '../engine/engine.js';
import { reviewInputOf } from '../engine/pipeline.js';
import { formatCost } from '../core/prices.js';

// What a policy change does before it merges: every existing object judged under the current set and the proposed
// one with the audit's judgement (as an unchanged UPDATE, each finding with its policy's action), and what the
// mutating side does differently for new objects per namespace.

interface RuleVerdict {
  policy: string;
  rule: string;
  message: string;
}

interface ObjectChange {
  kind: GovernedKind;
  namespace: string;
  name: string;
  /** Failing (deny) under the proposed set and not under the current one. */
  newlyFailing: RuleVerdict[];
  /** Failing under the current set and no longer under the proposed one. */
  newlyPassing: RuleVerdict[];
  warningsAdded: RuleVerdict[];
  warningsRemoved: RuleVerdict[];
}

/** What a new object in a namespace gets from the mutating side, under each set. */
interface NamespaceChange {
  namespace: string;
  what: string;
  before: string;
  after: string;
}

/** What a namespace's existing claims cost a month under each set (the prices or the claims' mutations changed). */
interface CostChange {
  namespace: string;
  before: string;
  after: string;
}

interface PolicyDiff {
  objects: ObjectChange[];
  namespaces: NamespaceChange[];
  costs: CostChange[];
  counts: { newlyFailing: number; newlyPassing: number; warningsChanged: number };
}

const key = (verdict: RuleVerdict): string => `${verdict.policy}\u0000${verdict.rule}\u0000${verdict.message}`;

function verdicts(findings: ResolvedFinding[], action: 'deny' | 'warn'): RuleVerdict[] {
  const unique = new Map<string, RuleVerdict>();
  for (const finding of findings) {
    if (finding.action !== action) continue;
    const verdict = { policy: finding.policy.name, rule: finding.rule, message: `${finding.path}: ${finding.message}` };
    unique.set(key(verdict), verdict);
  }
  return [...unique.values()];
}

function minus(a: RuleVerdict[], b: RuleVerdict[]): RuleVerdict[] {
  const keys = new Set(b.map(key));
  return a.filter((verdict) => !keys.has(key(verdict)));
}

/** The claims a default is chosen for: one per access-mode and volume-mode shape a default can depend on. */
const PROBES: ReadonlyArray<{ label: string; claim: Claim }> = (
  ['ReadWriteOnce', 'ReadWriteMany', 'ReadOnlyMany', 'ReadWriteOncePod'] as const
).flatMap((mode) =>
  (['Filesystem', 'Block'] as const).map((volumeMode) => ({
    label: `${mode}${volumeMode === 'Block' ? ' Block' : ''}`,
    claim: {
      root: [],
      name: 'new',
      templateName: undefined,
      copies: 1,
      className: undefined,
      classSource: 'unset' as const,
      accessModes: [mode],
      volumeMode,
      requestText: '1Gi',
      requestBytes: 1024 ** 3,
      annotations: {},
      labels: {},
      attributesClassName: undefined,
      dataSource: undefined,
      volumeName: undefined,
    },
  })),
);

/** What the mutating side does for new objects in a namespace, as explain composes it, one line per aspect. */
function mutatingSide(engine: Engine, namespace: string): Map<string, string> {
  const lines = new Map<string, string>();
  const { policies } = engine.index.match('PersistentVolumeClaim', namespace, engine.lookup);
  const settings = composeSettings(policies);
  for (const { label, claim } of PROBES) {
    const picked = settings.defaultClassFor(claim);
    lines.set(`default class for ${label}`, picked ? `${picked.choice.class} (policy ${picked.policy.name})` : 'none');
  }
  const statefulSetPolicies = engine.index.match('StatefulSet', namespace, engine.lookup).policies;
  const zones = composeSettings(statefulSetPolicies).zones;
  lines.set(
    'StatefulSet pods pinned to zones',
    zones?.pinStatefulSets ? zones.allowed.join(', ') || 'none (no zone every policy allows)' : 'not pinned',
  );
  lines.set(
    'IOPS quote annotations',
    settings.quoteAnnotator ? `written (policy ${settings.quoteAnnotator.name})` : 'not written',
  );
  lines.set(
    'VolumeAttributesClass default',
    settings.attributesClassDefault
      ? `${settings.attributesClassDefault.name} (policy ${settings.attributesClassDefault.policy.name})`
      : 'none',
  );
  return lines;
}

/** Money by currency: a change of the price table's currency shows as such, not as a sum of two currencies. */
type CostSum = Record<string, number>;

function addCost(sum: CostSum, cost: { total: number; currency: string } | undefined): void {
  if (cost) sum[cost.currency] = (sum[cost.currency] ?? 0) + cost.total;
}

function formatSum(sum: CostSum): string {
  const parts = Object.entries(sum)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, total]) => formatCost(total, currency));
  return parts.length > 0 ? parts.join(' + ') : 'not priced';
}

/** Judges every object under both sets (engines built on the same cluster data) and reports what changes. */
export function diffPolicySets(
  current: Engine,
  proposed: Engine,
  objects: JsonObject[],
  namespace?: string,
): PolicyDiff {
  const changes: ObjectChange[] = [];
  const namespaces = new Set<string>();
  const costs = new Map<string, { before: CostSum; after: CostSum }>();
  for (const object of objects) {
    const input = reviewInputOf({ object, operation: 'UPDATE', oldObject: object });
    if (!input) continue;
    if (namespace !== undefined && input.namespace !== namespace) continue;
    if (!isClusterScoped(input.kind)) namespaces.add(input.namespace);
    if (input.kind === 'PersistentVolumeClaim') {
      const sums = costs.get(input.namespace) ?? { before: {}, after: {} };
      addCost(sums.before, current.monthlyCost(input));
      addCost(sums.after, proposed.monthlyCost(input));
      costs.set(input.namespace, sums);
    }
    const [before, after] = [current.judgeExisting(input), proposed.judgeExisting(input)];
    const change: ObjectChange = {
      kind: input.kind,
      namespace: input.namespace,
      name: input.name,
      newlyFailing: minus(verdicts(after, 'deny'), verdicts(before, 'deny')),
      newlyPassing: minus(verdicts(before, 'deny'), verdicts(after, 'deny')),
      warningsAdded: minus(verdicts(after, 'warn'), verdicts(before, 'warn')),
      warningsRemoved: minus(verdicts(before, 'warn'), verdicts(after, 'warn')),
    };
    if (
      change.newlyFailing.length +
        change.newlyPassing.length +
        change.warningsAdded.length +
        change.warningsRemoved.length >
      0
    )
      changes.push(change);
  }
  if (namespace !== undefined) namespaces.add(namespace);
  const namespaceChanges: NamespaceChange[] = [];
  for (const name of [...namespaces].sort()) {
    const [before, after] = [mutatingSide(current, name), mutatingSide(proposed, name)];
    for (const [what, value] of after)
      if (before.get(what) !== value)
        namespaceChanges.push({ namespace: name, what, before: before.get(what) ?? 'none', after: value });
  }
  changes.sort((a, b) => `${a.namespace}/${a.kind}/${a.name}`.localeCompare(`${b.namespace}/${b.kind}/${b.name}`));
  const costChanges = [...costs.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, sums]) => ({ namespace: name, before: formatSum(sums.before), after: formatSum(sums.after) }))
    .filter((change) => change.before !== change.after);
  return {
    objects: changes,
    namespaces: namespaceChanges,
    costs: costChanges,
    counts: {
      newlyFailing: changes.filter((change) => change.newlyFailing.length > 0).length,
      newlyPassing: changes.filter((change) => change.newlyPassing.length > 0 && change.newlyFailing.length === 0)
        .length,
      warningsChanged: changes.filter((change) => change.warningsAdded.length + change.warningsRemoved.length > 0)
        .length,
    },
  };
}

const where = (change: ObjectChange): string =>
  `${change.kind} ${change.namespace ? `${change.namespace}/` : ''}${change.name}`;

export function formatDiffText(diff: PolicyDiff): string {
  const lines: string[] = [];
  for (const change of diff.objects) {
    for (const verdict of change.newlyFailing)
      lines.push(`FAILS   ${where(change)}  ${verdict.policy} ${verdict.rule}: ${verdict.message}`);
    for (const verdict of change.newlyPassing)
      lines.push(`PASSES  ${where(change)}  ${verdict.policy} ${verdict.rule} no longer fails`);
    for (const verdict of change.warningsAdded)
      lines.push(`WARN+   ${where(change)}  ${verdict.policy} ${verdict.rule}: ${verdict.message}`);
    for (const verdict of change.warningsRemoved)
      lines.push(`WARN-   ${where(change)}  ${verdict.policy} ${verdict.rule}`);
  }
  for (const change of diff.namespaces)
    lines.push(`NEW     namespace ${change.namespace}: ${change.what}: ${change.before} -> ${change.after}`);
  for (const change of diff.costs)
    lines.push(`COST    namespace ${change.namespace}: claims ${change.before} -> ${change.after} a month`);
  const { newlyFailing, newlyPassing, warningsChanged } = diff.counts;
  lines.push(
    `${newlyFailing} object(s) newly failing, ${newlyPassing} newly passing, ${warningsChanged} with changed warnings; ${diff.namespaces.length} change(s) for new objects`,
  );
  return lines.join('\n');
}

/** A GitHub comment holds 65,536 characters; the markdown stays under it with room to spare. */
export const MAX_MARKDOWN_CHARACTERS = 60_000;
const SHOWN_PER_RULE = 20;

function table(header: string[], rows: string[][]): string[] {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
}

/** A pull-request comment: a summary, counts per namespace, policy and rule, the first objects per rule, the rest collapsed. */
export function formatDiffMarkdown(diff: PolicyDiff): string {
  const { newlyFailing, newlyPassing, warningsChanged } = diff.counts;
  const lines = [
    '### storage-policy diff',
    '',
    `**${newlyFailing}** object(s) newly failing, **${newlyPassing}** newly passing, **${warningsChanged}** with changed warnings, **${diff.namespaces.length}** change(s) for new objects.`,
    '',
  ];
  const failing = diff.objects.flatMap((change) => change.newlyFailing.map((verdict) => ({ change, verdict })));
  if (failing.length > 0) {
    const counts = new Map<string, number>();
    for (const { change, verdict } of failing) {
      const row = `${change.namespace || '(cluster)'}\u0000${verdict.policy}\u0000${verdict.rule}`;
      counts.set(row, (counts.get(row) ?? 0) + 1);
    }
    lines.push(
      ...table(
        ['namespace', 'policy', 'rule', 'newly failing'],
        [...counts].map(([row, count]) => [...row.split('\u0000'), String(count)]),
      ),
      '',
    );
    const byRule = new Map<string, typeof failing>();
    for (const entry of failing)
      byRule.set(`${entry.verdict.policy} ${entry.verdict.rule}`, [
        ...(byRule.get(`${entry.verdict.policy} ${entry.verdict.rule}`) ?? []),
        entry,
      ]);
    for (const [rule, entries] of byRule) {
      lines.push(`#### ${rule}`, '');
      const item = ({ change, verdict }: (typeof failing)[number]): string =>
        `- \`${where(change)}\`: ${verdict.message.replace(/\n/g, ' ')}`;
      lines.push(...entries.slice(0, SHOWN_PER_RULE).map(item));
      if (entries.length > SHOWN_PER_RULE)
        lines.push(
          '',
          `<details><summary>${entries.length - SHOWN_PER_RULE} more</summary>`,
          '',
          ...entries.slice(SHOWN_PER_RULE).map(item),
          '',
          '</details>',
        );
      lines.push('');
    }
  }
  const passing = diff.objects.filter((change) => change.newlyPassing.length > 0);
  if (passing.length > 0)
    lines.push(
      '#### Newly passing',
      '',
      ...passing.slice(0, SHOWN_PER_RULE).map((change) => `- \`${where(change)}\``),
      ...(passing.length > SHOWN_PER_RULE ? [`- and ${passing.length - SHOWN_PER_RULE} more`] : []),
      '',
    );
  if (diff.namespaces.length > 0)
    lines.push(
      '#### New objects',
      '',
      ...table(
        ['namespace', 'what', 'now', 'proposed'],
        diff.namespaces.map((change) => [change.namespace, change.what, change.before, change.after]),
      ),
      '',
    );
  if (diff.costs.length > 0)
    lines.push(
      '#### Monthly cost of existing claims',
      '',
      ...table(
        ['namespace', 'now', 'proposed'],
        diff.costs.map((change) => [change.namespace, change.before, change.after]),
      ),
      '',
    );
  const text = lines.join('\n');
  if (text.length <= MAX_MARKDOWN_CHARACTERS) return text;
  const cut = text.lastIndexOf('\n', MAX_MARKDOWN_CHARACTERS - 200);
  return `${text.slice(0, cut)}\n\n_Cut to fit a pull-request comment: run \`storage-policy diff -o text\` for everything._\n`;
}
