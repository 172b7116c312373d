import { stringMapAt } from '../core/json.js';
import { globMatches, selectorMatches } from '../core/selectors.js';
import type { MutationId, PolicyException, RuleId } from '../policy/model.js';
import type { ReviewInput } from '../rules/contract.js';
import { RULE_FAMILIES } from '../rules/registry.js';

// StoragePolicyExceptions: which one exempts an object from a policy's rule at an instant. One function, read by
// admission, the audit and the CLI alike, so an exception ends at the same instant everywhere.

/** The finding rules each mutation serves, as the families declare them: exempting from those stops the mutation too. */
const SERVED_RULES: ReadonlyMap<MutationId, readonly RuleId[]> = new Map(
  RULE_FAMILIES.flatMap((family) => family.mutations.map((mutation) => [mutation.id, mutation.serves] as const)),
);

export function isActive(exception: PolicyException, now: number): boolean {
  return exception.permanent || (exception.expiresAt !== undefined && Date.parse(exception.expiresAt) > now);
}

function covers(exception: PolicyException, input: ReviewInput): boolean {
  const { kinds, namespaces, names, labelSelector } = exception.match;
  if (kinds && !kinds.includes(input.kind)) return false;
  if (namespaces && !namespaces.some((pattern) => input.namespace !== '' && globMatches(pattern, input.namespace)))
    return false;
  if (names && !names.some((pattern) => globMatches(pattern, input.name))) return false;
  return !labelSelector || selectorMatches(labelSelector, stringMapAt(input.object, 'metadata', 'labels'));
}

/** The first active exception that exempts this object from `rule` (a finding's) of `policy`. */
export function exemptionFor(
  exceptions: readonly PolicyException[],
  input: ReviewInput,
  policy: string,
  rule: RuleId,
  now: number,
): PolicyException | undefined {
  return exceptions.find(
    (exception) =>
      isActive(exception, now) &&
      exception.policies.some((entry) => entry.name === policy && (!entry.rules || entry.rules.includes(rule))) &&
      covers(exception, input),
  );
}

/** Whether a mutation is exempted: the policy is exempted whole, or a finding rule the mutation serves is. */
export function mutationExempted(
  exceptions: readonly PolicyException[],
  input: ReviewInput,
  policy: string,
  mutation: MutationId,
  now: number,
): boolean {
  return exceptions.some(
    (exception) =>
      isActive(exception, now) &&
      exception.policies.some(
        (entry) =>
          entry.name === policy &&
          (!entry.rules || entry.rules.some((rule) => (SERVED_RULES.get(mutation) ?? []).includes(rule))),
      ) &&
      covers(exception, input),
  );
}

const DAY_MS = 86_400_000;

/**
 * What a warning says of an exempted finding: which exception, until when (a countdown in the last 14 days), who
 * decided and why. The date comes before owner and reason so kubectl's 120-character cut keeps it.
 */
export function exemptionNote(exception: PolicyException, now: number): string {
  const who = `(${exception.owner}: ${exception.reason})`;
  if (exception.expiresAt === undefined) return `exempted by ${exception.name} permanently ${who}`;
  const days = Math.ceil((Date.parse(exception.expiresAt) - now) / DAY_MS);
  const countdown = days <= 14 ? `, expires in ${days} day${days === 1 ? '' : 's'}` : '';
  return `exempted by ${exception.name} until ${exception.expiresAt}${countdown} ${who}`;
}

/**
 * The next instant after `now` at which a policy set's verdicts change with no reload: a policy's enforceFrom (its
 * warnings become denials) or an exception's expiresAt (what it exempted is judged again). undefined: none ahead.
 */
export function nextDatedInstant(
  policies: ReadonlyArray<{ enforceFrom?: string | undefined }>,
  exceptions: readonly PolicyException[],
  now: number,
): number | undefined {
  const ahead = [...policies.map((policy) => policy.enforceFrom), ...exceptions.map((exception) => exception.expiresAt)]
    .map((instant) => Date.parse(instant ?? ''))
    .filter((instant) => instant > now);
  return ahead.length > 0 ? Math.min(...ahead) : undefined;
}
