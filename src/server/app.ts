import { STATUS_CODES } from 'node:http';
import { Transform } from 'node:stream';
import { Server as TlsServer, type SecureContextOptions } from 'node:tls';
import underPressure from '@fastify/under-pressure';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginCallback,
} from 'fastify';
import type { Logger } from 'pino';
import {
  mutatingHandler,
  validatingHandler,
  type AdmissionHandler,
  type AdmissionOutcome,
} from '../admission/handler.js';
import { isObject, objectAt, stringAt } from '../core/json.js';
import { ADMISSION_API_VERSION, reviewResponse, type AdmissionReview } from '../admission/protocol.js';
import { ConnectionGuard } from './connections.js';
import { WebhookMetrics } from './metrics.js';
import { TLS_POLICY } from './tls.js';
import type { WebhookState } from './state.js';

/**
 * Large enough for the largest object the API server stores (etcd's default 1.5 MiB request limit)
 * twice, as object and oldObject, in its JSON encoding with the review envelope; no larger.
 */
export const DEFAULT_BODY_LIMIT = 7 * 1024 * 1024;

interface ServerOptions {
  state: WebhookState;
  logger: Logger;
  metrics?: WebhookMetrics;
  tls?: { key: string | Buffer; cert: string | Buffer };
  bodyLimit?: number;
  /** PEM CA bundle: require API server client certificates signed by it (mTLS). */
  clientCa?: string | Buffer;
  /** Overload protection; serve always sets it (DEFAULT_OVERLOAD unless configured). */
  overload?: OverloadOptions;
  limits?: Partial<AdmissionLimits>;
}

interface OverloadOptions {
  /** Event loop delay beyond which admission requests get 503 with Retry-After. */
  maxEventLoopDelayMs: number;
  /** Heap in use beyond which admission requests get 503. */
  maxHeapUsedBytes: number;
  /** Connections beyond this are refused at accept, so memory stays bounded. */
  maxConnections: number;
}

export const DEFAULT_OVERLOAD: OverloadOptions = {
  maxEventLoopDelayMs: 250,
  maxHeapUsedBytes: 512 * 1024 * 1024,
  maxConnections: 1000,
};

/** Bounds on what one client can make the admission listener hold (docs/availability.md). */
interface AdmissionLimits {
  /** Headers and body of one request (HTTP/1.1) or stream (HTTP/2) must arrive within this. */
  requestTimeoutSeconds: number;
  maxConnectionsPerAddress: number;
  /** Advertised in HTTP/2 SETTINGS: streams one connection may have open at once. */
  maxConcurrentStreams: number;
  /** Request bodies being received or judged at once, in bytes; beyond, 503 with Retry-After. */
  inFlightBodyBytes: number;
}

export const DEFAULT_LIMITS: AdmissionLimits = {
  requestTimeoutSeconds: 10,
  maxConnectionsPerAddress: 64,
  maxConcurrentStreams: 100,
  inFlightBodyBytes: 16 * 1024 * 1024,
};

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

/** The response the API server accepts (admission.k8s.io/v1); serialized by this schema, so nothing else leaks out. */
const admissionResponseSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'response'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: ADMISSION_API_VERSION },
    kind: { const: 'AdmissionReview' },
    response: {
      type: 'object',
      required: ['uid', 'allowed'],
      additionalProperties: false,
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          required: ['code', 'message'],
          additionalProperties: false,
          properties: { code: { type: 'integer' }, reason: { type: 'string' }, message: { type: 'string' } },
        },
        patchType: { const: 'JSONPatch' },
        patch: { type: 'string' },
        warnings: { type: 'array', items: { type: 'string' } },
        auditAnnotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
} as const;

const errorResponseSchema = {
  type: 'object',
  required: ['error', 'message', 'statusCode'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    statusCode: { type: 'integer' },
    code: { type: 'string' },
  },
} as const;

/** What the route learned about one admission, for the hook that logs and counts it. */
interface AdmissionRecord {
  outcome?: Extract<AdmissionOutcome, { valid: true }>;
  /** Bytes of the in-flight body budget this request holds until it is answered. */
  reservedBytes: number;
  receivedBytes: number;
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

interface BodyBudget {
  limit: number;
  bodyLimit: number;
  inFlight: number;
}

/** The decision label of a request that never reached a handler: how it was answered. */
function exitOf(statusCode: number): string {
  if (statusCode === 503) return 'unavailable';
  if (statusCode === 413) return 'too_large';
  return statusCode >= 500 ? 'error' : 'rejected';
}

function admissionRoutes(
  state: WebhookState,
  metrics: WebhookMetrics,
  overload: OverloadOptions | undefined,
  budget: BodyBudget,
): FastifyPluginCallback {
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
    app.decorateRequest('admission', null);
    // Request bodies count against one budget from their first byte until their answer: many large reviews
    // at once wait their turn (503 with Retry-After; the API server retries) instead of growing the heap past
    // the container's memory limit. A declared Content-Length is reserved up front, the rest as it arrives.
    const overBudget = (reserved: number): boolean => budget.inFlight > budget.limit && budget.inFlight > reserved;
    const busy = (): FastifyError =>
      Object.assign(new Error(`request bodies in flight exceed ${budget.limit} bytes; retry`), {
        statusCode: 503,
        code: 'BODY_BUDGET',
      });
    app.addHook('onRequest', (request, reply, done) => {
      const record: AdmissionRecord = { reservedBytes: 0, receivedBytes: 0 };
      request.admission = record;
      const declared = Number(request.headers['content-length']);
      record.reservedBytes = Number.isFinite(declared) && declared > 0 ? Math.min(declared, budget.bodyLimit) : 0;
      budget.inFlight += record.reservedBytes;
      if (overBudget(record.reservedBytes)) {
        void reply.header('retry-after', '1').send(busy());
        return;
      }
      done();
    });
    app.addHook('preParsing', (request, reply, payload, done) => {
      const record = request.admission;
      // A declared Content-Length is reserved already, and fastify refuses a body that differs from it.
      if (!record || request.headers['content-length'] !== undefined) return done(null, payload);
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          record.receivedBytes += chunk.length;
          if (record.receivedBytes > record.reservedBytes) {
            budget.inFlight += record.receivedBytes - record.reservedBytes;
            record.reservedBytes = record.receivedBytes;
            if (overBudget(record.reservedBytes)) {
              void reply.header('retry-after', '1');
              next(busy());
              return;
            }
          }
          next(null, chunk);
        },
      });
      payload.on('error', (error) => counted.destroy(error));
      done(null, payload.pipe(counted));
    });
    // Answered before its body was read (503, 413, 415): the rest is drained and dropped (buildServer's onSend),
    // so its reservation goes now, not when the client has finished sending. Held until then, the refused bodies
    // of a client that retries at once kept the budget full and nothing was admitted again.
    app.addHook('onSend', (request, _reply, payload, done) => {
      const record = request.admission;
      if (record && !request.raw.readableEnded) {
        budget.inFlight -= record.reservedBytes;
        record.reservedBytes = 0;
      }
      done(null, payload);
    });
    // Every exit of an admission route passes here once: answered, 400, 413, 415, 503 alike. Timing,
    // metrics and the log line live here, not in the handler, so none is missed or counted twice.
    app.addHook('onResponse', (request, reply, done) => {
      budget.inFlight -= request.admission?.reservedBytes ?? 0;
      const webhook = reply.routeOptions.config.webhook ?? 'unknown';
      const outcome = request.admission?.outcome;
      const error = request.admission?.error;
      const body = isObject(request.body) ? objectAt(request.body, 'request') : undefined;
      const operation = stringAt(body, 'operation') ?? 'unknown';
      const decision = outcome?.decision ?? exitOf(reply.statusCode);
      const kind = outcome ? (outcome.decision === 'skipped' ? 'other' : (outcome.input?.kind ?? 'other')) : 'unknown';
      metrics.observeAdmission(webhook, kind, operation, decision, reply.elapsedTime / 1000);
      if (reply.statusCode >= 400 && reply.statusCode < 500)
        metrics.badRequests.inc({ status: String(reply.statusCode) });
      for (const fired of outcome?.fired ?? []) {
        if (fired.action === 'mutate') metrics.mutations.inc({ policy: fired.policy, rule: fired.rule });
        else metrics.findings.inc({ policy: fired.policy, rule: fired.rule, action: fired.action });
      }
      const level =
        outcome?.decision === 'error' || reply.statusCode >= 500
          ? 'error'
          : outcome?.skipped || !outcome
            ? 'warn'
            : 'info';
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
          dryRun: isObject(body) && body['dryRun'] === true,
          decision,
          ...(outcome?.decision === 'error' ? { error: outcome.reason } : {}),
          ...(error ? (reply.statusCode >= 500 ? { err: error } : { reason: error.message }) : {}),
          ...(outcome?.skipped ? { skippedMutations: outcome.skipped } : {}),
          fired: (outcome?.fired ?? []).map((fired) => `${fired.policy}:${fired.rule}:${fired.action}`),
          durationMs: reply.elapsedTime,
        },
        'admission',
      );
      done();
    });
    const route = (path: string, handler: AdmissionHandler, webhook: 'mutate' | 'validate'): void => {
      const schema = {
        body: admissionReviewSchema,
        response: { 200: admissionResponseSchema, '4xx': errorResponseSchema, '5xx': errorResponseSchema },
      };
      // Synchronous: the review is, and a promise per request is measurable at this rate.
      app.post<{ Body: AdmissionReview }>(path, { schema, config: { webhook } }, (request, reply) => {
        const engine = state.engine;
        if (!engine) {
          return reply
            .code(503)
            .header('retry-after', '5')
            .send({ error: 'Service Unavailable', message: 'no valid policy set is loaded', statusCode: 503 });
        }
        const outcome = handler(request.body.request, engine);
        if (!outcome.valid)
          return reply.code(400).send({ error: 'Bad Request', message: outcome.message, statusCode: 400 });
        if (request.admission) request.admission.outcome = outcome;
        return reply.send(reviewResponse(outcome.response));
      });
    };
    route('/mutate', mutatingHandler, 'mutate');
    route('/validate', validatingHandler, 'validate');
    done();
  };
}

function healthRoutes(state: WebhookState): FastifyPluginCallback {
  return (app, _options, done) => {
    app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      const readiness = state.readiness();
      return reply
        .code(readiness.ready ? 200 : 503)
        .send({ status: readiness.ready ? 'ready' : 'not ready', reason: readiness.reason });
    });
    done();
  };
}

function errorBody(
  statusCode: number,
  message: string,
  code?: string,
): { error: string; message: string; statusCode: number; code?: string } {
  return { error: STATUS_CODES[statusCode] ?? 'Error', message, statusCode, ...(code ? { code } : {}) };
}

/**
 * The operations listener: probes and /metrics over plain HTTP on their own port, outside the admission
 * listener's connection budget and client-certificate requirement, so kubelet's probes and Prometheus keep
 * working while admission connections are full or mTLS is on.
 */
export function buildOpsServer(options: {
  state: WebhookState;
  logger: Logger;
  metrics: WebhookMetrics;
  beforeScrape?: () => void;
}): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
    connectionTimeout: 10_000,
    requestTimeout: 10_000,
  }) as unknown as FastifyInstance;
  app.register(healthRoutes(options.state));
  app.get('/metrics', async (_request, reply) => {
    options.beforeScrape?.();
    return reply
      .header('content-type', options.metrics.registry.contentType)
      .send(await options.metrics.registry.metrics());
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url}`)),
  );
  return app;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-connection deadlines, caps and the graceful drain of the admission listener. */
    connections: ConnectionGuard | null;
  }
}

/** Builds the admission server; listen() is the caller's, so tests use inject() on the same instance. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = options.metrics ?? new WebhookMetrics({ processMetrics: false });
  const common = {
    loggerInstance: options.logger,
    bodyLimit,
    requestTimeout: limits.requestTimeoutSeconds * 1000,
    connectionTimeout: limits.requestTimeoutSeconds * 1000,
    http2SessionTimeout: 60_000,
    // A rollout drains connections first (ConnectionGuard.drain); requests that still arrive are served.
    return503OnClosing: false,
    // Keys such as __proto__ are data in Kubernetes objects (StorageClass parameters are free-form):
    // JSON.parse makes them own properties, and no code path here assigns through them.
    onProtoPoisoning: 'ignore' as const,
    onConstructorPoisoning: 'ignore' as const,
    // One admission line per request, written by the route, replaces the generic request logs; it carries the
    // request id itself, so no child logger is made per request.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger: FastifyBaseLogger) => logger,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  };
  const app = (options.tls
    ? // The API server's webhook client negotiates HTTP/2 through ALPN; HTTP/1.1 stays available.
      Fastify({
        ...common,
        http2: true,
        https: {
          allowHTTP1: true,
          key: options.tls.key,
          cert: options.tls.cert,
          ...TLS_POLICY,
          settings: { maxConcurrentStreams: limits.maxConcurrentStreams },
          // Node resets a session's streams once it holds more than maxSessionMemory (10 MB by default): sized so the
          // body budget (503 with Retry-After) is always the limit a client meets first, whatever one session sends.
          maxSessionMemory: Math.max(10, Math.ceil((limits.inFlightBodyBytes + bodyLimit) / 1_048_576) + 10),
          ...(options.clientCa ? { ca: options.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
        },
      })
    : Fastify(common)) as unknown as FastifyInstance;

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    // Client errors keep their status; 503 (overloaded, with Retry-After) too; anything else is a bug: 500.
    const statusCode = error.validation ? 400 : (status >= 400 && status < 500) || status === 503 ? status : 500;
    // Admission routes log and count every exit in their onResponse hook; elsewhere a server error is logged here.
    if (request.admission) request.admission.error = error;
    else if (statusCode >= 500) request.log.error({ err: error }, 'request failed');
    const message = error.validation
      ? `invalid AdmissionReview: ${error.message}`
      : statusCode === 413
        ? `request body is larger than ${bodyLimit} bytes`
        : statusCode === 415
          ? `content-type must be application/json, not ${JSON.stringify(request.headers['content-type'] ?? '')}`
          : error.message;
    return reply.code(statusCode).send(errorBody(statusCode, message, error.code));
  });
  // An answer sent before its request body was read (503 from the body budget or the overload guard, 413 part-way,
  // 415): the rest of the body is read and dropped. Left unread on HTTP/2, Node resets that stream and others on the
  // connection (ENHANCE_YOUR_CALM) and stalls the rest; the API server sends every call over one connection, so one
  // refused review failed its neighbours too (measured: 8 clients looping 2.1 MB reviews against a 4 MiB budget).
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (!request.raw.readableEnded) request.raw.resume();
    done(null, payload);
  });
  // The API server sends application/json only; fastify's built-in text/plain parser would let other
  // bodies through to schema validation instead of a 415.
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url}`)),
  );

  app.register(healthRoutes(options.state));
  app.register(
    admissionRoutes(options.state, metrics, options.overload, {
      limit: limits.inFlightBodyBytes,
      bodyLimit,
      inFlight: 0,
    }),
  );
  if (options.overload) app.server.maxConnections = options.overload.maxConnections;
  const guard = new ConnectionGuard(
    app.server,
    {
      requestTimeoutMs: limits.requestTimeoutSeconds * 1000,
      maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
      sessionIdleMs: Math.max(30_000, 3 * limits.requestTimeoutSeconds * 1000),
    },
    (reason) => metrics.connectionsCut.inc({ reason }),
  );
  if (!options.tls) guard.trackPlainHttp1();
  app.decorate('connections', guard);
  return app;
}

/** Swaps the serving certificate of a listening TLS server: new handshakes get it, open connections carry on. */
export function setServingCertificate(app: FastifyInstance, secure: SecureContextOptions): void {
  const server: unknown = app.server;
  if (!(server instanceof TlsServer)) throw new Error('the server is not serving TLS');
  server.setSecureContext(secure);
}
