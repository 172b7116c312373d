import type { Claim, StorageClassInfo } from '../core/storage.js';
import { claimPath, LEGACY_CLASS_ANNOTATION } from '../core/storage.js';
import type { Finding, RuleContext } from '../engine/types.js';
import type { Policy } from '../policy/model.js';

export type ResolvedClass =
  | { state: 'no-class' }
  | { state: 'unknown'; name: string; reason: string }
  | { state: 'missing'; name: string }
  | { state: 'found'; name: string; info: StorageClassInfo };

/** The class a claim provisions from, as far as the cluster data can tell. */
export function resolveClass(claim: Claim, context: RuleContext): ResolvedClass {
  if (!claim.className) return { state: 'no-class' };
  const answer = context.lookup.storageClass(claim.className);
  if (!answer.known) return { state: 'unknown', name: claim.className, reason: answer.reason };
  return answer.value ? { state: 'found', name: claim.className, info: answer.value } : { state: 'missing', name: claim.className };
}

/** Where the claim's class is written: the legacy annotation wins over the field. */
export function classFieldPath(claim: Claim): string {
  return claim.classSource === 'annotation' ? claimPath(claim, 'metadata', 'annotations', LEGACY_CLASS_ANNOTATION) : claimPath(claim, 'spec', 'storageClassName');
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
      message: `${what} not checked: ${reason} (lookupFailure: ${policy.lookupFailure})`,
      severity: 'violation',
      action: policy.lookupFailure,
    },
  ];
}

export function listOf(values: readonly string[]): string {
  return values.join(', ');
}
