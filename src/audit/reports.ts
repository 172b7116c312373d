import { createHash } from 'node:crypto';
import { stringAt, type JsonObject } from '../core/json.js';
import { isClusterScoped } from '../core/kinds.js';
import { formatCost } from '../core/prices.js';
import type { Engine, ResolvedFinding } from '../engine/engine.js';
import { reviewInputOf } from '../engine/pipeline.js';

// What already violates: existing objects judged by the admission engine, as PolicyReports
// (wgpolicyk8s.io/v1alpha2, the format Kyverno, Kubewarden and report UIs share). An existing object is judged
// as an unchanged UPDATE judges it (the findings marked "(existing)"), each with its policy's action:
// deny -> fail, warn and audit -> warn; a governing policy with nothing to say -> pass.

export const REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';
/** Results per report object; beyond, the report is split (…-2, …-3), keeping each far under etcd's 1.5 MiB. */
export const MAX_RESULTS_PER_REPORT = 500;
export const REPORT_SOURCE = 'storage-policy-webhook';
/** The label that marks the reports this webhook owns, so a writer finds and prunes only its own. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

type Result = 'pass' | 'fail' | 'warn' | 'skip';

interface ReportResult {
  source: string;
  policy: string;
  rule: string;
  result: Result;
  severity?: 'high' | 'medium' | 'low';
  message: string;
  resources: Array<{ apiVersion: string; kind: string; name: string; namespace?: string; uid?: string }>;
  properties?: Record<string, string>;
  timestamp: { seconds: number; nanos: number };
}

export interface PolicyReport {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  /** openreports.io only: who wrote the report. */
  source?: string;
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: ReportResult[];
}

/**
 * The report APIs the audit can write. openreports.io/v1alpha1 (Report, ClusterReport; openreports/reports-api
 * apis/openreports.io/v1alpha1/report_types.go) keeps PolicyReport's summary and results and adds the source at the
 * top; Kyverno 1.15+ writes it as the successor of wgpolicyk8s.io/v1alpha2.
 */
export const REPORT_APIS = {
  'wgpolicyk8s.io/v1alpha2': {
    namespaced: { kind: 'PolicyReport', plural: 'policyreports' },
    cluster: { kind: 'ClusterPolicyReport', plural: 'clusterpolicyreports' },
  },
  'openreports.io/v1alpha1': {
    namespaced: { kind: 'Report', plural: 'reports' },
    cluster: { kind: 'ClusterReport', plural: 'clusterreports' },
  },
} as const;
export type ReportApi = keyof typeof REPORT_APIS;

export function isReportApi(name: string): name is ReportApi {
  return Object.prototype.hasOwnProperty.call(REPORT_APIS, name);
}

/** The same report in another report API. */
export function inReportApi(report: PolicyReport, api: ReportApi): PolicyReport {
  if (api === REPORT_API_VERSION) return report;
  const scope = report.metadata.namespace === undefined ? REPORT_APIS[api].cluster : REPORT_APIS[api].namespaced;
  return { ...report, apiVersion: api, kind: scope.kind, source: REPORT_SOURCE };
}

/** One object's results, with the key reports sort it by. */
export interface AuditedObject {
  namespace: string;
  sortKey: string;
  results: ReportResult[];
}

function resultOf(finding: ResolvedFinding): { result: Result; severity: 'high' | 'medium' | 'low' } {
  // Exempted: reported, not failed (Kyverno's PolicyException does the same, as skip).
  if (finding.exemption) return { result: 'skip', severity: 'low' };
  if (finding.action === 'deny') return { result: 'fail', severity: 'high' };
  return { result: 'warn', severity: finding.action === 'warn' ? 'medium' : 'low' };
}

/**
 * Every result for one existing object: a result per finding and a pass for each governing policy with none,
 * each carrying in `properties` what the object's claims provision (IOPS, MiB/s). undefined: not a governed kind.
 */
export function auditObject(engine: Engine, object: JsonObject, seconds: number): AuditedObject | undefined {
  const input = reviewInputOf({ object, operation: 'UPDATE', oldObject: object });
  if (!input) return undefined;
  const uid = stringAt(object, 'metadata', 'uid');
  const resource = {
    apiVersion: stringAt(object, 'apiVersion') ?? '',
    kind: input.kind,
    name: input.name,
    ...(isClusterScoped(input.kind) ? {} : { namespace: input.namespace }),
    ...(uid ? { uid } : {}),
  };
  const timestamp = { seconds, nanos: 0 };
  const findings = engine.judgeExisting(input);
  const quote =
    input.kind === 'PersistentVolumeClaim' || input.kind === 'StatefulSet' ? engine.provisioned(input) : undefined;
  // A claim's cost (a StatefulSet's claims are claims of their own: counted there, not twice).
  const cost = input.kind === 'PersistentVolumeClaim' ? engine.monthlyCost(input) : undefined;
  const provisioned: Record<string, string> = {
    ...(quote && (quote.iops > 0 || quote.throughputMiBps > 0)
      ? { provisionedIops: String(quote.iops), provisionedThroughputMiBps: String(quote.throughputMiBps) }
      : {}),
    ...(cost ? { monthlyCost: formatCost(cost.total, cost.currency) } : {}),
  };
  const results: ReportResult[] = findings.map((finding) => ({
    source: REPORT_SOURCE,
    policy: finding.policy.name,
    rule: finding.rule,
    ...resultOf(finding),
    message: `${finding.path}: ${finding.exemption ? `${finding.exemption.note}: ` : ''}${finding.message}`,
    resources: [resource],
    properties: {
      path: finding.path,
      ...(finding.exemption ? { exception: finding.exemption.exception } : {}),
      ...provisioned,
    },
    timestamp,
  }));
  const judged = new Set(findings.map((finding) => finding.policy.name));
  for (const policy of engine.index.match(input.kind, input.namespace, engine.lookup).policies) {
    if (judged.has(policy.name)) continue;
    results.push({
      source: REPORT_SOURCE,
      policy: policy.name,
      rule: 'all',
      result: 'pass',
      message: 'no violation',
      resources: [resource],
      ...(Object.keys(provisioned).length > 0 ? { properties: provisioned } : {}),
      timestamp,
    });
  }
  results.sort((a, b) =>
    compare(`${a.policy}\u0000${a.rule}\u0000${a.message}`, `${b.policy}\u0000${b.rule}\u0000${b.message}`),
  );
  return { namespace: input.namespace, sortKey: `${input.kind}/${input.name}`, results };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function summaryOf(results: ReportResult[]): PolicyReport['summary'] {
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const entry of results) summary[entry.result] += 1;
  return summary;
}

/**
 * One PolicyReport per namespace and one ClusterPolicyReport for cluster-scoped objects (StorageClasses,
 * VolumeAttributesClasses), split every MAX_RESULTS_PER_REPORT results, in a stable order (namespace, then
 * object, then policy and rule) so that unchanged inputs give identical reports.
 */
export function reportsOf(audited: Iterable<AuditedObject>): PolicyReport[] {
  const byNamespace = new Map<string, AuditedObject[]>();
  for (const entry of audited) {
    if (entry.results.length === 0) continue;
    const list = byNamespace.get(entry.namespace);
    if (list) list.push(entry);
    else byNamespace.set(entry.namespace, [entry]);
  }
  const reports: PolicyReport[] = [];
  for (const namespace of [...byNamespace.keys()].sort()) {
    const results = (byNamespace.get(namespace) ?? [])
      .sort((a, b) => compare(a.sortKey, b.sortKey))
      .flatMap((entry) => entry.results);
    for (let start = 0, part = 1; start < results.length; start += MAX_RESULTS_PER_REPORT, part += 1) {
      const slice = results.slice(start, start + MAX_RESULTS_PER_REPORT);
      reports.push({
        apiVersion: REPORT_API_VERSION,
        kind: namespace === '' ? 'ClusterPolicyReport' : 'PolicyReport',
        metadata: {
          name: part === 1 ? REPORT_SOURCE : `${REPORT_SOURCE}-${part}`,
          ...(namespace === '' ? {} : { namespace }),
          labels: { [MANAGED_BY_LABEL]: REPORT_SOURCE },
        },
        summary: summaryOf(slice),
        results: slice,
      });
    }
  }
  return reports;
}

/** A digest of what a report says, timestamps left out: a writer rewrites a report only when this changes. */
export function reportDigest(report: PolicyReport): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([report.kind, report.metadata, report.summary]));
  for (const result of report.results) hash.update(JSON.stringify({ ...result, timestamp: undefined }));
  return hash.digest('hex').slice(0, 32);
}

/**
 * Each namespace's claims' monthly cost, from the results' monthlyCost property (one per claim); with `rule`, only
 * the claims that have a result of that rule (cost/idle: the idle ones).
 */
function monthlyCostByNamespace(
  reports: PolicyReport[],
  rule?: string,
): Map<string, { total: number; currency: string }> {
  const costs = new Map<string, { total: number; currency: string }>();
  for (const report of reports) {
    const counted = new Set<string>();
    for (const entry of report.results) {
      const resource = entry.resources[0];
      const text = entry.properties?.['monthlyCost'];
      if (!resource || resource.kind !== 'PersistentVolumeClaim' || text === undefined) continue;
      if (rule !== undefined && (entry.rule !== rule || entry.result === 'pass')) continue;
      const key = `${resource.namespace ?? ''}/${resource.name}`;
      if (counted.has(key)) continue;
      counted.add(key);
      const [amount, currency] = text.split(' ');
      const namespace = resource.namespace ?? '';
      const sum = costs.get(namespace) ?? { total: 0, currency: currency ?? '' };
      sum.total += Number(amount);
      costs.set(namespace, sum);
    }
  }
  return costs;
}

/** A cost per namespace and, in one currency, the total: indented lines under a heading. */
function costLines(heading: string, costs: Map<string, { total: number; currency: string }>): string[] {
  if (costs.size === 0) return [];
  const entries = [...costs.entries()].sort(([a], [b]) => compare(a, b));
  const currencies = new Set(entries.map(([, cost]) => cost.currency));
  const lines = [
    heading,
    ...entries.map(([namespace, cost]) => `  ${namespace}: ${formatCost(cost.total, cost.currency)}`),
  ];
  if (currencies.size === 1)
    lines.push(
      `  total: ${formatCost(
        entries.reduce((sum, [, cost]) => sum + cost.total, 0),
        [...currencies][0] ?? '',
      )}`,
    );
  return lines;
}

export function formatReportsText(reports: PolicyReport[]): string {
  const lines: string[] = [];
  for (const report of reports) {
    const where = report.metadata.namespace ? `namespace ${report.metadata.namespace}` : 'cluster-scoped objects';
    const { pass, fail, warn } = report.summary;
    lines.push(`${report.kind} ${report.metadata.name} (${where}): ${fail} fail, ${warn} warn, ${pass} pass`);
    for (const entry of report.results) {
      if (entry.result === 'pass') continue;
      const resource = entry.resources[0];
      lines.push(
        `  ${entry.result.padEnd(5)} ${resource?.kind ?? ''}/${resource?.name ?? ''}  ${entry.policy} ${entry.rule}: ${entry.message}`,
      );
    }
  }
  const failed = reports.reduce((sum, report) => sum + report.summary.fail, 0);
  lines.push(`${reports.length} report(s), ${failed} failing result(s)`);
  lines.push(...costLines('Monthly cost of the claims at list price:', monthlyCostByNamespace(reports)));
  lines.push(
    ...costLines(
      'Monthly cost of the idle claims (unused longer than cost.idleAfter):',
      monthlyCostByNamespace(reports, 'cost/idle'),
    ),
  );
  return lines.join('\n');
}
