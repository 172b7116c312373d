import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { arrayAt, isObject, stringAt, type JsonObject } from '../core/json.js';
import { parseYamlStream, positionOf, type SourceProblem, type YamlDocument } from './yaml.js';

export interface Manifest {
  object: JsonObject;
  /** Where it came from, as `file#document`. */
  source: string;
  /** The file (`-` for standard input). */
  file: string;
  /** Where a field of the object is written (line and column from 1), as near as the file says. */
  locate(path: Array<string | number>): { line: number; column: number };
}

/** `-f -`: the manifests kubectl would read from standard input. */
const STDIN = '-';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
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

/** The position of a field, else the deepest written parent's, else the document's start. */
function locator(source: YamlDocument | undefined): Manifest['locate'] {
  return (path) => {
    if (!source) return { line: 1, column: 1 };
    for (let length = path.length; length >= 0; length -= 1) {
      const position = positionOf(source, path.slice(0, length));
      if (position) return position;
    }
    return { line: 1, column: 1 };
  };
}

/**
 * Reads manifests as kubectl does: multi-document YAML or JSON, files or folders (recursively), `-` for standard
 * input, and `kind: List` documents expanded into their items.
 */
export async function readManifests(
  paths: string[],
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<{ manifests: Manifest[]; problems: SourceProblem[] }> {
  const manifests: Manifest[] = [];
  const problems: SourceProblem[] = [];
  for (const path of paths) {
    let files: string[];
    try {
      files = path === STDIN ? [STDIN] : await manifestFiles(path);
    } catch (error) {
      problems.push({ file: path, message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    for (const file of files) {
      const text = file === STDIN ? await readAll(stdin) : await readFile(file, 'utf8');
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
        const source = 'document' in document ? document : undefined;
        const items = stringAt(value, 'kind')?.endsWith('List') ? arrayAt(value, 'items') : undefined;
        const objects = items ? items.filter(isObject) : [value];
        objects.forEach((object, index) => {
          const within = locator(source);
          manifests.push({
            object,
            file,
            source: `${file === STDIN ? 'stdin' : file}#${document.index + 1}${items ? `.items[${index}]` : ''}`,
            locate: items ? (path) => within(['items', index, ...path]) : within,
          });
        });
      }
    }
  }
  return { manifests, problems };
}
