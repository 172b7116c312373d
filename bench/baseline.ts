import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';

// The ceiling of this stack: the same TLS (HTTP/2 with HTTP/1.1 fallback), the same bodies parsed,
// a fixed allowed answer. Usage: node baseline.js PORT CERT KEY
const [port, certFile, keyFile] = process.argv.slice(2);

const server = createSecureServer({ allowHTTP1: true, cert: readFileSync(certFile ?? ''), key: readFileSync(keyFile ?? ''), minVersion: 'TLSv1.2' }, (request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    let uid: string;
    try {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: { uid?: string } };
      uid = review.request?.uid ?? '';
    } catch {
      response.writeHead(400).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } }));
  });
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
