import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';

export interface SourceProblem {
  file: string;
  line?: number;
  column?: number;
  /** Field path inside the document, such as spec.iops.maxPerVolume. */
  field?: string;
  message: string;
}

export function formatProblem(problem: SourceProblem): string {
  const position = problem.line !== undefined ? `:${problem.line}:${problem.column ?? 1}` : '';
  const field = problem.field ? ` ${problem.field}:` : '';
  return `${problem.file}${position}:${field} ${problem.message}`;
}

export interface YamlDocument {
  index: number;
  value: unknown;
  document: Document.Parsed;
  lineCounter: LineCounter;
}

/** Parses every document of a YAML stream, keeping positions; syntax errors become problems. */
export function parseYamlStream(text: string, file: string): { documents: YamlDocument[]; problems: SourceProblem[] } {
  const lineCounter = new LineCounter();
  // kubectl's YAML (YAML 1.1) resolves merge keys; so do manifests, inventories and suites here.
  const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false, merge: true });
  const documents: YamlDocument[] = [];
  const problems: SourceProblem[] = [];
  const all = Array.isArray(parsed) ? parsed : [];
  if (!Array.isArray(parsed)) {
    problems.push({ file, message: 'not a YAML stream' });
  }
  all.forEach((document, index) => {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const position = lineCounter.linePos(error.pos[0]);
        problems.push({
          file,
          line: position.line,
          column: position.col,
          message: error.message.split('\n')[0] ?? error.message,
        });
      }
      return;
    }
    let value: unknown;
    try {
      value = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias to an unknown anchor, or an alias bomb, is only found when the document is resolved.
      const position = document.contents?.range ? lineCounter.linePos(document.contents.range[0]) : undefined;
      problems.push({
        file,
        ...(position ? { line: position.line, column: position.col } : {}),
        message: (error as Error).message.split('\n')[0] ?? 'invalid YAML',
      });
      return;
    }
    if (value === null || value === undefined) return;
    documents.push({ index, value, document, lineCounter });
  });
  return { documents, problems };
}

export function positionOf(
  source: YamlDocument,
  path: Array<string | number>,
  atKey = false,
): { line: number; column: number } | undefined {
  if (atKey && path.length > 0) {
    const parent = source.document.getIn(path.slice(0, -1), true) as Node | undefined;
    const last = path[path.length - 1];
    const pair =
      parent && isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === last) : undefined;
    const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
    if (range) {
      const position = source.lineCounter.linePos(range[0]);
      return { line: position.line, column: position.col };
    }
  }
  for (let length = path.length; length >= 0; length -= 1) {
    const node = source.document.getIn(path.slice(0, length), true) as Node | undefined;
    const range = node && (isMap(node) || isSeq(node) || 'range' in node) ? node.range : undefined;
    if (range) {
      const position = source.lineCounter.linePos(range[0]);
      return { line: position.line, column: position.col };
    }
  }
  return undefined;
}
