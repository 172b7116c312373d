import { readFileSync } from 'node:fs';
import type { AdmissionResponse } from '../src/admission/protocol.js';
import { serveJson } from './json-server.js';

// The ceiling of this stack: the same TLS (HTTP/2 with HTTP/1.1 fallback), the same bodies parsed,
// a fixed allowed answer. Usage: node baseline.js PORT CERT KEY [MUTATE_ANSWER]
// MUTATE_ANSWER, a JSON file of an AdmissionResponse: /mutate answers with its patch and warnings, computed nowhere
// (the canned rung of bench/through-apiserver.ts: what the API server pays for this webhook's answer, at the null
// webhook's speed).
const [port, certFile, keyFile, mutateAnswer] = process.argv.slice(2);
const canned: Partial<AdmissionResponse> = mutateAnswer
  ? (JSON.parse(readFileSync(mutateAnswer, 'utf8')) as AdmissionResponse)
  : {};

serveJson(Number(port), certFile ?? '', keyFile ?? '', (path, body) => {
  const uid = (body as { request?: { uid?: string } }).request?.uid ?? '';
  const response = path === '/mutate' ? { ...canned, uid, allowed: true } : { uid, allowed: true };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
});
