/** A namespace labelled `storage-policy-webhook.io/ignore: "true"` is never sent to the webhook, nor judged by the floor. */
export const OPT_OUT_LABEL = 'storage-policy-webhook.io/ignore';

interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** metav1.LabelSelector semantics: every matchLabels pair and every expression must hold. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const present = Object.prototype.hasOwnProperty.call(labels, requirement.key);
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
        if (!present || value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (present && value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

const globCache = new Map<string, RegExp>();

/** Namespace globs: `*` is any run of characters, `?` one character; everything else is literal. */
export function globMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  let regex = globCache.get(pattern);
  if (!regex) {
    const source = pattern
      .split('')
      .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\-]/g, '\\$&')))
      .join('');
    regex = new RegExp(`^${source}$`);
    globCache.set(pattern, regex);
  }
  return regex.test(name);
}
