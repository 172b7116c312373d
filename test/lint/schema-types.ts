// The policy language has one source, the policy schema (schema/storage-policy.schema.json), and what follows from it
// is generated: the rule-id enums of the exception and test-suite schemas (spec.rules' keys, and for test suites the
// mutation ids besides), and the TypeScript types the loader, the engine and the test runner read
// (json-schema-to-typescript, into src/policy/schema-types.ts). `npm run lint` fails when a generated file is not what
// the sources generate; `npm run generate` rewrites them.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFromFile, type Options } from 'json-schema-to-typescript';
import { format, resolveConfig } from 'prettier';
import { MUTATION_IDS } from '../../src/policy/model.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const TARGET = join(ROOT, 'src/policy/schema-types.ts');
const POLICY_SCHEMA = 'schema/storage-policy.schema.json';
const EXCEPTION_SCHEMA = 'schema/storage-policy-exception.schema.json';
const SUITE_SCHEMA = 'schema/storage-policy-test.schema.json';
const SCHEMAS = [POLICY_SCHEMA, EXCEPTION_SCHEMA, SUITE_SCHEMA];

const OPTIONS: Partial<Options> = {
  bannerComment: '',
  additionalProperties: false,
  ignoreMinAndMaxItems: true,
  strictIndexSignatures: false,
  declareExternallyReferenced: true,
  format: false,
};

const HEADER = `// Generated from ${SCHEMAS.join(', ')} by test/lint/schema-types.ts (npm run generate). Do not edit:
// change the schema and regenerate; npm run lint fails while this file and the schemas disagree.
`;

type Schema = Record<string, unknown>;

function read(path: string): Schema {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as Schema;
}

/** The object at a path of property names in a schema, which must exist. */
function at(schema: Schema, ...path: string[]): Schema {
  let node: unknown = schema;
  for (const key of path) {
    node = (node as Schema | undefined)?.[key];
    if (typeof node !== 'object' || node === null) throw new Error(`schema has no ${path.join('.')}`);
  }
  return node as Schema;
}

/** The exception and test-suite schemas with their rule-id enums (and the exception's kinds) taken from the policy schema. */
function schemasWithRuleIds(): Map<string, string> {
  const policy = read(POLICY_SCHEMA);
  const ruleIds = Object.keys(at(policy, 'properties', 'spec', 'properties', 'rules', 'properties'));
  const kinds = at(policy, 'properties', 'spec', 'properties', 'match', 'properties', 'kinds', 'items').enum;
  const exception = read(EXCEPTION_SCHEMA);
  at(exception, 'properties', 'spec', 'properties', 'match', 'properties', 'kinds', 'items').enum = kinds;
  at(exception, 'properties', 'spec', 'properties', 'policies', 'items', 'properties', 'rules', 'items').enum = ruleIds;
  const suite = read(SUITE_SCHEMA);
  const expected = [...ruleIds, ...MUTATION_IDS.filter((id) => !(ruleIds as readonly string[]).includes(id))];
  at(
    suite,
    'properties',
    'spec',
    'properties',
    'cases',
    'items',
    'properties',
    'expect',
    'properties',
    'rules',
    'items',
  ).enum = expected;
  return new Map(
    [
      [EXCEPTION_SCHEMA, exception],
      [SUITE_SCHEMA, suite],
    ].map(([path, schema]) => [path as string, `${JSON.stringify(schema, null, 2)}\n`]),
  );
}

async function generatedTypes(): Promise<string> {
  const parts: string[] = [];
  for (const schema of SCHEMAS)
    parts.push(await compileFromFile(join(ROOT, schema), { ...OPTIONS, cwd: join(ROOT, 'schema') }));
  return format(`${HEADER}\n${parts.join('\n')}`, { ...(await resolveConfig(TARGET)), filepath: TARGET });
}

const write = process.argv.includes('--write');
const stale: string[] = [];
for (const [path, text] of schemasWithRuleIds()) {
  if (write) writeFileSync(join(ROOT, path), text);
  else if (readFileSync(join(ROOT, path), 'utf8') !== text)
    stale.push(`${path}: its rule ids or kinds are not the policy schema's`);
}
// Types are generated from the schemas as just written.
const types = await generatedTypes();
if (write) writeFileSync(TARGET, types);
else if (readFileSync(TARGET, 'utf8') !== types) stale.push('src/policy/schema-types.ts is not what schema/ generates');
if (stale.length > 0) {
  console.error(`${stale.join('\n')}\nrun npm run generate`);
  process.exitCode = 1;
}
