import type { Claim } from '../core/storage.js';
import { claimPath, LEGACY_CLASS_ANNOTATION } from '../core/storage.js';
import type { Finding } from './contract.js';
import type { Policy } from '../policy/model.js';

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
