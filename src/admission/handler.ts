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

/** How a request was answered: the `decision` label of the admission metrics and log line. */
type Answered = 'allowed' | 'denied' | 'patched' | 'skipped' | 'error';

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
      answered: Answered;
      fired: Fired[];
      input?: ReviewInput;
      reason?: string;
      skippedMutations?: string[];
    }
  | { valid: false; message: string };

/** One request in, one response out; the HTTP layer knows nothing of policies. */
export type AdmissionHandler = (request: AdmissionRequest, engine: Engine) => AdmissionOutcome;

/** A scale is judged as its object with the new replicas, from the cache; without it, allowed and said why. */
function scaleTriage(request: AdmissionRequest, engine: Engine): ReturnType<typeof triage> {
  const review = scaleReviewOf(request, engine.lookup);
  return 'input' in review ? { route: 'review', input: review.input } : { route: 'allow', reason: review.reason };
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
    if (triaged.route === 'reject') return { valid: false, message: triaged.message };
    if (triaged.route === 'allow')
      return { valid: true, response: allowed(request.uid), answered: 'skipped', fired: [], reason: triaged.reason };
    const { input } = triaged;
    let decision;
    try {
      decision = decide(engine, input, stage);
    } catch (error) {
      const reason =
        error instanceof RuleFailure
          ? error.message
          : `internal error: ${error instanceof Error ? error.message : String(error)}`;
      return {
        valid: true,
        response: errored(request.uid, `storage policy webhook error: ${reason}`),
        answered: 'error',
        fired: [],
        input,
        reason,
      };
    }
    const skipped = decision.skippedMutations.length > 0 ? { skippedMutations: decision.skippedMutations } : {};
    if (stage === 'mutate') {
      return {
        valid: true,
        response: patched(request.uid, decision.patch, decision.warnings),
        answered: decision.patch.length > 0 ? 'patched' : 'allowed',
        fired: decision.fired,
        input,
        ...skipped,
      };
    }
    const check = checkWarnings(request, input, engine);
    const warnings = check.length > 0 ? [...decision.warnings, ...check] : decision.warnings;
    if (decision.message !== undefined) {
      return {
        valid: true,
        response: denied(request.uid, decision.message, warnings, decision.auditAnnotations),
        answered: 'denied',
        fired: decision.fired,
        input,
      };
    }
    return {
      valid: true,
      response: allowed(request.uid, warnings, decision.auditAnnotations),
      answered: 'allowed',
      fired: decision.fired,
      input,
    };
  };
}

/** /mutate: patches only, with a warning per change; judging is /validate's job, on the final object. */
export const mutatingHandler = handlerFor('mutate');

/** /validate: never a patch; denies when any finding's action is deny. */
export const validatingHandler = handlerFor('validate');
