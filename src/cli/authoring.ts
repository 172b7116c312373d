import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Auditor } from '../audit/auditor.js';
import { formatReportsText, inReportApi, isReportApi, REPORT_API_VERSION, REPORT_APIS } from '../audit/reports.js';
import type { JsonObject } from '../core/json.js';
import { GOVERNED_KINDS, isClusterScoped } from '../core/kinds.js';
import { Engine } from '../engine/engine.js';
import { readManifests } from '../io/manifests.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { addToState } from '../lookup/inventory.js';
import { formatProblem } from '../io/yaml.js';
import { loadInventory } from '../lookup/inventory.js';
import { NO_CLUSTER } from '../lookup/lookup.js';
import { exceptionsFor, explain, formatExplanation } from '../authoring/explain.js';
import { diffPolicySets, formatDiffMarkdown, formatDiffText } from '../authoring/diff.js';
import { lintPolicies } from '../authoring/lint.js';
import { BUNDLED_POLICIES_DIR, PolicyLoadError } from '../policy/load.js';
import { loadPolicies } from '../engine/policies.js';
import { loadSuites, runSuite, type CaseResult } from '../authoring/suite.js';
import type { SourceProblem } from '../io/yaml.js';
import { sarifLog, type SarifResult } from './sarif.js';
import {
  choiceOption,
  EXIT,
  listOption,
  stringOption,
  UsageError,
  type OptionSpec,
  type ParsedOptions,
} from './options.js';

const NOW_OPTION: OptionSpec = {
  name: 'now',
  type: 'string',
  help: "judge as at this RFC 3339 instant (a policy's enforceFrom, an exception's expiresAt), e.g. to ask what fails after Friday",
};

const CONTEXT_OPTION: OptionSpec = {
  name: 'context',
  type: 'string',
  help: 'the kubeconfig context to use (default: its current context)',
};

export const LINT_OPTIONS: OptionSpec[] = [
  {
    name: 'output',
    short: 'o',
    type: 'string',
    default: 'text',
    help: 'text, json or sarif (SARIF 2.1.0 at the file and line of each problem, for code scanning)',
  },
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'also check classes and zones against this cluster inventory',
  },
  { name: 'strict', type: 'boolean', help: 'warnings fail too' },
];

export const EXPLAIN_OPTIONS: OptionSpec[] = [
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    help: `the namespace to explain (required unless the kind is cluster-scoped: ${GOVERNED_KINDS.filter(isClusterScoped).join(', ')})`,
  },
  {
    name: 'kind',
    type: 'string',
    default: 'PersistentVolumeClaim',
    help: `the kind to explain: ${GOVERNED_KINDS.join(', ')}`,
  },
  {
    name: 'policies',
    type: 'string',
    env: 'POLICIES_DIR',
    default: BUNDLED_POLICIES_DIR,
    help: 'folder of policy files',
  },
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'cluster data from this inventory: namespace labels, and the claims a namespace budget counts',
  },
  NOW_OPTION,
];

export const AUDIT_OPTIONS: OptionSpec[] = [
  {
    name: 'kubeconfig',
    type: 'string',
    help: 'audit the live cluster this kubeconfig reaches (default: $KUBECONFIG, else ~/.kube/config, as kubectl; reads PVCs, StatefulSets, classes, namespaces, nodes)',
  },
  CONTEXT_OPTION,
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'or: YAML files or folders of the objects to audit (PVCs, StatefulSets, StorageClasses, VolumeAttributesClasses) and the cluster they live in',
  },
  {
    name: 'policies',
    type: 'string',
    env: 'POLICIES_DIR',
    default: BUNDLED_POLICIES_DIR,
    help: 'folder of policy files',
  },
  { name: 'namespace', short: 'n', type: 'string', help: 'only this namespace (cluster-scoped objects left out)' },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    default: 'text',
    help: 'text, json or yaml (a v1 List of PolicyReport and ClusterPolicyReport objects)',
  },
  {
    name: 'report-api',
    type: 'string',
    default: REPORT_API_VERSION,
    help: `the report API of -o json/yaml: ${Object.keys(REPORT_APIS).join(' or ')} (Report, ClusterReport)`,
  },
  NOW_OPTION,
];

export const DIFF_OPTIONS: OptionSpec[] = [
  {
    name: 'policies',
    type: 'string',
    env: 'POLICIES_DIR',
    default: BUNDLED_POLICIES_DIR,
    help: 'the proposed policy folder',
  },
  { name: 'base', type: 'string', help: 'the current policy folder' },
  {
    name: 'base-ref',
    type: 'string',
    help: 'or: the current policies are the --policies folder at this git revision (git show REF:path)',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    help: 'judge the objects of the live cluster this kubeconfig reaches (default: $KUBECONFIG, else ~/.kube/config; read-only)',
  },
  CONTEXT_OPTION,
  {
    name: 'inventory',
    type: 'string',
    multiple: true,
    help: 'or: YAML files or folders of the objects and the cluster they live in',
  },
  { name: 'namespace', short: 'n', type: 'string', help: 'only this namespace' },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    default: 'text',
    help: 'text, json or markdown (a pull-request comment, under 60,000 characters)',
  },
  NOW_OPTION,
];

/** --now as a clock; undefined: the real one. */
export function clockOf(values: ParsedOptions): (() => number) | undefined {
  const text = stringOption(values, 'now');
  if (text === undefined) return undefined;
  const instant = Date.parse(text);
  if (Number.isNaN(instant)) throw new UsageError(`--now ${text} is not an RFC 3339 instant`);
  return () => instant;
}

/**
 * The objects to judge: from --inventory files, else from the live cluster kubectl would reach (--kubeconfig,
 * $KUBECONFIG, ~/.kube/config; --context). A string is the input problem (exit 2).
 */
async function auditedObjects(values: ParsedOptions, command: string): Promise<JsonObject[] | string> {
  const paths = listOption(values, 'inventory');
  const kubeconfig = stringOption(values, 'kubeconfig');
  const context = stringOption(values, 'context');
  if (paths.length > 0 && (kubeconfig !== undefined || context !== undefined))
    throw new UsageError(`${command} reads --inventory files or a cluster (--kubeconfig, --context), not both`);
  if (paths.length === 0) {
    // Loaded only here: the client library is the CLI's heaviest import and no other command needs it.
    const [{ loadUserKubeConfig }, { listCluster }] = await Promise.all([
      import('../lookup/kube-api.js'),
      import('../lookup/cluster-cache.js'),
    ]);
    try {
      return await listCluster(await loadUserKubeConfig(kubeconfig, context));
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
  const { policies, exceptions } = await loadPolicies(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const objects = await auditedObjects(values, 'audit');
  if (typeof objects === 'string') return { code: 2, stdout: '', stderr: objects };
  const state = new ClusterState();
  addToState(state, objects);
  const auditor = new Auditor();
  for (const object of objects) auditor.upsert(object);
  auditor.run(new Engine({ policies, lookup: state, now: clockOf(values), exceptions }));
  const api = stringOption(values, 'report-api') ?? REPORT_API_VERSION;
  if (!isReportApi(api))
    throw new UsageError(`--report-api must be ${Object.keys(REPORT_APIS).join(' or ')}, not ${api}`);
  const reports = auditor.reports(stringOption(values, 'namespace')).map((report) => inReportApi(report, api));
  const failed = reports.some((report) => report.summary.fail > 0);
  const list = { apiVersion: 'v1', kind: 'List', items: reports };
  const idleUnknown =
    policies.some((policy) => policy.cost?.idleAfter !== undefined) && auditor.unusedConditionReported() === false
      ? 'note: no bound claim carries the Unused condition (Kubernetes 1.37+, set by the PVC-protection controller): cost.idleAfter reports no idle claims here\n'
      : '';
  const stdout =
    output === 'json'
      ? JSON.stringify(list, null, 2)
      : output === 'yaml'
        ? stringify(list).trimEnd()
        : formatReportsText(reports);
  return { code: failed ? 1 : 0, stdout, stderr: idleUnknown };
}

/**
 * The --policies folder as it is at a git revision, written to a temporary folder: `git ls-tree` lists its files at
 * REF, `git show REF:path` reads each. A string is the problem (exit 2).
 */
async function policiesAtRevision(dir: string, ref: string): Promise<string> {
  const git = (...args: string[]): { ok: boolean; out: string } => {
    const result = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return {
      ok: result.status === 0,
      out: result.status === 0 ? result.stdout : result.stderr || String(result.error ?? ''),
    };
  };
  const prefix = git('rev-parse', '--show-prefix');
  if (!prefix.ok) throw new UsageError(`--base-ref needs --policies inside a git checkout: ${prefix.out.trim()}`);
  const listed = git('ls-tree', '--name-only', ref, '--', '.');
  if (!listed.ok) throw new UsageError(`--base-ref ${ref}: ${listed.out.trim()}`);
  const folder = await mkdtemp(join(tmpdir(), 'storage-policy-base-'));
  for (const name of listed.out.split('\n').filter((file) => /\.ya?ml$/.test(file))) {
    const shown = git('show', `${ref}:${prefix.out.trim()}${name}`);
    if (!shown.ok) throw new UsageError(`--base-ref ${ref}: ${shown.out.trim()}`);
    await writeFile(join(folder, name), shown.out);
  }
  return folder;
}

/** What a policy change does to existing objects and new ones: exit 0 when nothing newly fails, 1 when something does, 2 on bad input. */
export async function diffCommand(values: ParsedOptions): Promise<CommandOutput> {
  const output = stringOption(values, 'output') ?? 'text';
  if (!['text', 'json', 'markdown'].includes(output))
    throw new UsageError(`-o must be text, json or markdown, not ${output}`);
  const proposedDir = stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR;
  const [baseDir, baseRef] = [stringOption(values, 'base'), stringOption(values, 'base-ref')];
  if ((baseDir === undefined) === (baseRef === undefined))
    throw new UsageError('diff needs one of --base DIR or --base-ref GIT_REF');
  const currentDir = baseDir ?? (await policiesAtRevision(proposedDir, baseRef ?? 'HEAD'));
  try {
    const [current, proposed] = await Promise.all([loadPolicies(currentDir), loadPolicies(proposedDir)]);
    const objects = await auditedObjects(values, 'diff');
    if (typeof objects === 'string') return { code: 2, stdout: '', stderr: objects };
    const state = new ClusterState();
    addToState(state, objects);
    const clock = clockOf(values);
    const diff = diffPolicySets(
      new Engine({ policies: current.policies, lookup: state, now: clock, exceptions: current.exceptions }),
      new Engine({ policies: proposed.policies, lookup: state, now: clock, exceptions: proposed.exceptions }),
      objects,
      stringOption(values, 'namespace'),
    );
    const stdout =
      output === 'json'
        ? JSON.stringify(diff, null, 2)
        : output === 'markdown'
          ? formatDiffMarkdown(diff)
          : formatDiffText(diff);
    return { code: diff.counts.newlyFailing > 0 ? 1 : 0, stdout, stderr: '' };
  } finally {
    if (baseRef !== undefined) await rm(currentDir, { recursive: true, force: true });
  }
}

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

export async function lintCommand(values: ParsedOptions, dir: string): Promise<CommandOutput> {
  const output = choiceOption(values, 'output', ['text', 'json', 'sarif']);
  let set;
  try {
    set = await loadPolicies(dir);
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error;
    const code = error.unreadable ? EXIT.input : EXIT.failed;
    const problems = error.problems.map((problem) => ({ ...problem, severity: 'error' as const, check: 'schema' }));
    if (output === 'text')
      return { code, stdout: '', stderr: problems.map((problem) => `error: ${formatProblem(problem)}`).join('\n') };
    return { code, stdout: lintReport(problems, output), stderr: '' };
  }
  const inventoryPaths = listOption(values, 'inventory');
  const inventory = inventoryPaths.length > 0 ? await loadInventory(inventoryPaths) : undefined;
  const problems = lintPolicies(set.policies, {
    locate: (policy, path) => set.locate(policy, path),
    inventory,
    exceptions: set.exceptions,
  });
  const errors = problems.filter((problem) => problem.severity === 'error').length;
  const warnings = problems.length - errors;
  const failed = errors > 0 || (values['strict'] === true && warnings > 0);
  const code = failed ? EXIT.failed : EXIT.ok;
  if (output !== 'text') return { code, stdout: lintReport(problems, output), stderr: '' };
  const listing = problems
    .map((problem) => `${problem.severity}: ${formatProblem(problem)} (${problem.check})`)
    .join('\n');
  const summary = `${set.policies.length} policies${set.exceptions.length > 0 ? ` and ${set.exceptions.length} exceptions` : ''} in ${set.files.length} files: ${errors} error(s), ${warnings} warning(s)`;
  return { code, stdout: failed ? '' : summary, stderr: failed ? `${listing}\n${summary}` : listing };
}

type LintReported = SourceProblem & { severity: 'error' | 'warning'; check: string };

function lintReport(problems: readonly LintReported[], output: 'json' | 'sarif'): string {
  if (output === 'json') return JSON.stringify(problems, null, 2);
  const results = problems.map((problem): SarifResult => ({
    rule: problem.check,
    ruleDescription: `storage-policy lint check ${problem.check} (docs/policies.md)`,
    level: problem.severity,
    message: problem.field ? `${problem.field}: ${problem.message}` : problem.message,
    file: problem.file,
    line: problem.line ?? 1,
    column: problem.column ?? 1,
  }));
  return JSON.stringify(sarifLog(results), null, 2);
}

export const TEST_OPTIONS: OptionSpec[] = [
  NOW_OPTION,
  {
    name: 'output',
    short: 'o',
    type: 'string',
    default: 'text',
    help: 'text or junit (JUnit XML, one testsuite per suite file, for CI test reports)',
  },
];

/** Text for an XML attribute or element: markup escaped, and the control characters XML 1.0 cannot hold dropped. */
function xmlEscape(text: string): string {
  const allowed = [...text].filter((character) => {
    const code = character.charCodeAt(0);
    return code >= 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
  });
  return allowed.join('').replace(/[<>&"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function junitReport(runs: ReadonlyArray<{ suite: { name: string; file: string }; results: CaseResult[] }>): string {
  const total = runs.reduce((sum, run) => sum + run.results.length, 0);
  const failures = runs.reduce((sum, run) => sum + run.results.filter((result) => !result.passed).length, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="storage-policy test" tests="${total}" failures="${failures}">`,
  ];
  for (const { suite, results } of runs) {
    const failed = results.filter((result) => !result.passed).length;
    lines.push(
      `  <testsuite name="${xmlEscape(suite.name)}" file="${xmlEscape(suite.file)}" tests="${results.length}" failures="${failed}">`,
    );
    for (const result of results) {
      const name = `<testcase classname="${xmlEscape(suite.name)}" name="${xmlEscape(result.name)}" file="${xmlEscape(suite.file)}"`;
      if (result.passed) {
        lines.push(`    ${name}/>`);
        continue;
      }
      const detail = xmlEscape(result.differences.join('\n'));
      lines.push(
        `    ${name}>`,
        `      <failure message="${xmlEscape(result.differences[0] ?? 'failed')}">${detail}</failure>`,
        '    </testcase>',
      );
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n');
}

export async function testCommand(path: string, values: ParsedOptions): Promise<CommandOutput> {
  const output = choiceOption(values, 'output', ['text', 'junit']);
  const suites = await loadSuites(path);
  if (suites.length === 0) throw new UsageError(`no test suites (*.test.yaml) under ${path}`);
  const runs = suites.map((suite) => ({ suite, results: runSuite(suite, clockOf(values)) }));
  const failed = runs.reduce((sum, run) => sum + run.results.filter((result) => !result.passed).length, 0);
  const code = failed > 0 ? EXIT.failed : EXIT.ok;
  if (output === 'junit') return { code, stdout: junitReport(runs), stderr: '' };
  const lines: string[] = [];
  for (const { suite, results } of runs) {
    for (const result of results) {
      lines.push(`${result.passed ? 'PASS' : 'FAIL'} ${suite.name} / ${result.name}`);
      result.differences.forEach((difference) => lines.push(`     ${difference.replace(/\n/g, '\n     ')}`));
    }
  }
  const passed = runs.reduce((sum, run) => sum + run.results.length, 0) - failed;
  lines.push(`${passed} passed, ${failed} failed`);
  return { code, stdout: lines.join('\n'), stderr: '' };
}

export async function explainCommand(values: ParsedOptions): Promise<CommandOutput> {
  const kind = stringOption(values, 'kind') ?? 'PersistentVolumeClaim';
  const governed = GOVERNED_KINDS.find((candidate) => candidate === kind);
  if (!governed) throw new UsageError(`--kind must be one of ${GOVERNED_KINDS.join(', ')}`);
  const namespace = stringOption(values, 'namespace') ?? '';
  if (!namespace && !isClusterScoped(governed)) throw new UsageError(`explain needs --namespace NS for ${governed}`);
  const { policies, exceptions } = await loadPolicies(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const inventoryPaths = listOption(values, 'inventory');
  const lookup = inventoryPaths.length > 0 ? await loadInventory(inventoryPaths) : NO_CLUSTER;
  const now = (clockOf(values) ?? Date.now)();
  return {
    code: 0,
    stdout: formatExplanation(
      explain(policies, namespace, governed, lookup),
      namespace,
      governed,
      exceptionsFor(exceptions, namespace, governed, now),
    ),
    stderr: '',
  };
}
