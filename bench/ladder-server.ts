import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { mutatingHandler, validatingHandler, type AdmissionHandler } from '../src/admission/handler.js';
import { reviewResponse, type AdmissionResponse, type AdmissionReview } from '../src/admission/protocol.js';
import { Auditor } from '../src/audit/auditor.js';
import type { JsonObject } from '../src/core/json.js';
import { Engine } from '../src/engine/engine.js';
import { loadInventory } from '../src/lookup/inventory.js';
import { loadPolicies } from '../src/engine/policies.js';
import { admissionRouteSchema } from '../src/server/admission-schemas.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_LIMITS, fastifyOptions } from '../src/server/app.js';
import admissionTelemetry from '../src/server/admission-telemetry.js';
import bodyBudget from '../src/server/body-budget.js';
import { WebhookMetrics } from '../src/server/metrics.js';
import { sendJson } from '../src/server/stream-reply.js';
import { TLS_POLICY } from '../src/server/tls.js';
import unreadBodies from '../src/server/unread-bodies.js';
import { serveJson } from './json-server.js';

// The ablation ladder: one server per step between the bare engine and the full webhook, each in production shape
// (the cluster data of the inventory, an audit's results held, deploy/'s heap flags from the bench), so a step's
// cost is the difference between two neighbours. The plugins are the webhook's own (src/server/).
// Usage: node ladder-server.js STEP PORT CERT KEY POLICIES_DIR INVENTORY
// STEP: bare (no framework) | routes-send (Fastify routes answering with reply.send()) | routes (answering in one
// write through the HTTP/2 stream, as the webhook does) | schemas | budget (+ body budget, unread-body drain) |
// telemetry (+ metrics, log level silent) | log (+ the admission log line at info).
const [step = 'bare', port, certFile = '', keyFile = '', policiesDir = '', inventory = ''] = process.argv.slice(2);
const STEPS = ['bare', 'routes-send', 'routes', 'schemas', 'budget', 'telemetry', 'log'];
if (!STEPS.includes(step)) throw new Error(`step must be one of ${STEPS.join(', ')}`);
const reached = (name: string): boolean => STEPS.indexOf(step) >= STEPS.indexOf(name);

const { policies } = await loadPolicies(policiesDir);
const lookup = await loadInventory([inventory]);
const engine = new Engine({ policies, lookup });
// What the webhook holds besides its cache: the audit's results of every object.
const auditor = new Auditor();
const listed = JSON.parse(readFileSync(inventory, 'utf8')) as { items: JsonObject[] };
for (const object of listed.items) auditor.upsert(object);
auditor.run(engine);

const handlers: Record<string, AdmissionHandler> = { '/mutate': mutatingHandler, '/validate': validatingHandler };
// BENCH_TARGET: each answer carries a warning naming this server, so a comparison through kube-apiserver can tell
// when the API server has switched to it (bench/through-apiserver.ts).
const target = process.env['BENCH_TARGET'];
const answer = (response: AdmissionResponse) =>
  reviewResponse(
    target ? { ...response, warnings: [...(response.warnings ?? []), `bench target: ${target}`] } : response,
  );

if (step === 'bare') {
  serveJson(Number(port), certFile, keyFile, (path, body) => {
    const handler = handlers[path];
    const outcome = handler?.((body as AdmissionReview).request, engine);
    return outcome?.valid ? answer(outcome.response) : undefined;
  });
} else {
  const logger = pino(
    { level: reached('log') ? 'info' : 'silent' },
    pino.destination({ dest: 1, sync: false, minLength: 4096 }),
  );
  // Fastify's options are the webhook's own (request logs off, no child logger per request, ...).
  const app = Fastify({
    ...fastifyOptions(logger, DEFAULT_BODY_LIMIT, DEFAULT_LIMITS.requestTimeoutSeconds),
    http2: true,
    https: { allowHTTP1: true, key: readFileSync(keyFile), cert: readFileSync(certFile), ...TLS_POLICY },
  }) as unknown as FastifyInstance;
  if (reached('budget')) app.register(unreadBodies);
  app.register((scope, _options, done) => {
    if (reached('telemetry'))
      scope.register(admissionTelemetry, { metrics: new WebhookMetrics({ processMetrics: false }) });
    if (reached('budget'))
      scope.register(bodyBudget, { limit: DEFAULT_LIMITS.inFlightBodyBytes, bodyLimit: DEFAULT_BODY_LIMIT });
    for (const [path, handler] of Object.entries(handlers)) {
      const options = reached('schemas') ? { schema: admissionRouteSchema } : {};
      scope.post<{ Body: AdmissionReview }>(path, options, (request, reply) => {
        const outcome = handler(request.body.request, engine);
        if (!outcome.valid)
          return reply.code(400).send({ error: 'Bad Request', message: outcome.message, statusCode: 400 });
        if (request.admission) request.admission.outcome = outcome;
        if (!reached('routes')) return reply.send(answer(outcome.response));
        sendJson(request, reply, answer(outcome.response));
        return undefined;
      });
    }
    done();
  });
  await app.listen({ port: Number(port), host: '127.0.0.1' });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}
