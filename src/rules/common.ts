import { CLAIM_KINDS, type GovernedKind } from '../core/kinds.js';
import type { Claim } from '../core/storage.js';
import { claimPath, LEGACY_CLASS_ANNOTATION } from '../core/storage.js';
import type { Finding } from './contract.js';
import { parseQuantity } from '../core/quantity.js';
import type { Action, Policy, PolicyProblem, RuleId } from '../policy/model.js';

/** Where the claim's class is written: the legacy annotation wins over the field. */
export function classFieldPath(claim: Claim): string {
  return claim.classSource === 'annotation'
    ? claimPath(claim, 'metadata', 'annotations', LEGACY_CLASS_ANNOTATION)
    : claimPath(claim, 'spec', 'storageClassName');
}

/**
 * A decision that needs cluster data the webhook does not have follows the policy's lookupFailure
 * mode, and the message says so.
 */
export function lookupFailure(policy: Policy, path: string, what: string, reason: string): Finding[] {
  if (policy.lookupFailure === 'allow') return [];
  return [
    {
      rule: 'lookup/unavailable',
      policy,
      path,
      message: uncheckedMessage([what], reason, policy),
      severity: 'violation',
      action: policy.lookupFailure,
      unchecked: { what, reason },
    },
  ];
}

export function uncheckedMessage(what: readonly string[], reason: string, policy: Policy): string {
  return `${what.join(', ')} not checked: ${reason} (lookupFailure: ${policy.lookupFailure})`;
}

export function listOf(values: readonly string[]): string {
  return values.join(', ');
}

/** A finding that takes its policy's action (or `action`, where a family setting decides it). */
export function violation(rule: RuleId, policy: Policy, path: string, message: string, action?: Action): Finding {
  return action === undefined
    ? { rule, policy, path, message, severity: 'violation' }
    : { rule, policy, path, message, severity: 'violation', action };
}

/** A finding that is a warning unless the policy's rules override says otherwise. */
export function advice(rule: RuleId, policy: Policy, path: string, message: string): Finding {
  return { rule, policy, path, message, severity: 'advice' };
}

/** Whether the whole of `value` matches the regular expression `pattern` (policy patterns are anchored). */
export function matchesWhole(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`, 'u').test(value);
}

/** For explain: whether this policy supplies a composed setting, or which policy with precedence does. */
export function supplier(policy: Policy, governing: readonly Policy[], has: (candidate: Policy) => boolean): string {
  const first = governing.find(has);
  return first === policy ? 'this policy supplies it' : `overridden by ${first?.name ?? 'another policy'} (precedence)`;
}

/** One handler for several kinds, as a family's validate or mutate map. */
export function handlersFor<Handler>(
  kinds: readonly GovernedKind[],
  handler: Handler,
): Partial<Record<GovernedKind, Handler>> {
  return Object.fromEntries(kinds.map((kind) => [kind, handler]));
}

/**
 * One handler for every kind that makes claims (a PersistentVolumeClaim, and the templates of StatefulSets and of
 * pod specs): the claim families judge a template as the claims it makes (context.claims), whatever carries it.
 */
export function forClaimKinds<Handler>(handler: Handler): Partial<Record<GovernedKind, Handler>> {
  return handlersFor(CLAIM_KINDS, handler);
}

/**
 * The names of the claims an object stands for, so a namespace total (IOPS, money) does not count them twice: a
 * claim's own name, a template's `<template>-<owner>-<ordinal>` for each replica.
 */
export function claimNamesOf(claims: readonly Claim[]): Set<string> {
  const names = new Set<string>();
  for (const claim of claims) {
    if (claim.templateName === undefined) names.add(claim.name);
    else
      for (let ordinal = 0; ordinal < claim.copies; ordinal += 1) names.add(claim.name.replace(/-0$/, `-${ordinal}`));
  }
  return names;
}

/** A min above its max (quantities, as `10Gi`), reported at min: the section could admit nothing. */
export function boundsProblems(
  bounds: { min?: string | undefined; max?: string | undefined } | undefined,
  path: Array<string | number>,
): PolicyProblem[] {
  const min = bounds?.min === undefined ? undefined : parseQuantity(bounds.min);
  const max = bounds?.max === undefined ? undefined : parseQuantity(bounds.max);
  return min !== undefined && max !== undefined && min > max
    ? [{ path: [...path, 'min'], message: `${bounds?.min} is larger than max ${bounds?.max}` }]
    : [];
}

/** A pattern (matched whole, with the u flag, as matchesWhole does) that does not compile. */
export function patternProblems(pattern: string | undefined, path: Array<string | number>): PolicyProblem[] {
  if (pattern === undefined) return [];
  try {
    new RegExp(pattern, 'u');
    return [];
  } catch {
    return [{ path, message: `${pattern} is not a valid regular expression` }];
  }
}

/** What every list holds (in the first list's order, once each); undefined when there is no list. */
export function intersection(lists: ReadonlyArray<readonly string[]>): string[] | undefined {
  const [first, ...rest] = lists;
  if (!first) return undefined;
  return first.filter((value, index) => first.indexOf(value) === index && rest.every((list) => list.includes(value)));
}
