import { stringify } from 'yaml';
import { stringAt, type JsonObject } from '../core/json.js';
import { fieldTokens, type PatchOperation } from '../core/patch.js';
import { Engine, type ResolvedFinding } from '../engine/engine.js';
import { decide, reviewInputOf } from '../engine/pipeline.js';
import { describeFinding } from '../engine/report.js';
import { readManifests, type Manifest } from '../io/manifests.js';
import { formatProblem } from '../io/yaml.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { addToState, loadInventory } from '../lookup/inventory.js';
import type { Action, MutationId, RuleId } from '../policy/model.js';
import { BUNDLED_POLICIES_DIR } from '../policy/load.js';
import { loadPolicies } from '../engine/policies.js';
import { clockOf, type CommandOutput } from './authoring.js';
import {
  choiceOption,
  EXIT,
  listOption,
  stringOption,
  UsageError,
  type OptionSpec,
  type ParsedOptions,
} from './options.js';
import { sarifLog, type SarifResult } from './sarif.js';

/** One finding as the JSON and SARIF outputs carry it: each part in its own field. */
interface ReviewFinding {
  policy: string;
  rule: RuleId;
  path: string;
  message: string;
  action: Action;
  /** Already in the object before (an UPDATE's ratchet, a claim of a running StatefulSet): never denied. */
  preexisting?: true;
  /** The StoragePolicyException that exempts it: reported, not enforced. */
  exemption?: string;
}

interface ReviewResult {
  source: string;
  kind: string;
  namespace: string;
  name: string;
  decision: 'allowed' | 'denied' | 'skipped';
  reason?: string;
  findings: ReviewFinding[];
  mutations: Array<{ policy: string; mutation: MutationId; note: string }>;
  /** What kubectl would print as Warning: lines. */
  warnings: string[];
  patch: PatchOperation[];
  patched?: JsonObject;
}

function structured(finding: ResolvedFinding): ReviewFinding {
  return {
    policy: finding.policy.name,
    rule: finding.rule,
    path: finding.path,
    message: finding.message,
    action: finding.action,
    ...(finding.preexisting ? { preexisting: true as const } : {}),
    ...(finding.exemption ? { exemption: finding.exemption.exception } : {}),
  };
}

/** Runs each manifest through the review pipeline as a CREATE, mutation first and validation of the result, as the API server would. */
function reviewManifests(engine: Engine, manifests: Manifest[], defaultNamespace: string): ReviewResult[] {
  return manifests.map(({ object, source }) => {
    const input = reviewInputOf({ object, operation: 'CREATE', defaultNamespace });
    const base = { source, kind: stringAt(object, 'kind') ?? '', findings: [], mutations: [], warnings: [], patch: [] };
    if (!input)
      return {
        ...base,
        name: stringAt(object, 'metadata', 'name') ?? '',
        namespace: stringAt(object, 'metadata', 'namespace') ?? '',
        decision: 'skipped',
        reason: 'kind not governed',
      };
    const decision = decide(engine, input, 'both');
    return {
      ...base,
      name: input.name,
      namespace: input.namespace,
      decision: decision.allowed ? 'allowed' : 'denied',
      findings: decision.findings.map(structured),
      mutations: decision.notes.map((note) => ({ policy: note.policy.name, mutation: note.rule, note: note.note })),
      warnings: decision.warnings,
      patch: decision.patch,
      ...(decision.patch.length > 0 ? { patched: decision.object } : {}),
    };
  });
}

function formatReviewText(results: ReviewResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    if (result.decision === 'skipped') continue;
    const where = result.namespace ? `${result.namespace}/${result.name}` : result.name;
    lines.push(`${result.kind} ${where} (${result.source}): ${result.decision.toUpperCase()}`);
    for (const finding of result.findings.filter((entry) => entry.action === 'deny'))
      lines.push(`  deny     ${describeFinding(finding)}`);
    result.warnings.forEach((warning) => lines.push(`  warning  ${warning}`));
    for (const finding of result.findings.filter((entry) => entry.action === 'audit'))
      lines.push(`  audit    ${describeFinding(finding)}`);
    if (result.patched) {
      const text = stringify(result.patched).trimEnd().split('\n');
      lines.push('  patched object:', ...text.map((line) => `    ${line}`));
    }
  }
  const reviewed = results.filter((result) => result.decision !== 'skipped');
  const denied = reviewed.filter((result) => result.decision === 'denied').length;
  lines.push(
    `${reviewed.length} object(s) reviewed, ${denied} denied, ${results.length - reviewed.length} skipped (kinds not governed)`,
  );
  return lines.join('\n');
}

/** SARIF results: each finding at the line of its field in the manifest (code scanning annotates the diff there). */
function reviewSarif(results: ReviewResult[], manifests: Manifest[]): string {
  const located: SarifResult[] = results.flatMap((result, index) => {
    const manifest = manifests[index];
    return result.findings.map((finding) => ({
      rule: finding.rule,
      ruleDescription: `storage policy rule ${finding.rule} (docs/policies.md)`,
      level: finding.action === 'deny' ? 'error' : finding.action === 'warn' ? 'warning' : 'note',
      message: `${finding.path}: ${finding.message} [policy ${finding.policy}]`,
      file: manifest?.file ?? result.source,
      ...(manifest ? manifest.locate(fieldTokens(finding.path)) : { line: 1, column: 1 }),
    }));
  });
  return JSON.stringify(sarifLog(located), null, 2);
}

export const REVIEW_OPTIONS: OptionSpec[] = [
  { name: 'now', type: 'string', help: 'judge as at this RFC 3339 instant (dated enforcement: spec.enforceFrom)' },
  {
    name: 'filename',
    short: 'f',
    type: 'string',
    multiple: true,
    help: 'manifest file or folder, or - for standard input (repeatable; folders are read recursively)',
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
    help: 'YAML of StorageClasses, Namespaces and PVCs standing in for the cluster',
  },
  {
    name: 'namespace',
    short: 'n',
    type: 'string',
    default: 'default',
    help: 'namespace for objects that name none, as kubectl -n',
  },
  {
    name: 'output',
    short: 'o',
    type: 'string',
    default: 'text',
    help: 'text, json, yaml or sarif (text and yaml show the patched object; sarif 2.1.0 for code scanning)',
  },
];

export async function reviewCommand(values: ParsedOptions): Promise<CommandOutput> {
  const paths = listOption(values, 'filename');
  if (paths.length === 0) throw new UsageError('review needs -f FILE, -f FOLDER or -f -');
  const output = choiceOption(values, 'output', ['text', 'json', 'yaml', 'sarif']);
  const { policies, exceptions } = await loadPolicies(stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR);
  const inventoryPaths = listOption(values, 'inventory');
  const state = inventoryPaths.length > 0 ? await loadInventory(inventoryPaths) : new ClusterState();
  const { manifests, problems } = await readManifests(paths);
  if (problems.length > 0) return { code: EXIT.input, stdout: '', stderr: problems.map(formatProblem).join('\n') };
  const bundled = manifests.filter((manifest) => manifest.object['kind'] !== 'PersistentVolumeClaim');
  addToState(
    state,
    bundled.map((manifest) => manifest.object),
  );
  const results = reviewManifests(
    new Engine({ policies, lookup: state, now: clockOf(values), exceptions }),
    manifests,
    stringOption(values, 'namespace') ?? 'default',
  );
  const stdout =
    output === 'json'
      ? JSON.stringify(results, null, 2)
      : output === 'yaml'
        ? stringify(results).trimEnd()
        : output === 'sarif'
          ? reviewSarif(results, manifests)
          : formatReviewText(results);
  return { code: results.some((result) => result.decision === 'denied') ? EXIT.failed : EXIT.ok, stdout, stderr: '' };
}
