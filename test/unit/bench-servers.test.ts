import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveJson } from '../../bench/json-server.js';
import { makeServingCertificate } from '../../src/server/tls.js';
import { freePort } from '../loopback.js';

// The bench's bare servers route by path as the webhook does: the API server calls a webhook at its URL with
// ?timeout=10s added, and a bare server that matched the whole URL answered /mutate with the validating handler (no
// patch), which made the API server's cost of applying this webhook's patch look like Fastify's.

describe('the bench servers', () => {
  let dir = '';
  let port = 0;
  let ca = '';
  let close = (): void => undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-servers-'));
    const serving = await makeServingCertificate(['127.0.0.1']);
    ca = serving.cert;
    await writeFile(join(dir, 'tls.crt'), serving.cert);
    await writeFile(join(dir, 'tls.key'), serving.key);
    port = await freePort();
    const server = serveJson(port, join(dir, 'tls.crt'), join(dir, 'tls.key'), (path) => ({ path }));
    await new Promise((resolve) => server.once('listening', resolve));
    close = () => void server.close();
  });
  after(async () => {
    close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answer a path without the query the API server adds', async () => {
    const session = connect(`https://127.0.0.1:${port}`, { ca });
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/mutate?timeout=10s' });
      stream.end(JSON.stringify({ request: { uid: 'u' } }));
      let text = '';
      stream.setEncoding('utf8');
      for await (const chunk of stream) text += String(chunk);
      assert.deepEqual(JSON.parse(text), { path: '/mutate' });
    } finally {
      session.close();
    }
  });
});
