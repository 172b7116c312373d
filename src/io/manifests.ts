import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { arrayAt, isObject, stringAt, type JsonObject } from '../core/json.js';
import { parseYamlStream, type SourceProblem } from './yaml.js';

export interface Manifest {
  object: JsonObject;
  /** Where it came from, as `file#document`. */
  source: string;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

async function manifestFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (info.isFile()) return [path];
  const files: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestFiles(child)));
    else if (/\.(ya?ml|json)$/.test(entry.name)) files.push(child);
  }
  return files;
}

/**
 * Reads manifests as kubectl does: multi-document YAML or JSON, files or folders (recursively), and
 * `kind: List` documents expanded into their items.
 */
export async function readManifests(paths: string[]): Promise<{ manifests: Manifest[]; problems: SourceProblem[] }> {
  const manifests: Manifest[] = [];
  const problems: SourceProblem[] = [];
  for (const path of paths) {
    let files: string[];
    try {
      files = await manifestFiles(path);
    } catch (error) {
      problems.push({ file: path, message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      // kubectl get -o json output can be large (a whole cluster's claims): JSON.parse it directly,
      // keeping the YAML parser (and its positions) for YAML and for JSON that does not parse.
      const fast = file.endsWith('.json') ? parseJson(text) : undefined;
      const { documents, problems: fileProblems } = fast
        ? { documents: [{ index: 0, value: fast }], problems: [] }
        : parseYamlStream(text, file);
      problems.push(...fileProblems);
      for (const document of documents) {
        const value = document.value;
        if (!isObject(value)) {
          problems.push({ file, message: `document ${document.index + 1} is not an object` });
          continue;
        }
        const items = stringAt(value, 'kind')?.endsWith('List') ? arrayAt(value, 'items') : undefined;
        const objects = items ? items.filter(isObject) : [value];
        objects.forEach((object, index) =>
          manifests.push({ object, source: `${file}#${document.index + 1}${items ? `.items[${index}]` : ''}` }),
        );
      }
    }
  }
  return { manifests, problems };
}
