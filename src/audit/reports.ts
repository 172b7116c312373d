import { stringAt, type JsonObject } from '../core/json.js';
import { isClusterScoped } from '../core/storage.js';
import type { Engine, ResolvedFinding } from '../engine/engine.js';
import { reviewInputOf } from '../engine/pipeline.js';

// What already violates: existing objects judged by the admission engine, as PolicyReports
// (wgpolicyk8s.io/v1alpha2, the format Kyverno, Kubewarden and report UIs share). An existing object is judged
// as if it were created now, so a finding's result says what a write of it would meet: deny -> fail,
// warn and audit -> warn; a governing policy with nothing to say -> pass.

export const REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';
/** Results per report object; beyond, the report is split (…-2, …-3), keeping each far under etcd's 1.5 MiB. */
export const MAX_RESULTS_PER_REPORT = 500;
const SOURCE = 'storage-policy-webhook';

type Result = 'pass' | 'fail' | 'warn';

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

interface PolicyReport {
  apiVersion: typeof REPORT_API_VERSION;
  kind: 'PolicyReport' | 'ClusterPolicyReport';
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: ReportResult[];
}

function resultOf(finding: ResolvedFinding): { result: Result; severity: 'high' | 'medium' | 'low' } {
  if (finding.action === 'deny') return { result: 'fail', severity: 'high' };
  return { result: 'warn', severity: finding.action === 'warn' ? 'medium' : 'low' };
}

/** Every result for one existing object: a finding each, and a pass for each governing policy with none. */
function resultsFor(engine: Engine, object: JsonObject, seconds: number): { namespace: string; results: ReportResult[] } | undefined {
  const input = reviewInputOf({ object, operation: 'CREATE' });
  if (!input) return undefined;
  const resource = {
    apiVersion: stringAt(object, 'apiVersion') ?? '',
    kind: input.kind,
    name: input.name,
    ...(isClusterScoped(input.kind) ? {} : { namespace: input.namespace }),
    ...(stringAt(object, 'metadata', 'uid') ? { uid: stringAt(object, 'metadata', 'uid') } : {}),
  };
  const timestamp = { seconds, nanos: 0 };
  const findings = engine.validate(input);
  const results: ReportResult[] = findings.map((finding) => ({
    source: SOURCE,
    policy: finding.policy.name,
    rule: finding.rule,
    ...resultOf(finding),
    message: `${finding.path}: ${finding.message}`,
    resources: [resource],
    properties: { path: finding.path },
    timestamp,
  }));
  const judged = new Set(findings.map((finding) => finding.policy.name));
  for (const policy of engine.index.match(input.kind, input.namespace, engine.lookup).policies) {
    if (!judged.has(policy.name)) results.push({ source: SOURCE, policy: policy.name, rule: 'all', result: 'pass', message: 'no violation', resources: [resource], timestamp });
  }
  return { namespace: input.namespace, results };
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
export function auditReports(engine: Engine, objects: JsonObject[], now = new Date()): PolicyReport[] {
  const seconds = Math.floor(now.getTime() / 1000);
  const byNamespace = new Map<string, ReportResult[]>();
  for (const object of objects) {
    const audited = resultsFor(engine, object, seconds);
    if (!audited || audited.results.length === 0) continue;
    const list = byNamespace.get(audited.namespace) ?? [];
    list.push(...audited.results);
    byNamespace.set(audited.namespace, list);
  }
  const key = (entry: ReportResult): string => `${entry.resources[0]?.kind ?? ''}/${entry.resources[0]?.name ?? ''}\u0000${entry.policy}\u0000${entry.rule}\u0000${entry.message}`;
  const reports: PolicyReport[] = [];
  for (const namespace of [...byNamespace.keys()].sort()) {
    const results = (byNamespace.get(namespace) ?? []).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    for (let start = 0, part = 1; start < results.length; start += MAX_RESULTS_PER_REPORT, part += 1) {
      const slice = results.slice(start, start + MAX_RESULTS_PER_REPORT);
      const name = part === 1 ? SOURCE : `${SOURCE}-${part}`;
      reports.push({
        apiVersion: REPORT_API_VERSION,
        kind: namespace === '' ? 'ClusterPolicyReport' : 'PolicyReport',
        metadata: { name, ...(namespace === '' ? {} : { namespace }), labels: { 'app.kubernetes.io/managed-by': SOURCE } },
        summary: summaryOf(slice),
        results: slice,
      });
    }
  }
  return reports;
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
      lines.push(`  ${entry.result.padEnd(5)} ${resource?.kind ?? ''}/${resource?.name ?? ''}  ${entry.policy} ${entry.rule}: ${entry.message}`);
    }
  }
  const failed = reports.reduce((sum, report) => sum + report.summary.fail, 0);
  lines.push(`${reports.length} report(s), ${failed} failing result(s)`);
  return lines.join('\n');
}
