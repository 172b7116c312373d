import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { mutatingHandler, validatingHandler } from '../src/admission/handler.js';
import { reviewResponse, type AdmissionReview } from '../src/admission/review.js';
import { Engine } from '../src/engine/engine.js';
import { loadInventory } from '../src/lookup/inventory.js';
import { loadPolicyDir } from '../src/policy/load.js';

// The second baseline: the same TLS server as baseline.ts running this project's engine and handlers on each
// body, with no framework, logging or metrics. Against the webhook it shows what Fastify and the
// instrumentation cost. Usage: node bare-engine.js PORT CERT KEY POLICIES_DIR INVENTORY
const [port, certFile, keyFile, policiesDir, inventory] = process.argv.slice(2);

const { policies } = await loadPolicyDir(policiesDir ?? '');
const engine = new Engine(policies, await loadInventory([inventory ?? '']));

const server = createSecureServer({ allowHTTP1: true, cert: readFileSync(certFile ?? ''), key: readFileSync(keyFile ?? ''), minVersion: 'TLSv1.2' }, (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let review: AdmissionReview;
    try {
      review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
    } catch {
      response.writeHead(400).end();
      return;
    }
    const outcome = (request.url === '/mutate' ? mutatingHandler : validatingHandler)(review.request, engine);
    if (!outcome.valid) return void response.writeHead(400).end();
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(reviewResponse(outcome.response)));
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
