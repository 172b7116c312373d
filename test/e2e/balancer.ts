import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * What a Service does in front of the webhook's pods, on loopback: new TCP connections go round-robin to the
 * backends whose /readyz answers 200 (the endpoints), and an open connection stays with its backend. Used to
 * roll the webhook while the API server writes through it. It runs as its own process
 * (`node balancer.js PORT CA_FILE BACKEND...`): the tests drive kubectl synchronously, which would stall a
 * balancer in the same event loop.
 */
function ready(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpsRequest(
      { host: '127.0.0.1', port, path: '/readyz', ca, agent: false, timeout: 500 },
      (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      },
    );
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
    request.end();
  });
}

async function balance(port: number, ca: string, backends: number[]): Promise<void> {
  const endpoints = new Set<number>();
  const refresh = async (): Promise<void> => {
    for (const backend of backends) {
      if (await ready(backend, ca)) endpoints.add(backend);
      else endpoints.delete(backend);
    }
  };
  await refresh();
  setInterval(() => void refresh(), 100);
  let next = 0;
  const server = createServer((client) => {
    const choices = [...endpoints];
    const backend = choices[next++ % Math.max(choices.length, 1)];
    if (backend === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: backend });
    for (const socket of [client, upstream]) {
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [port, caFile, ...backends] = process.argv.slice(2);
  await balance(Number(port), readFileSync(caFile ?? '', 'utf8'), backends.map(Number));
  process.on('SIGTERM', () => process.exit(0));
}
