import underPressure from '@fastify/under-pressure';
import type { FastifyError, FastifyPluginCallback } from 'fastify';
import { mutatingHandler, validatingHandler, type AdmissionHandler } from '../admission/handler.js';
import { reviewResponse, type AdmissionReview } from '../admission/protocol.js';
import { admissionRouteSchema } from './admission-schemas.js';
import admissionTelemetry from './admission-telemetry.js';
import bodyBudget from './body-budget.js';
import { errorAnswer } from './http-errors.js';
import { sendJson } from './stream-reply.js';
import type { WebhookMetrics } from './metrics.js';
import type { WebhookState } from './state.js';

// /mutate and /validate in one encapsulated scope: the overload guard, the body budget, the telemetry and the error
// handler below hold for these routes only, so /healthz keeps telling the truth while admission sheds load.

export interface OverloadOptions {
  /** Event loop delay beyond which admission requests get 503 with Retry-After. */
  maxEventLoopDelayMs: number;
  /** Heap in use beyond which admission requests get 503. */
  maxHeapUsedBytes: number;
  /** Connections beyond this are refused at accept, so memory stays bounded. */
  maxConnections: number;
}

interface AdmissionRoutesOptions {
  state: WebhookState;
  metrics: WebhookMetrics;
  overload: OverloadOptions | undefined;
  bodyLimit: number;
  inFlightBodyBytes: number;
}

export const admissionRoutes: FastifyPluginCallback<AdmissionRoutesOptions> = (app, options, done) => {
  const { state, overload } = options;
  // A busy pod is alive: restarting it helps nobody, so only admission answers 503 with Retry-After.
  if (overload) {
    app.register(underPressure, {
      maxEventLoopDelay: overload.maxEventLoopDelayMs,
      maxHeapUsedBytes: overload.maxHeapUsedBytes,
      retryAfter: 5,
      exposeStatusRoute: false,
    });
  }
  // Telemetry first: its record exists before the body budget can refuse a request, so the refusal is logged with it.
  app.register(admissionTelemetry, { metrics: options.metrics });
  app.register(bodyBudget, { limit: options.inFlightBodyBytes, bodyLimit: options.bodyLimit });
  // The telemetry hook logs and counts every exit of these routes, the error's too: it is recorded, not logged here.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (request.admission) request.admission.error = error;
    const answer = errorAnswer(error, request, options.bodyLimit);
    return reply.code(answer.statusCode).send(answer);
  });
  const route = (path: string, handler: AdmissionHandler, webhook: 'mutate' | 'validate'): void => {
    // Synchronous: the review is, and a promise per request is measurable at this rate.
    app.post<{ Body: AdmissionReview }>(
      path,
      { schema: admissionRouteSchema, config: { webhook } },
      (request, reply) => {
        const engine = state.engine;
        if (!engine) {
          void reply
            .code(503)
            .header('retry-after', '5')
            .send({ error: 'Service Unavailable', message: 'no valid policy set is loaded', statusCode: 503 });
          return;
        }
        const outcome = handler(request.body.request, engine);
        if (!outcome.valid) {
          void reply.code(400).send({ error: 'Bad Request', message: outcome.message, statusCode: 400 });
          return;
        }
        if (request.admission) request.admission.outcome = outcome;
        sendJson(request, reply, reviewResponse(outcome.response));
      },
    );
  };
  route('/mutate', mutatingHandler, 'mutate');
  route('/validate', validatingHandler, 'validate');
  done();
};
