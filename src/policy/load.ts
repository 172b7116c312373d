import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { formatProblem, parseYamlStream, positionOf, type SourceProblem, type YamlDocument } from '../io/yaml.js';
import { fieldPath } from '../core/patch.js';
import { isObject } from '../core/json.js';
import { byPrecedence, OWNER_ANNOTATION, type Policy, type PolicyChecks, type PolicyException } from './model.js';
import type { StoragePolicy, StoragePolicyException } from './schema-types.js';

export { formatProblem, type SourceProblem };

const SCHEMA_PATH = fileURLToPath(new URL('../../../schema/storage-policy.schema.json', import.meta.url));
const EXCEPTION_SCHEMA_PATH = fileURLToPath(
  new URL('../../../schema/storage-policy-exception.schema.json', import.meta.url),
);
export const BUNDLED_POLICIES_DIR = fileURLToPath(new URL('../../../policies', import.meta.url));

export interface PolicySet {
  policies: Policy[];
  exceptions: PolicyException[];
  files: string[];
  /** Where each policy's fields are, by policy name, for messages about a whole set (lint). */
  locate(policy: Policy, path: Array<string | number>): { line: number; column: number } | undefined;
}

export class PolicyLoadError extends Error {
  constructor(
    readonly problems: SourceProblem[],
    /** The folder could not be read at all (missing, no policy files): an input error rather than invalid policies. */
    readonly unreadable = false,
  ) {
    super(`invalid policy set:\n${problems.map(formatProblem).join('\n')}`);
    this.name = 'PolicyLoadError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: false });
// The schemas are the language's one source: the document types are generated from these very files (schema-types.ts).
const validatePolicyDocument = ajv.compile<StoragePolicy>(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object);
const validateExceptionDocument = ajv.compile<StoragePolicyException>(
  JSON.parse(readFileSync(EXCEPTION_SCHEMA_PATH, 'utf8')) as object,
);

function pathOfAjvError(error: ErrorObject): Array<string | number> {
  const tokens = error.instancePath
    .split('/')
    .slice(1)
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((token) => (/^\d+$/.test(token) ? Number(token) : token));
  if (error.keyword === 'additionalProperties')
    tokens.push(String((error.params as { additionalProperty: string }).additionalProperty));
  return tokens;
}

function describeAjvError(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return error.instancePath === '/spec/rules'
        ? 'is not a known rule id (see docs/policies.md for the list)'
        : 'unknown field (check the spelling against the schema)';
    case 'enum':
      return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
    default:
      return error.message ?? 'is invalid';
  }
}

/** A validated document as the engine reads it: the spec with its defaults filled in. */
function toPolicy(document: StoragePolicy, file: string): Policy {
  const { spec } = document;
  return {
    ...spec,
    name: document.metadata.name,
    file,
    owner: document.metadata.annotations?.[OWNER_ANNOTATION],
    priority: spec.priority ?? 0,
    action: spec.action ?? 'deny',
    lookupFailure: spec.lookupFailure ?? 'warn',
    rules: spec.rules ?? {},
    match: { ...spec.match, kinds: spec.match.kinds ?? ['PersistentVolumeClaim', 'StatefulSet'] },
  };
}

/**
 * Checks the schema cannot express: the date enforceFrom names, and what the families that own the policy's sections
 * check of them (`checks`, engine/policies.ts: this layer knows no family).
 */
function semanticProblems(policy: Policy, source: YamlDocument, checks: PolicyChecks): SourceProblem[] {
  const problems = checks(policy);
  if (policy.enforceFrom !== undefined && Number.isNaN(Date.parse(policy.enforceFrom)))
    problems.push({ path: ['spec', 'enforceFrom'], message: `${policy.enforceFrom} is not a date and time` });
  return problems.map(({ path, message }) => ({
    file: policy.file,
    ...positionOf(source, path),
    field: fieldPath(...path),
    message,
  }));
}

function toException(document: StoragePolicyException, file: string): PolicyException {
  const { spec } = document;
  return { ...spec, name: document.metadata.name, file, expiresAt: spec.expiresAt, permanent: spec.permanent === true };
}

/** What the exception schema cannot say: an expiry or permanent, and a date that parses. */
function exceptionProblems(exception: PolicyException, source: YamlDocument): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const at = (path: Array<string | number>, message: string): void => {
    problems.push({ file: exception.file, ...positionOf(source, path), field: fieldPath(...path), message });
  };
  if (exception.expiresAt === undefined && !exception.permanent)
    at(['spec'], 'an exception needs expiresAt (RFC 3339), or permanent: true');
  if (exception.expiresAt !== undefined && exception.permanent)
    at(['spec', 'permanent'], 'expiresAt and permanent: true contradict each other; keep one');
  if (exception.expiresAt !== undefined && Number.isNaN(Date.parse(exception.expiresAt)))
    at(['spec', 'expiresAt'], `${exception.expiresAt} is not a date and time`);
  return problems;
}

function schemaProblems(
  validate: typeof validatePolicyDocument | typeof validateExceptionDocument,
  source: YamlDocument,
  file: string,
): SourceProblem[] {
  const problems: SourceProblem[] = [];
  for (const error of validate.errors ?? []) {
    const path = pathOfAjvError(error);
    const atKey = error.keyword === 'additionalProperties';
    problems.push({
      file,
      ...positionOf(source, path, atKey),
      field: fieldPath(...path) || '(document)',
      message: describeAjvError(error),
    });
  }
  return problems;
}

export function parsePolicyText(
  text: string,
  file: string,
  checks: PolicyChecks,
): {
  policies: Policy[];
  exceptions: PolicyException[];
  problems: SourceProblem[];
  sources: Map<Policy | PolicyException, YamlDocument>;
} {
  const { documents, problems } = parseYamlStream(text, file);
  const policies: Policy[] = [];
  const exceptions: PolicyException[] = [];
  const sources = new Map<Policy | PolicyException, YamlDocument>();
  for (const source of documents) {
    if (isObject(source.value) && source.value.kind === 'StoragePolicyException') {
      if (!validateExceptionDocument(source.value)) {
        problems.push(...schemaProblems(validateExceptionDocument, source, file));
        continue;
      }
      const exception = toException(source.value, file);
      problems.push(...exceptionProblems(exception, source));
      exceptions.push(exception);
      sources.set(exception, source);
      continue;
    }
    if (!validatePolicyDocument(source.value)) {
      problems.push(...schemaProblems(validatePolicyDocument, source, file));
      continue;
    }
    const policy = toPolicy(source.value, file);
    problems.push(...semanticProblems(policy, source, checks));
    policies.push(policy);
    sources.set(policy, source);
  }
  return { policies, exceptions, problems, sources };
}

const DAY_MS = 86_400_000;

/** Exceptions against the policies they name: refused where a policy allows none, or caps their length (from `now`). */
function exceptionCapProblems(
  policies: readonly Policy[],
  exceptions: readonly PolicyException[],
  now: number,
): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const seen = new Map<string, string>();
  for (const exception of exceptions) {
    const first = seen.get(exception.name);
    if (first !== undefined)
      problems.push({
        file: exception.file,
        field: 'metadata.name',
        message: `exception "${exception.name}" is already defined in ${first}`,
      });
    else seen.set(exception.name, exception.file);
    for (const named of exception.policies) {
      const allowance = policies.find((policy) => policy.name === named.name)?.exceptions;
      if (!allowance) continue;
      const field = 'spec.policies';
      if (allowance.allowed === false)
        problems.push({
          file: exception.file,
          field,
          message: `policy ${named.name} allows no exceptions (spec.exceptions.allowed: false) [exception ${exception.name}]`,
        });
      const maxDays = allowance.maxDays;
      if (maxDays === undefined || allowance.allowed === false) continue;
      if (exception.permanent)
        problems.push({
          file: exception.file,
          field,
          message: `policy ${named.name} caps exceptions at ${maxDays} days; a permanent one is refused [exception ${exception.name}]`,
        });
      else if (exception.expiresAt !== undefined && Date.parse(exception.expiresAt) - now > maxDays * DAY_MS) {
        problems.push({
          file: exception.file,
          field: 'spec.expiresAt',
          message: `${exception.expiresAt} is more than the ${maxDays} days policy ${named.name} allows an exception [exception ${exception.name}]`,
        });
      }
    }
  }
  return problems;
}

async function policyFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries) {
    // A mounted ConfigMap keeps its real files in ..data and hidden timestamped folders.
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile());
    if (isFile && /\.ya?ml$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}

/** Loads and validates a whole policy folder; any problem rejects the whole set. */
export async function loadPolicyDir(dir: string, checks: PolicyChecks): Promise<PolicySet> {
  let files: string[];
  try {
    files = await policyFiles(dir);
  } catch (error) {
    throw new PolicyLoadError(
      [{ file: dir, message: `cannot read the policy folder: ${(error as Error).message}` }],
      true,
    );
  }
  if (files.length === 0)
    throw new PolicyLoadError([{ file: dir, message: 'no policy files (*.yaml, *.yml) in the folder' }]);
  const problems: SourceProblem[] = [];
  const policies: Policy[] = [];
  const exceptions: PolicyException[] = [];
  const sources = new Map<Policy | PolicyException, YamlDocument>();
  for (const path of files) {
    const fromCwd = relative(process.cwd(), path);
    const display = fromCwd && !fromCwd.startsWith('..') ? fromCwd : path;
    const parsed = parsePolicyText(await readFile(path, 'utf8'), display, checks);
    parsed.sources.forEach((source, policy) => sources.set(policy, source));
    policies.push(...parsed.policies);
    exceptions.push(...parsed.exceptions);
    problems.push(...parsed.problems);
  }
  problems.push(...exceptionCapProblems(policies, exceptions, Date.now()));
  const seen = new Map<string, string>();
  for (const policy of policies) {
    const first = seen.get(policy.name);
    if (first !== undefined)
      problems.push({
        file: policy.file,
        field: 'metadata.name',
        message: `policy "${policy.name}" is already defined in ${first}`,
      });
    else seen.set(policy.name, policy.file);
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return {
    policies: policies.sort(byPrecedence),
    exceptions,
    files,
    locate: (policy, path) => {
      const source = sources.get(policy);
      return source ? positionOf(source, path) : undefined;
    },
  };
}
