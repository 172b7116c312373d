import { stringMapAt } from '../core/json.js';
import { RuleFailure, type Engine } from '../engine/engine.js';
import { decide, type Fired, type ReviewStage } from '../engine/pipeline.js';
import type { ReviewInput } from '../rules/contract.js';
import { scaleReviewOf } from './scale.js';
import {
  allowed,
  denied,
  errored,
  patched,
  triage,
  type AdmissionRequest,
  type AdmissionResponse,
} from './protocol.js';

type Decision = 'allowed' | 'denied' | 'patched' | 'skipped' | 'error';

/**
 * `storage-policy check` (and the chart's helm test) sends a dry-run claim with this annotation: the validating
 * webhook answers with a warning that names it, which proves the whole path (registration, TLS, network) works.
 */
export const CHECK_ANNOTATION = 'storage-policy-webhook.io/check';

/** The check's answer: only to a dry run (nothing is stored), only from /validate (the last word). */
function checkWarnings(request: AdmissionRequest, input: ReviewInput, engine: Engine): string[] {
  if (request.dryRun !== true) return [];
  const nonce = stringMapAt(input.object, 'metadata', 'annotations')[CHECK_ANNOTATION];
  if (nonce === undefined) return [];
  return [
    `storage-policy-webhook: check ${nonce.slice(0, 40)} answered with ${engine.policies.length} policies loaded`,
  ];
}

export type AdmissionOutcome =
  | {
      valid: true;
      response: AdmissionResponse;
      decision: Decision;
      fired: Fired[];
      input?: ReviewInput;
      reason?: string;
      skipped?: string[];
    }
  | { valid: false; message: string };

/** One request in, one response out; the HTTP layer knows nothing of policies. */
export type AdmissionHandler = (request: AdmissionRequest, engine: Engine) => AdmissionOutcome;

/** A scale is judged as its object with the new replicas, from the cache; without it, allowed and said why. */
function scaleTriage(request: AdmissionRequest, engine: Engine): ReturnType<typeof triage> {
  const review = scaleReviewOf(request, engine.lookup);
  return 'input' in review ? { action: 'review', input: review.input } : { action: 'allow', reason: review.reason };
}

/**
 * The handler of one webhook: triage, the review pipeline at its stage, and a response built by the
 * helpers. A rule that throws (a bug) is answered in the protocol, allowed: false with code 500 and the
 * family's name, so kubectl shows what failed instead of failurePolicy acting on a bare HTTP 500.
 */
function handlerFor(stage: Exclude<ReviewStage, 'both'>): AdmissionHandler {
  return (request, engine) => {
    const triaged =
      request.subResource === 'scale' && stage === 'validate' ? scaleTriage(request, engine) : triage(request);
    if (triaged.action === 'reject') return { valid: false, message: triaged.message };
    if (triaged.action === 'allow')
      return { valid: true, response: allowed(request.uid), decision: 'skipped', fired: [], reason: triaged.reason };
    const { input } = triaged;
    let verdict;
    try {
      verdict = decide(engine, input, stage);
    } catch (error) {
      const reason =
        error instanceof RuleFailure
          ? error.message
          : `internal error: ${error instanceof Error ? error.message : String(error)}`;
      return {
        valid: true,
        response: errored(request.uid, `storage policy webhook error: ${reason}`),
        decision: 'error',
        fired: [],
        input,
        reason,
      };
    }
    const skipped = verdict.skipped.length > 0 ? { skipped: verdict.skipped } : {};
    if (stage === 'mutate') {
      return {
        valid: true,
        response: patched(request.uid, verdict.patch, verdict.warnings),
        decision: verdict.patch.length > 0 ? 'patched' : 'allowed',
        fired: verdict.fired,
        input,
        ...skipped,
      };
    }
    const check = checkWarnings(request, input, engine);
    const warnings = check.length > 0 ? [...verdict.warnings, ...check] : verdict.warnings;
    if (verdict.message !== undefined) {
      return {
        valid: true,
        response: denied(request.uid, verdict.message, warnings, verdict.auditAnnotations),
        decision: 'denied',
        fired: verdict.fired,
        input,
      };
    }
    return {
      valid: true,
      response: allowed(request.uid, warnings, verdict.auditAnnotations),
      decision: 'allowed',
      fired: verdict.fired,
      input,
    };
  };
}

/** /mutate: patches only, with a warning per change; judging is /validate's job, on the final object. */
export const mutatingHandler = handlerFor('mutate');

/** /validate: never a patch; denies when any finding's action is deny. */
export const validatingHandler = handlerFor('validate');
