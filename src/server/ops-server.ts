import Fastify, { LogController, type FastifyInstance, type FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import { errorBody } from './http-errors.js';
import type { WebhookMetrics } from './metrics.js';
import type { WebhookState } from './state.js';

export const healthRoutes: FastifyPluginCallback<{ state: WebhookState }> = (app, { state }, done) => {
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const readiness = state.readiness();
    return reply
      .code(readiness.ready ? 200 : 503)
      .send({ status: readiness.ready ? 'ready' : 'not ready', reason: readiness.reason });
  });
  done();
};

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
  app.register(healthRoutes, { state: options.state });
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
