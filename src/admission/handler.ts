import type { Engine } from '../engine/engine.js';
import { auditAnnotationsFor, denialMessage, warningsFor } from '../engine/report.js';
import type { ReviewInput } from '../engine/types.js';
import { allowed, denied, patched, triage, type AdmissionRequest, type AdmissionResponse } from './review.js';

export type Decision = 'allowed' | 'denied' | 'patched' | 'skipped';

/** What fired: a finding with its action, or a mutation. */
export interface Fired {
  policy: string;
  rule: string;
  action: 'deny' | 'warn' | 'audit' | 'mutate';
}

export type AdmissionOutcome =
  | { valid: true; response: AdmissionResponse; decision: Decision; fired: Fired[]; input?: ReviewInput; reason?: string; skipped?: string[] }
  | { valid: false; message: string };

/** One request in, one response out; the HTTP layer knows nothing of policies. */
export type AdmissionHandler = (request: AdmissionRequest, engine: Engine) => AdmissionOutcome;

function withTriage(review: (input: ReviewInput, uid: string, engine: Engine) => Extract<AdmissionOutcome, { valid: true }>): AdmissionHandler {
  return (request, engine) => {
    const triaged = triage(request);
    if (triaged.action === 'reject') return { valid: false, message: triaged.message };
    if (triaged.action === 'allow') return { valid: true, response: allowed(request.uid), decision: 'skipped', fired: [], reason: triaged.reason };
    return review(triaged.input, request.uid, engine);
  };
}

/** /mutate: patches only, with a warning per change; judging is /validate's job, on the final object. */
export const mutatingHandler: AdmissionHandler = withTriage((input, uid, engine) => {
  const outcome = engine.mutate(input);
  const response = patched(uid, outcome.patch, warningsFor([], outcome.notes));
  const fired = outcome.notes.map((note): Fired => ({ policy: note.policy.name, rule: note.rule, action: 'mutate' }));
  return { valid: true, response, decision: outcome.patch.length > 0 ? 'patched' : 'allowed', fired, input, ...(outcome.skipped.length > 0 ? { skipped: outcome.skipped } : {}) };
});

/** /validate: never a patch; denies when any finding's action is deny. */
export const validatingHandler: AdmissionHandler = withTriage((input, uid, engine) => {
  const { findings } = engine.validate(input);
  const denials = findings.filter((finding) => finding.action === 'deny');
  const warnings = warningsFor(findings);
  const audit = auditAnnotationsFor(findings);
  const fired = findings.map((finding): Fired => ({ policy: finding.policy.name, rule: finding.rule, action: finding.action }));
  if (denials.length > 0) return { valid: true, response: denied(uid, denialMessage(denials), warnings, audit), decision: 'denied', fired, input };
  return { valid: true, response: allowed(uid, warnings, audit), decision: 'allowed', fired, input };
});
