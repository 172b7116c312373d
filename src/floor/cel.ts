// Small builders of CEL text (cel-spec; the Kubernetes libraries: quantity, regex `matches`), so the compiler writes
// expressions from parts whose quoting is right by construction.

/** A CEL string literal: single-quoted, with backslashes and quotes escaped. */
export function str(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A CEL list of string literals. */
export function strList(values: readonly string[]): string {
  return `[${values.map(str).join(', ')}]`;
}

/** `has()` of every step of a path from `root`, so a missing step is false rather than an evaluation error. */
export function present(root: string, path: readonly string[]): string {
  return path.map((_, index) => `has(${[root, ...path.slice(0, index + 1)].join('.')})`).join(' && ');
}

/** An RE2 pattern matching exactly the names a glob (`*` any run, `?` one character) matches. */
export function globRegex(glob: string): string {
  const body = glob
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return `^${body}$`;
}

/** Whether a string expression matches a name or glob. */
export function nameMatches(expression: string, pattern: string): string {
  return pattern.includes('*') || pattern.includes('?')
    ? `${expression}.matches(${str(globRegex(pattern))})`
    : `${expression} == ${str(pattern)}`;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

/** metav1.LabelSelector semantics over a labels map expression that may be absent (`has` of `labels` guarded by the caller's `hasLabels`). */
export function selectorHolds(selector: LabelSelector, labels: string, hasLabels: string): string {
  const clauses: string[] = [];
  const value = (key: string): string => `${labels}[${str(key)}]`;
  const has = (key: string): string => `(${hasLabels} && ${str(key)} in ${labels})`;
  for (const [key, expected] of Object.entries(selector.matchLabels ?? {}))
    clauses.push(`(${has(key)} && ${value(key)} == ${str(expected)})`);
  for (const requirement of selector.matchExpressions ?? []) {
    const values = strList(requirement.values ?? []);
    if (requirement.operator === 'In')
      clauses.push(`(${has(requirement.key)} && ${value(requirement.key)} in ${values})`);
    if (requirement.operator === 'NotIn')
      clauses.push(`!(${has(requirement.key)} && ${value(requirement.key)} in ${values})`);
    if (requirement.operator === 'Exists') clauses.push(has(requirement.key));
    if (requirement.operator === 'DoesNotExist') clauses.push(`!${has(requirement.key)}`);
  }
  return clauses.length === 0 ? 'true' : clauses.join(' && ');
}
