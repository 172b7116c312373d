import { Server as TlsServer, type SecureContextOptions } from 'node:tls';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { admissionRoutes, type OverloadOptions } from './admission-routes.js';
import { ConnectionGuard } from './connections.js';
import { errorAnswer, errorBody } from './http-errors.js';
import { WebhookMetrics } from './metrics.js';
import { healthRoutes } from './ops-server.js';
import { TLS_POLICY } from './tls.js';
import type { WebhookState } from './state.js';
import unreadBodies from './unread-bodies.js';

// The admission listener: fastify with TLS (HTTP/2 and HTTP/1.1), its connection guard, and the plugins that serve
// it (admission-routes.ts, body-budget.ts, admission-telemetry.ts, unread-bodies.ts); probes and metrics are the ops
// listener's (ops-server.ts), served here too for the probes.

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

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-connection deadlines, caps and the graceful drain of the admission listener. */
    connections: ConnectionGuard | null;
  }
}

/**
 * Fastify's own options for the admission listener (without TLS): one place, so the bench's ablation ladder builds
 * its steps exactly as the webhook is built.
 */
export function fastifyOptions(logger: Logger, bodyLimit: number, requestTimeoutSeconds: number) {
  return {
    loggerInstance: logger,
    bodyLimit,
    requestTimeout: requestTimeoutSeconds * 1000,
    connectionTimeout: requestTimeoutSeconds * 1000,
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
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  };
}

/** Builds the admission server; listen() is the caller's, so tests use inject() on the same instance. */
export function buildServer(options: ServerOptions): FastifyInstance {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const metrics = options.metrics ?? new WebhookMetrics({ processMetrics: false });
  const common = fastifyOptions(options.logger, bodyLimit, limits.requestTimeoutSeconds);
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

  // Errors outside the admission routes (which answer and log their own): 404s, probes.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = errorAnswer(error, request, bodyLimit);
    if (answer.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(answer.statusCode).send(answer);
  });
  app.register(unreadBodies);
  // The API server sends application/json only; fastify's built-in text/plain parser would let other
  // bodies through to schema validation instead of a 415.
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url}`)),
  );
  app.register(healthRoutes, { state: options.state });
  app.register(admissionRoutes, {
    state: options.state,
    metrics,
    overload: options.overload,
    bodyLimit,
    inFlightBodyBytes: limits.inFlightBodyBytes,
  });
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
