import { STATUS_CODES } from 'node:http';
import { Server as TlsServer, type SecureContextOptions } from 'node:tls';
import underPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import { mutatingHandler, validatingHandler, type AdmissionHandler } from '../admission/handler.js';
import { ADMISSION_API_VERSION, reviewResponse, type AdmissionReview } from '../admission/review.js';
import { WebhookMetrics } from './metrics.js';
import type { WebhookState } from './state.js';

/**
 * Large enough for the largest object the API server stores (etcd's default 1.5 MiB request limit)
 * twice, as object and oldObject, in its JSON encoding with the review envelope; no larger.
 */
export const DEFAULT_BODY_LIMIT = 7 * 1024 * 1024;

export interface ServerOptions {
  state: WebhookState;
  logger: Logger;
  metrics?: WebhookMetrics;
  /** Run before each /metrics scrape, to set gauges that are read, not counted (cache sync, certificate expiry). */
  beforeScrape?: () => void;
  tls?: { key: string | Buffer; cert: string | Buffer };
  bodyLimit?: number;
  /** Seconds a request (headers and body) may take to arrive before it is answered 408 and dropped. */
  requestTimeoutSeconds?: number;
  /** PEM CA bundle: require API server client certificates signed by it (mTLS). */
  clientCa?: string | Buffer;
  /** Overload protection; serve always sets it (DEFAULT_OVERLOAD unless configured). */
  overload?: OverloadOptions;
}

export interface OverloadOptions {
  /** Event loop delay beyond which admission requests get 503 with Retry-After. */
  maxEventLoopDelayMs: number;
  /** Heap in use beyond which admission requests get 503. */
  maxHeapUsedBytes: number;
  /** Connections beyond this are refused at accept, so memory stays bounded. */
  maxConnections: number;
}

export const DEFAULT_OVERLOAD: OverloadOptions = { maxEventLoopDelayMs: 250, maxHeapUsedBytes: 512 * 1024 * 1024, maxConnections: 1000 };

const groupVersionKind = {
  type: 'object',
  required: ['kind'],
  properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } },
} as const;

/** The envelope the API server sends; what the rules read inside object is checked by the engine. */
const admissionReviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: ADMISSION_API_VERSION },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1 },
        kind: groupVersionKind,
        subResource: { type: 'string' },
        name: { type: 'string' },
        namespace: { type: 'string' },
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        object: { type: ['object', 'null'] },
        oldObject: { type: ['object', 'null'] },
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const;

function admissionRoutes(state: WebhookState, metrics: WebhookMetrics, overload: OverloadOptions | undefined): FastifyPluginCallback {
  return (app, _options, done) => {
    // Registered inside this plugin only: admission answers 503 with Retry-After when the process is
    // overloaded, while /healthz keeps telling the truth (a busy pod is alive; restarting it helps nobody).
    if (overload) {
      app.register(underPressure, {
        maxEventLoopDelay: overload.maxEventLoopDelayMs,
        maxHeapUsedBytes: overload.maxHeapUsedBytes,
        retryAfter: 5,
        exposeStatusRoute: false,
      });
    }
    const route = (path: string, handler: AdmissionHandler, webhook: string): void => {
      app.post<{ Body: AdmissionReview }>(path, { schema: { body: admissionReviewSchema } }, async (request, reply) => {
        const engine = state.engine;
        if (!engine) {
          return reply.code(503).header('retry-after', '5').send({ error: 'Service Unavailable', message: 'no valid policy set is loaded', statusCode: 503 });
        }
        const started = process.hrtime.bigint();
        const review = request.body;
        const outcome = handler(review.request, engine);
        if (!outcome.valid) return reply.code(400).send({ error: 'Bad Request', message: outcome.message, statusCode: 400 });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const kind = review.request.kind.kind;
        metrics.admissionDuration.observe({ webhook, kind: outcome.decision === 'skipped' ? 'other' : kind, operation: review.request.operation, decision: outcome.decision }, seconds);
        for (const fired of outcome.fired) {
          if (fired.action === 'mutate') metrics.mutations.inc({ policy: fired.policy, rule: fired.rule });
          else metrics.findings.inc({ policy: fired.policy, rule: fired.rule, action: fired.action });
        }
        request.log[outcome.skipped ? 'warn' : 'info'](
          {
            webhook,
            ...(outcome.skipped ? { skippedMutations: outcome.skipped } : {}),
            uid: review.request.uid,
            kind,
            namespace: review.request.namespace,
            name: review.request.name,
            operation: review.request.operation,
            dryRun: review.request.dryRun === true,
            decision: outcome.decision,
            fired: outcome.fired.map((fired) => `${fired.policy}:${fired.rule}:${fired.action}`),
            durationMs: seconds * 1000,
          },
          'admission',
        );
        return reviewResponse(outcome.response);
      });
    };
    route('/mutate', mutatingHandler, 'mutate');
    route('/validate', validatingHandler, 'validate');
    done();
  };
}

function healthRoutes(state: WebhookState, metrics: WebhookMetrics, beforeScrape: () => void): FastifyPluginCallback {
  return (app, _options, done) => {
    app.get('/metrics', async (_request, reply) => {
      beforeScrape();
      return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const readiness = state.readiness();
      return reply.code(readiness.ready ? 200 : 503).send({ status: readiness.ready ? 'ready' : 'not ready', reason: readiness.reason });
    });
    done();
  };
}

/** Builds the webhook server; listen() is the caller's, so tests use inject() on the same instance. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const metrics = options.metrics ?? new WebhookMetrics({ processMetrics: false });
  const common = {
    loggerInstance: options.logger,
    bodyLimit,
    requestTimeout: (options.requestTimeoutSeconds ?? 10) * 1000,
    // requestTimeout does not reach HTTP/1.1 connections of an HTTP/2 server (allowHTTP1): an idle-socket
    // timeout does, so a stalled body is cut off; HTTP/2 sessions, which the API server keeps open
    // between requests, get a longer idle timeout.
    connectionTimeout: (options.requestTimeoutSeconds ?? 10) * 1000,
    http2SessionTimeout: 60_000,
    // One admission line per request, written by the route, replaces the generic request logs.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  };
  const app = (
    options.tls
      ? // The API server's webhook client negotiates HTTP/2 through ALPN; HTTP/1.1 stays available.
        Fastify({
          ...common,
          http2: true,
          https: {
            allowHTTP1: true,
            key: options.tls.key,
            cert: options.tls.cert,
            minVersion: 'TLSv1.2',
            ...(options.clientCa ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
          },
        })
      : Fastify(common)
  ) as unknown as FastifyInstance;

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    // Client errors keep their status; 503 (overloaded, with Retry-After) too; anything else is a bug: 500.
    const statusCode = error.validation ? 400 : (status >= 400 && status < 500) || status === 503 ? status : 500;
    if (statusCode === 503) request.log.warn({ code: error.code }, 'overloaded: answered 503');
    else if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
    else metrics.badRequests.inc({ status: String(statusCode) });
    const message = error.validation
      ? `invalid AdmissionReview: ${error.message}`
      : statusCode === 413
        ? `request body is larger than ${bodyLimit} bytes`
        : statusCode === 415
          ? `content-type must be application/json, not ${JSON.stringify(request.headers['content-type'] ?? '')}`
          : error.message;
    return reply.code(statusCode).send({ error: STATUS_CODES[statusCode] ?? 'Error', message, statusCode, code: error.code });
  });
  // The API server sends application/json only; fastify's built-in text/plain parser would let other
  // bodies through to schema validation instead of a 415.
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'Not Found', message: `no route ${request.method} ${request.url}`, statusCode: 404 }));

  app.register(healthRoutes(options.state, metrics, options.beforeScrape ?? (() => undefined)));
  app.register(admissionRoutes(options.state, metrics, options.overload));
  if (options.overload) app.server.maxConnections = options.overload.maxConnections;
  return app;
}

/** Swaps the serving certificate of a listening TLS server: new handshakes get it, open connections carry on. */
export function setServingCertificate(app: FastifyInstance, secure: SecureContextOptions): void {
  const server: unknown = app.server;
  if (!(server instanceof TlsServer)) throw new Error('the server is not serving TLS');
  server.setSecureContext(secure);
}
