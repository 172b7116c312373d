import { parseArgs } from 'node:util';

/** One option, described once: parseArgs, the environment fallback and --help all come from it. */
export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  short?: string;
  env?: string;
  default?: string;
  multiple?: boolean;
  help: string;
}

/** Exit codes, the same for every command. */
export const EXIT = {
  ok: 0,
  /** Denied, invalid policies, failed tests, something newly fails. */
  failed: 1,
  /** A usage error or input that cannot be read (a missing file or folder, a malformed manifest). */
  input: 2,
} as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type ParsedOptions = Record<string, string | boolean | Array<string | boolean> | undefined>;

export function parseOptions(
  specs: OptionSpec[],
  argv: string[],
  env: NodeJS.ProcessEnv,
): { values: ParsedOptions; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const spec of specs) {
    options[spec.name] = {
      type: spec.type,
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.multiple ? { multiple: true } : {}),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values: ParsedOptions = { ...parsed.values };
  for (const spec of specs) {
    if (values[spec.name] !== undefined) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '')
      values[spec.name] = spec.type === 'boolean' ? fromEnv === 'true' : fromEnv;
    else if (spec.default !== undefined) values[spec.name] = spec.default;
  }
  return { values, positionals: parsed.positionals };
}

export function optionHelp(specs: OptionSpec[]): string {
  return specs
    .map((spec) => {
      const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${spec.name}${spec.type === 'string' ? ' VALUE' : ''}`;
      const extras = [spec.env ? `env ${spec.env}` : '', spec.default !== undefined ? `default ${spec.default}` : '']
        .filter(Boolean)
        .join('; ');
      return `  ${flag.padEnd(30)} ${spec.help}${extras ? ` (${extras})` : ''}`;
    })
    .join('\n');
}

export function stringOption(values: ParsedOptions, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function listOption(values: ParsedOptions, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.filter((entry): entry is string => typeof entry === 'string');
  return typeof value === 'string' ? [value] : [];
}

/** An option that must be one of `choices` (its default, when not given). */
export function choiceOption<T extends string>(values: ParsedOptions, name: string, choices: readonly T[]): T {
  const given = stringOption(values, name);
  const chosen = choices.find((candidate) => candidate === given);
  if (chosen === undefined)
    throw new UsageError(`--${name} must be ${choices.join(', ')}, not ${given ?? '(nothing)'}`);
  return chosen;
}

export function integerOption(values: ParsedOptions, name: string, min: number, max: number): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return value;
}

/** An https URL option (the API server calls webhooks over TLS only); undefined when not given. */
export function httpsUrlOption(values: ParsedOptions, name: string): URL | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--${name} ${text} is not a URL`);
  }
  if (url.protocol !== 'https:')
    throw new UsageError(`--${name} must be https: the API server calls webhooks over TLS only`);
  return url;
}

/** The host of a URL as a certificate names it: an IPv6 address without its brackets. */
export function certificateHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}
