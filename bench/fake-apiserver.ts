import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { JsonObject } from '../src/core/json.js';
import { CACHED_KINDS, listPathOf } from '../src/core/kinds.js';
import { clusterObjects } from './workload.js';

/** Where each kind is listed, as the cluster cache asks for it: every cached kind of the kind table. */
const PATHS: Record<string, string> = Object.fromEntries(CACHED_KINDS.map((kind) => [listPathOf(kind), kind]));

/**
 * Just enough of an API server on loopback to feed the webhook's live cache in production shape: paged lists
 * (500 a page, as the cache asks) of the objects given, and watches that stay open and quiet.
 */
export class FakeApiServer {
  private server: Server | undefined;
  private readonly watches = new Set<ServerResponse>();

  constructor(private readonly objects: JsonObject[]) {}

  async start(tls: { key: string; cert: string }): Promise<number> {
    this.server = createServer({ key: tls.key, cert: tls.cert }, (request, response) => {
      const url = new URL(request.url ?? '/', 'https://127.0.0.1');
      const kind = PATHS[url.pathname];
      if (!kind)
        return void response.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
      if (url.searchParams.get('watch') === 'true') {
        response.writeHead(200, { 'content-type': 'application/json' });
        this.watches.add(response);
        response.on('close', () => this.watches.delete(response));
        return;
      }
      const items = this.objects.filter((object) => object['kind'] === kind);
      const limit = Number(url.searchParams.get('limit') ?? items.length) || items.length;
      const start = Number(url.searchParams.get('continue') ?? 0);
      const next = start + limit < items.length ? String(start + limit) : undefined;
      // A list's items carry no kind or apiVersion (JSON.stringify leaves the undefined keys out).
      const page = items
        .slice(start, start + limit)
        .map((object) => ({ ...object, apiVersion: undefined, kind: undefined }));
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          kind: `${kind}List`,
          metadata: { resourceVersion: '1', ...(next ? { continue: next } : {}) },
          items: page,
        }),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server?.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const watch of this.watches) watch.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

// Run as its own process by the bench (`node fake-apiserver.js CERT KEY`: prints its port), so the 10,000 objects it
// serves are not in the load generator's heap, whose collections would delay the requests it times.
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [certFile, keyFile, claims = '10000'] = process.argv.slice(2);
  const server = new FakeApiServer(clusterObjects(Number(claims), 1_000));
  const port = await server.start({
    cert: readFileSync(certFile ?? '', 'utf8'),
    key: readFileSync(keyFile ?? '', 'utf8'),
  });
  process.stdout.write(`${port}\n`);
  process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
}
