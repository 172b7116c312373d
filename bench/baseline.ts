import { serveJson } from './json-server.js';

// The ceiling of this stack: the same TLS (HTTP/2 with HTTP/1.1 fallback), the same bodies parsed,
// a fixed allowed answer. Usage: node baseline.js PORT CERT KEY
const [port, certFile, keyFile] = process.argv.slice(2);

serveJson(Number(port), certFile ?? '', keyFile ?? '', (_path, body) => {
  const uid = (body as { request?: { uid?: string } }).request?.uid ?? '';
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
});
