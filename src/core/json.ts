// Admission objects arrive as untyped JSON from the API server, the CLI or a fuzzer; these readers
// turn them into typed values without ever throwing on a wrong shape.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function objectAt(value: unknown, ...keys: string[]): JsonObject | undefined {
  let current: unknown = value;
  for (const key of keys) {
    if (!isObject(current)) return undefined;
    current = current[key];
  }
  return isObject(current) ? current : undefined;
}

export function stringAt(value: unknown, ...keys: string[]): string | undefined {
  const parent = keys.length > 1 ? objectAt(value, ...keys.slice(0, -1)) : value;
  if (!isObject(parent)) return undefined;
  const leaf = parent[keys[keys.length - 1] ?? ''];
  return typeof leaf === 'string' ? leaf : undefined;
}

export function numberAt(value: unknown, ...keys: string[]): number | undefined {
  const parent = keys.length > 1 ? objectAt(value, ...keys.slice(0, -1)) : value;
  if (!isObject(parent)) return undefined;
  const leaf = parent[keys[keys.length - 1] ?? ''];
  return typeof leaf === 'number' ? leaf : undefined;
}

export function arrayAt(value: unknown, ...keys: string[]): JsonValue[] | undefined {
  const parent = keys.length > 1 ? objectAt(value, ...keys.slice(0, -1)) : value;
  if (!isObject(parent)) return undefined;
  const leaf = parent[keys[keys.length - 1] ?? ''];
  return Array.isArray(leaf) ? leaf : undefined;
}

export function hasKey(value: unknown, key: string): boolean {
  return isObject(value) && Object.prototype.hasOwnProperty.call(value, key);
}

/** A map of string to string, as Kubernetes labels, annotations and StorageClass parameters are. */
export function stringMapAt(value: unknown, ...keys: string[]): Record<string, string> {
  const map = objectAt(value, ...keys);
  if (!map) return {};
  // fromEntries defines own properties, so a key such as __proto__ stays a key.
  return Object.fromEntries(
    Object.entries(map).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
}

export function stringsOf(values: JsonValue[] | undefined): string[] {
  return (values ?? []).filter((entry): entry is string => typeof entry === 'string');
}
