import { stringify } from 'yaml';
import { Auditor } from '../audit/auditor.js';
import { formatReportsText, inReportApi, isReportApi, REPORT_API_VERSION, REPORT_APIS } from '../audit/reports.js';
import type { JsonObject } from '../core/json.js';
import { GOVERNED_KINDS, type GovernedKind } from '../core/storage.js';
import { Engine } from '../engine/engine.js';
import { readManifests } from '../io/manifests.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { addToState } from '../lookup/inventory.js';
import { formatProblem } from '../io/yaml.js';
import { loadInventory } from '../lookup/inventory.js';
import { NO_CLUSTER } from '../lookup/lookup.js';
import { explain, formatExplanation } from '../authoring/explain.js';
import { lintPolicies } from '../authoring/lint.js';
import { BUNDLED_POLICIES_DIR, loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import { loadSuites, runSuite } from '../authoring/suite.js';
import { listOption, stringOption, UsageError, type OptionSpec, type ParsedOptions } from './options.js';

export const LINT_OPTIONS: OptionSpec[] = [
  { name: 'inventory', type: 'string', multiple: true, help: 'also check classes and zones against this cluster inventory' },
  { name: 'strict', type: 'boolean', help: 'warnings fail too' },
];

export const EXPLAIN_OPTIONS: OptionSpec[] = [
  { name: 'namespace', short: 'n', type: 'string', help: 'the namespace to explain (required unless --kind StorageClass)' },
  { name: 'kind', type: 'string', default: 'PersistentVolumeClaim', help: 'PersistentVolumeClaim, StatefulSet or StorageClass' },
  { name: 'policies', type: 'string', env: 'POLICIES_DIR', default: BUNDLED_POLICIES_DIR, help: 'folder of policy files' },
  { name: 'inventory', type: 'string', multiple: true, help: 'namespace labels come from this inventory' },
];

export const AUDIT_OPTIONS: OptionSpec[] = [
  { name: 'kubeconfig', type: 'string', help: 'audit the live cluster this kubeconfig reaches (reads PVCs, StatefulSets, classes, namespaces, nodes)' },
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'or: YAML files or folders of the objects to audit (PVCs, StatefulSets, StorageClasses, VolumeAttributesClasses) and the cluster they live in',
  },
  { name: 'policies', type: 'string', env: 'POLICIES_DIR', default: BUNDLED_POLICIES_DIR, help: 'folder of policy files' },
  { name: 'namespace', short: 'n', type: 'string', help: 'only this namespace (cluster-scoped objects left out)' },
  { name: 'output', short: 'o', type: 'string', default: 'text', help: 'text, json or yaml (a v1 List of PolicyReport and ClusterPolicyReport objects)' },
  { name: 'report-api', type: 'string', default: REPORT_API_VERSION, help: `the report API of -o json/yaml: ${Object.keys(REPORT_APIS).join(' or ')} (Report, ClusterReport)` },
];

/** The objects to audit, from a live cluster or from files; a string is the input problem (exit 2). */
async function auditedObjects(values: ParsedOptions): Promise<JsonObject[] | string> {
  const paths = listOption(values, 'inventory');
  const kubeconfig = stringOption(values, 'kubeconfig');
  if ((paths.length === 0) === (kubeconfig === undefined)) throw new UsageError('audit needs one of --kubeconfig FILE or --inventory FILE_OR_DIR');
  if (kubeconfig !== undefined) {
    // Loaded only here: the client library is the CLI's heaviest import and no other command needs it.
    const [{ loadKubeConfig }, { listCluster }] = await Promise.all([import('../lookup/kube-api.js'), import('../lookup/cluster-cache.js')]);
    try {
      return await listCluster(await loadKubeConfig(kubeconfig));
    } catch (error) {
      return `cannot read the cluster: ${(error as Error).message}`;
    }
  }
  const { manifests, problems } = await readManifests(paths);
  return problems.length > 0 ? problems.map(formatProblem).join('\n') : manifests.map((manifest) => manifest.object);
}

/** What existing objects violate, as PolicyReports: exit 0 when nothing fails, 1 when something does, 2 on bad input. */
export async function auditCommand(values: ParsedOptions): Promise<CommandOutput> {
  const output = stringOption(values, 'output') ?? 'text';
  if (!['text', 'json', 'yaml'].includes(output)) throw new UsageError(`-o must be text, json or yaml, not ${output}`);
  const { policies } = await loadPolicyDir(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const objects = await auditedObjects(values);
  if (typeof objects === 'string') return { code: 2, stdout: '', stderr: objects };
  const state = new ClusterState();
  addToState(state, objects);
  const auditor = new Auditor();
  for (const object of objects) auditor.upsert(object);
  auditor.run(new Engine(policies, state));
  const api = stringOption(values, 'report-api') ?? REPORT_API_VERSION;
  if (!isReportApi(api)) throw new UsageError(`--report-api must be ${Object.keys(REPORT_APIS).join(' or ')}, not ${api}`);
  const reports = auditor.reports(stringOption(values, 'namespace')).map((report) => inReportApi(report, api));
  const failed = reports.some((report) => report.summary.fail > 0);
  const list = { apiVersion: 'v1', kind: 'List', items: reports };
  const stdout = output === 'json' ? JSON.stringify(list, null, 2) : output === 'yaml' ? stringify(list).trimEnd() : formatReportsText(reports);
  return { code: failed ? 1 : 0, stdout, stderr: '' };
}

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

export async function lintCommand(values: ParsedOptions, dir: string): Promise<CommandOutput> {
  let set;
  try {
    set = await loadPolicyDir(dir);
  } catch (error) {
    if (error instanceof PolicyLoadError) return { code: 1, stdout: '', stderr: error.problems.map((problem) => `error: ${formatProblem(problem)}`).join('\n') };
    throw error;
  }
  const inventoryPaths = listOption(values, 'inventory');
  const inventory = inventoryPaths.length > 0 ? await loadInventory(inventoryPaths) : undefined;
  const problems = lintPolicies(set.policies, { locate: (policy, path) => set.locate(policy, path), inventory });
  const errors = problems.filter((problem) => problem.severity === 'error').length;
  const warnings = problems.length - errors;
  const failed = errors > 0 || (values['strict'] === true && warnings > 0);
  const listing = problems.map((problem) => `${problem.severity}: ${formatProblem(problem)} (${problem.check})`).join('\n');
  const summary = `${set.policies.length} policies in ${set.files.length} files: ${errors} error(s), ${warnings} warning(s)`;
  return { code: failed ? 1 : 0, stdout: failed ? '' : summary, stderr: failed ? `${listing}\n${summary}` : listing };
}

export async function testCommand(path: string): Promise<CommandOutput> {
  const suites = await loadSuites(path);
  if (suites.length === 0) throw new UsageError(`no test suites (*.test.yaml) under ${path}`);
  const lines: string[] = [];
  let passed = 0;
  let failed = 0;
  for (const suite of suites) {
    for (const result of runSuite(suite)) {
      if (result.passed) passed += 1;
      else failed += 1;
      lines.push(`${result.passed ? 'PASS' : 'FAIL'} ${suite.name} / ${result.name}`);
      result.differences.forEach((difference) => lines.push(`     ${difference.replace(/\n/g, '\n     ')}`));
    }
  }
  lines.push(`${passed} passed, ${failed} failed`);
  return { code: failed > 0 ? 1 : 0, stdout: lines.join('\n'), stderr: '' };
}

export async function explainCommand(values: ParsedOptions): Promise<CommandOutput> {
  const kind = stringOption(values, 'kind') ?? 'PersistentVolumeClaim';
  if (!(GOVERNED_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--kind must be one of ${GOVERNED_KINDS.join(', ')}`);
  const namespace = stringOption(values, 'namespace') ?? '';
  if (!namespace && kind !== 'StorageClass') throw new UsageError('explain needs --namespace NS');
  const { policies } = await loadPolicyDir(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const inventoryPaths = listOption(values, 'inventory');
  const lookup = inventoryPaths.length > 0 ? await loadInventory(inventoryPaths) : NO_CLUSTER;
  return { code: 0, stdout: formatExplanation(explain(policies, namespace, kind as GovernedKind, lookup), namespace, kind as GovernedKind), stderr: '' };
}
