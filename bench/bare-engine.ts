import { mutatingHandler, validatingHandler } from '../src/admission/handler.js';
import { reviewResponse, type AdmissionReview } from '../src/admission/protocol.js';
import { Engine } from '../src/engine/engine.js';
import { loadInventory } from '../src/lookup/inventory.js';
import { loadPolicies } from '../src/engine/policies.js';
import { serveJson } from './json-server.js';

// The second baseline: the same TLS server as baseline.ts running this project's engine and handlers on each
// body, with no framework, logging or metrics. Against the webhook it shows what Fastify and the
// instrumentation cost. Usage: node bare-engine.js PORT CERT KEY POLICIES_DIR INVENTORY
const [port, certFile, keyFile, policiesDir, inventory] = process.argv.slice(2);

const { policies } = await loadPolicies(policiesDir ?? '');
const engine = new Engine({ policies, lookup: await loadInventory([inventory ?? '']) });

serveJson(Number(port), certFile ?? '', keyFile ?? '', (path, body) => {
  const handler = path === '/mutate' ? mutatingHandler : path === '/validate' ? validatingHandler : undefined;
  const outcome = handler?.((body as AdmissionReview).request, engine);
  return outcome?.valid ? reviewResponse(outcome.response) : undefined;
});
