import { readFileSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer } from 'node:http2';

/**
 * The bench's bare servers: Node's HTTP/2 + TLS server (HTTP/1.1 fallback) that reads each body whole, parses it
 * as JSON and answers what `answer` returns (undefined: 400), over HTTP/2 in one write as the webhook does. What
 * differs between the baselines is `answer` alone.
 */
export function serveJson(
  port: number,
  certFile: string,
  keyFile: string,
  answer: (path: string, body: unknown) => unknown,
): Http2SecureServer {
  const server = createSecureServer(
    { allowHTTP1: true, cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        let reply: unknown;
        try {
          // The path without its query: the API server calls a webhook at its URL with ?timeout=10s added.
          reply = answer(request.url.split('?')[0] ?? '', JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reply = undefined;
        }
        if (reply === undefined) return void response.writeHead(400).end();
        const body = JSON.stringify(reply);
        // HTTP/2: headers, body and END_STREAM in one write, as the webhook answers (src/server/stream-reply.ts), so
        // the baselines put on the wire what it does.
        const stream = 'stream' in request ? request.stream : undefined;
        if (stream && !stream.destroyed) {
          stream.respond({
            ':status': 200,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          });
          stream.end(body);
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      });
    },
  );
  server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
  return server;
}
