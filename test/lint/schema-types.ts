// The policy language has one source, the JSON Schemas in schema/: the TypeScript types the loader and the engine
// read are generated from them (json-schema-to-typescript) into src/policy/schema-types.ts. `npm run lint` fails
// when that file is not what the schemas generate; `npm run generate` rewrites it.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileFromFile, type Options } from 'json-schema-to-typescript';
import { format, resolveConfig } from 'prettier';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const TARGET = join(ROOT, 'src/policy/schema-types.ts');
const SCHEMAS = ['schema/storage-policy.schema.json', 'schema/storage-policy-exception.schema.json'];

const OPTIONS: Partial<Options> = {
  bannerComment: '',
  additionalProperties: false,
  ignoreMinAndMaxItems: true,
  strictIndexSignatures: false,
  declareExternallyReferenced: true,
  format: false,
};

const HEADER = `// Generated from ${SCHEMAS.join(' and ')} by test/lint/schema-types.ts (npm run generate). Do not edit:
// change the schema and regenerate; npm run lint fails while this file and the schemas disagree.
`;

async function generated(): Promise<string> {
  const parts: string[] = [];
  for (const schema of SCHEMAS)
    parts.push(await compileFromFile(join(ROOT, schema), { ...OPTIONS, cwd: join(ROOT, 'schema') }));
  return format(`${HEADER}\n${parts.join('\n')}`, { ...(await resolveConfig(TARGET)), filepath: TARGET });
}

const expected = await generated();
if (process.argv.includes('--write')) {
  writeFileSync(TARGET, expected);
} else if (readFileSync(TARGET, 'utf8') !== expected) {
  console.error('src/policy/schema-types.ts is not what schema/ generates: run npm run generate');
  process.exitCode = 1;
}
