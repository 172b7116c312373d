import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { isObject, type JsonValue } from '../core/json.js';
import { GOVERNED_KINDS } from '../core/kinds.js';
import { Engine } from '../engine/engine.js';
import { decide, reviewInputOf } from '../engine/pipeline.js';
import { readManifests } from '../io/manifests.js';
import { formatProblem, parseYamlStream } from '../io/yaml.js';
import { addToState } from '../lookup/inventory.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { positionOf } from '../io/yaml.js';
import { loadPolicies, parsePolicies } from '../engine/policies.js';
import type { Policy, PolicyException } from '../policy/model.js';
import type { StoragePolicyTest } from '../policy/schema-types.js';

const SUITE_KIND = 'StoragePolicyTest';
const SUITE_SCHEMA_PATH = fileURLToPath(new URL('../../../schema/storage-policy-test.schema.json', import.meta.url));

/** A suite file as the schema has it: its types are generated from schema/storage-policy-test.schema.json. */
type SuiteDocument = StoragePolicyTest;

/** One case: a resource, how it arrives, and what must come out. */
type SuiteCase = SuiteDocument['spec']['cases'][number];

const validateSuite = new Ajv({ allErrors: true, strict: false }).compile<SuiteDocument>(
  JSON.parse(readFileSync(SUITE_SCHEMA_PATH, 'utf8')) as object,
);

export interface CaseResult {
  suite: string;
  name: string;
  passed: boolean;
  /** What differed, one line each: `at spec.storageClassName: expected gp3, got io2`. */
  differences: string[];
}

function describe(value: JsonValue | undefined): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}

/** The paths where `actual` does not contain `expected`: maps by key, arrays element by element, the rest equal. */
export function containsAt(expected: JsonValue, actual: JsonValue | undefined, path = ''): string[] {
  if (isObject(expected)) {
    if (!isObject(actual)) return [`at ${path || '(root)'}: expected an object, got ${describe(actual)}`];
    return Object.entries(expected).flatMap(([key, value]) =>
      containsAt(value, actual[key], path ? `${path}.${key}` : key),
    );
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`at ${path}: expected a list, got ${describe(actual)}`];
    if (actual.length !== expected.length)
      return [`at ${path}: expected ${expected.length} items, got ${actual.length}: ${describe(actual)}`];
    return expected.flatMap((value, index) => containsAt(value, actual[index], `${path}[${index}]`));
  }
  return JSON.stringify(expected) === JSON.stringify(actual)
    ? []
    : [`at ${path}: expected ${describe(expected)}, got ${describe(actual)}`];
}

/** Runs one case through the engine as the API server would: mutation, then validation of the result. */
export function runCase(engine: Engine, suite: string, testCase: SuiteCase): CaseResult {
  const differences: string[] = [];
  const input = reviewInputOf({
    // The schema makes both objects; the guard gives them the JSON type the engine reads.
    object: isObject(testCase.resource) ? testCase.resource : {},
    operation: testCase.operation ?? 'CREATE',
    oldObject: isObject(testCase.oldResource) ? testCase.oldResource : undefined,
    namespace: testCase.namespace,
    requester: testCase.requester,
  });
  if (!input)
    return {
      suite,
      name: testCase.name,
      passed: false,
      differences: [
        `resource is not a governed kind (${GOVERNED_KINDS.join(', ')}; apiVersion as the API server serves it)`,
      ],
    };
  const decision = decide(engine, input, 'both');
  const fired = new Set(decision.fired.map((entry) => entry.rule));
  const answered = decision.allowed ? 'allowed' : 'denied';
  const { expect } = testCase;
  if (answered !== expect.decision)
    differences.push(
      `decision: expected ${expect.decision}, got ${answered}${decision.message ? `: ${decision.message}` : ''}`,
    );
  const denialText = decision.message ?? '';
  for (const fragment of expect.messages ?? [])
    if (!denialText.includes(fragment))
      differences.push(`denial message: missing "${fragment}"; got: ${denialText || '(none)'}`);
  for (const fragment of expect.warnings ?? [])
    if (!decision.warnings.some((warning) => warning.includes(fragment)))
      differences.push(`warnings: missing "${fragment}"; got: ${decision.warnings.join(' | ') || '(none)'}`);
  for (const rule of expect.rules ?? [])
    if (!fired.has(rule)) differences.push(`rules: ${rule} did not fire; fired: ${[...fired].join(', ') || '(none)'}`);
  if (isObject(expect.patched))
    differences.push(...containsAt(expect.patched, decision.object).map((line) => `patched object ${line}`));
  if (expect.unchanged && decision.patch.length > 0)
    differences.push(`expected no patch, got:\n${stringify(decision.patch)}`);
  return { suite, name: testCase.name, passed: differences.length === 0, differences };
}

interface Suite {
  file: string;
  name: string;
  policies: Policy[];
  exceptions: PolicyException[];
  inventory: ClusterState;
  cases: SuiteCase[];
}

async function suiteFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  const files: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await suiteFiles(child)));
    else if (/\.test\.ya?ml$/.test(entry.name)) files.push(child);
  }
  return files;
}

/** The policies and exceptions of the suite's files and folders. */
async function suitePolicies(paths: string[]): Promise<{ policies: Policy[]; exceptions: PolicyException[] }> {
  const policies: Policy[] = [];
  const exceptions: PolicyException[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const set = await loadPolicies(path);
      policies.push(...set.policies);
      exceptions.push(...set.exceptions);
    } else {
      const parsed = parsePolicies(await readFile(path, 'utf8'), path);
      if (parsed.problems.length > 0) throw new Error(parsed.problems.map(formatProblem).join('\n'));
      policies.push(...parsed.policies);
      exceptions.push(...parsed.exceptions);
    }
  }
  return { policies, exceptions };
}

/**
 * Loads every `*.test.yaml` below a path. A suite names its policies and inventory by paths relative to
 * itself (default: the policies in the folder above it), and lists cases with inline resources.
 */
export async function loadSuites(path: string): Promise<Suite[]> {
  const suites: Suite[] = [];
  for (const file of await suiteFiles(path)) {
    const { documents, problems } = parseYamlStream(await readFile(file, 'utf8'), file);
    if (problems.length > 0) throw new Error(problems.map(formatProblem).join('\n'));
    for (const document of documents) {
      const value = document.value;
      if (!validateSuite(value)) {
        const details = (validateSuite.errors ?? []).map((error) => {
          const path = error.instancePath
            .split('/')
            .slice(1)
            .map((token) => (/^\d+$/.test(token) ? Number(token) : token));
          const position = positionOf(document, path);
          return `${file}${position ? `:${position.line}:${position.column}` : ''}: ${error.instancePath || '(document)'} ${error.message ?? 'is invalid'}`;
        });
        throw new Error(`invalid ${SUITE_KIND}:\n${details.join('\n')}`);
      }
      const here = dirname(file);
      const policyPaths = value.spec.policies ?? [];
      const { policies, exceptions } = await suitePolicies(
        (policyPaths.length > 0 ? policyPaths : ['..']).map((entry) => resolve(here, entry)),
      );
      const inventory = new ClusterState();
      const inventoryPaths = (value.spec.inventory ?? []).map((entry) => resolve(here, entry));
      if (inventoryPaths.length > 0) {
        const { manifests, problems: inventoryProblems } = await readManifests(inventoryPaths);
        if (inventoryProblems.length > 0) throw new Error(inventoryProblems.map(formatProblem).join('\n'));
        addToState(
          inventory,
          manifests.map((manifest) => manifest.object),
        );
      }
      suites.push({ file, name: value.metadata.name, policies, exceptions, inventory, cases: value.spec.cases });
    }
  }
  return suites;
}

/** Runs a suite's cases; `now` (the CLI's --now) is the instant exceptions and enforceFrom are judged at. */
export function runSuite(suite: Suite, now?: () => number): CaseResult[] {
  const engine = new Engine({ policies: suite.policies, lookup: suite.inventory, now, exceptions: suite.exceptions });
  return suite.cases.map((testCase) => runCase(engine, suite.name, testCase));
}
