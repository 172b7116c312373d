// Durations as Kubernetes and Go write them ("720h", "1h30m", "90s"): time.ParseDuration's units from seconds up,
// which is what a policy's idle time needs; days are not a Go unit, so "30d" is refused rather than guessed.

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** The pattern the policy schema holds a duration to: one or more number-unit pairs, units h, m, s, ms. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(h|ms|m|s))+$';

/** Milliseconds in a duration such as "720h" or "1h30m"; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN, 'u').test(text)) return undefined;
  let total = 0;
  for (const [, amount, , unit] of text.matchAll(/([0-9]+(\.[0-9]+)?)(h|ms|m|s)/gu))
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return total;
}
