import type { JsonValue } from './json.js';

export type PatchOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'remove'; path: string };

/** RFC 6901: `~` becomes `~0` before `/` becomes `~1`, the order that keeps `~1` in a key intact. */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointer(...tokens: Array<string | number>): string {
  return tokens.map((token) => '/' + escapePointerToken(String(token))).join('');
}

/**
 * Field paths for messages, in the dotted form kubectl users read: `metadata.annotations[a/b]`,
 * `spec.accessModes[0]`.
 */
export function fieldPath(...tokens: Array<string | number>): string {
  let path = '';
  for (const token of tokens) {
    if (typeof token === 'number') path += `[${token}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(token)) path += path ? `.${token}` : token;
    else path += `[${token}]`;
  }
  return path;
}

/** The tokens of a field path fieldPath wrote: `spec.accessModes[0]` -> spec, accessModes, 0. */
export function fieldTokens(path: string): Array<string | number> {
  return [...path.matchAll(/([A-Za-z_][A-Za-z0-9_]*)|\[([^\]]*)\]/g)].map(([, name, bracketed]) =>
    name !== undefined ? name : /^\d+$/.test(bracketed ?? '') ? Number(bracketed) : (bracketed ?? ''),
  );
}

function childOf(container: JsonValue | undefined, token: string | number): JsonValue | undefined {
  if (typeof token === 'number') return Array.isArray(container) ? container[token] : undefined;
  if (typeof container !== 'object' || container === null || Array.isArray(container)) return undefined;
  return Object.prototype.hasOwnProperty.call(container, token) ? container[token] : undefined;
}

/**
 * One `add` that sets the value at `tokens` in `root`, creating the missing parent maps inside the
 * added value, since JSON Patch cannot add below a member that does not exist. An `add` onto an
 * existing object member replaces it (RFC 6902 4.1).
 */
export function setAt(root: JsonValue, tokens: Array<string | number>, value: JsonValue): PatchOperation {
  let current: JsonValue | undefined = root;
  let depth = 0;
  while (depth < tokens.length - 1) {
    const next = childOf(current, tokens[depth] as string | number);
    if (typeof next !== 'object' || next === null) break;
    current = next;
    depth += 1;
  }
  let nested: JsonValue = value;
  for (let index = tokens.length - 1; index > depth; index -= 1) nested = { [String(tokens[index])]: nested };
  return { op: 'add', path: pointer(...tokens.slice(0, depth + 1)), value: nested };
}

/** Appends to the array at `tokens`, creating it (and its parents) when it does not exist. */
export function appendAt(root: JsonValue, tokens: Array<string | number>, value: JsonValue): PatchOperation {
  let current: JsonValue | undefined = root;
  for (const token of tokens) current = childOf(current, token);
  if (Array.isArray(current)) return { op: 'add', path: pointer(...tokens, '-'), value };
  return setAt(root, tokens, [value]);
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`invalid JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Sets an own property even for keys such as __proto__ (data in Kubernetes objects), never a prototype. */
function setOwn(container: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  Object.defineProperty(container, key, { value, writable: true, enumerable: true, configurable: true });
}

function copyContainer(value: JsonValue | undefined, path: string): JsonValue[] | { [key: string]: JsonValue } {
  if (Array.isArray(value)) return [...value];
  if (typeof value === 'object' && value !== null) return { ...value };
  throw new Error(`${path}: no object or array to change`);
}

/**
 * Applies add/replace/remove operations without touching `root`: only the containers along each
 * operation's path are copied, so cost and stack depth follow the path, not the size or depth of
 * the object (a 100,000-deep field elsewhere costs nothing).
 */
export function applyOperations(root: JsonValue, operations: readonly PatchOperation[]): JsonValue {
  let result = root;
  for (const operation of operations) {
    const tokens = parsePointer(operation.path);
    if (tokens.length === 0) throw new Error('operations on the whole document are not supported');
    const top = copyContainer(result, operation.path);
    let container: JsonValue[] | { [key: string]: JsonValue } = top;
    for (const token of tokens.slice(0, -1)) {
      const child: JsonValue | undefined = Array.isArray(container)
        ? container[Number(token)]
        : Object.prototype.hasOwnProperty.call(container, token)
          ? container[token]
          : undefined;
      const copy = copyContainer(child, operation.path);
      if (Array.isArray(container)) container[Number(token)] = copy;
      else setOwn(container, token, copy);
      container = copy;
    }
    const last = tokens[tokens.length - 1] as string;
    if (Array.isArray(container)) {
      const index = last === '-' ? container.length : Number(last);
      if (
        !Number.isInteger(index) ||
        index < 0 ||
        index > container.length ||
        (operation.op !== 'add' && index >= container.length)
      )
        throw new Error(`${operation.path}: index out of range`);
      if (operation.op === 'add') container.splice(index, 0, operation.value);
      else if (operation.op === 'replace') container[index] = operation.value;
      else container.splice(index, 1);
    } else {
      const exists = Object.prototype.hasOwnProperty.call(container, last);
      if (operation.op !== 'add' && !exists) throw new Error(`${operation.path}: no such member`);
      if (operation.op === 'remove') delete container[last];
      else setOwn(container, last, operation.value);
    }
    result = top;
  }
  return result;
}
