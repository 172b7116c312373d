import type { FastifyError, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';
import type { AdmissionOutcome } from '../admission/handler.js';
import { isObject, objectAt, stringAt } from '../core/json.js';
import type { WebhookMetrics } from './metrics.js';

// Every exit of an admission route passes the onResponse hook once: answered, 400, 413, 415, 503 alike. Timing,
// metrics and the log line live here, not in the handler, so none is missed or counted twice.

/** What the route and the error handler learned about one admission, for the hook that logs and counts it. */
interface AdmissionRecord {
  outcome?: Extract<AdmissionOutcome, { valid: true }>;
  /** The error behind a 4xx or 5xx answer, logged with the admission line. */
  error?: FastifyError;
}

declare module 'fastify' {
  interface FastifyRequest {
    admission: AdmissionRecord | null;
  }
  interface FastifyContextConfig {
    webhook?: 'mutate' | 'validate';
  }
}

/** The decision label of a request that never reached a handler: how it was answered. */
function exitOf(statusCode: number): string {
  if (statusCode === 503) return 'unavailable';
  if (statusCode === 413) return 'too_large';
  return statusCode >= 500 ? 'error' : 'rejected';
}

const admissionTelemetry: FastifyPluginCallback<{ metrics: WebhookMetrics }> = (app, { metrics }, done) => {
  app.decorateRequest('admission', null);
  app.addHook('onRequest', (request, _reply, next) => {
    request.admission = {};
    next();
  });
  app.addHook('onResponse', (request, reply, next) => {
    const webhook = reply.routeOptions.config.webhook ?? 'unknown';
    const outcome = request.admission?.outcome;
    const error = request.admission?.error;
    const body = isObject(request.body) ? objectAt(request.body, 'request') : undefined;
    const operation = stringAt(body, 'operation') ?? 'unknown';
    const decision = outcome?.answered ?? exitOf(reply.statusCode);
    const kind = outcome ? (outcome.answered === 'skipped' ? 'other' : (outcome.input?.kind ?? 'other')) : 'unknown';
    metrics.observeAdmission(webhook, kind, operation, decision, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400 && reply.statusCode < 500)
      metrics.badRequests.inc({ status: String(reply.statusCode) });
    for (const fired of outcome?.fired ?? []) {
      if (fired.action === 'mutate') metrics.mutations.inc({ policy: fired.policy, rule: fired.rule });
      else metrics.findings.inc({ policy: fired.policy, rule: fired.rule, action: fired.action });
    }
    const failed = outcome?.answered === 'error' || reply.statusCode >= 500;
    const level = failed ? 'error' : outcome?.skippedMutations || !outcome ? 'warn' : 'info';
    request.log[level](
      {
        reqId: request.id,
        webhook,
        status: reply.statusCode,
        uid: stringAt(body, 'uid'),
        kind: stringAt(body, 'kind', 'kind'),
        namespace: stringAt(body, 'namespace'),
        name: stringAt(body, 'name'),
        operation,
        // Who asked: a denial is answered to a person or a controller, and the log says which.
        user: stringAt(body, 'userInfo', 'username'),
        dryRun: isObject(body) && body['dryRun'] === true,
        decision,
        ...(outcome?.answered === 'error' ? { error: outcome.reason } : {}),
        ...(error ? (reply.statusCode >= 500 ? { err: error } : { reason: error.message }) : {}),
        ...(outcome?.skippedMutations ? { skippedMutations: outcome.skippedMutations } : {}),
        fired: (outcome?.fired ?? []).map((fired) => `${fired.policy}:${fired.rule}:${fired.action}`),
        durationMs: reply.elapsedTime,
      },
      'admission',
    );
    next();
  });
  done();
};

export default fp(admissionTelemetry, { name: 'admission-telemetry', fastify: '5.x' });
