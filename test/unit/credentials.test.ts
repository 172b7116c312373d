import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { Engine } from '../../src/engine/engine.js';
import { decide, reviewInputOf } from '../../src/engine/pipeline.js';
import { ClusterCache } from '../../src/lookup/cluster-cache.js';
import { ClusterState } from '../../src/lookup/cluster-state.js';
import { callApi, redactCredentials } from '../../src/lookup/kube-api.js';
import { WebhookMetrics } from '../../src/server/metrics.js';
import { PolicyReloader } from '../../src/server/reload.js';
import { WebhookState } from '../../src/server/state.js';
import { cluster, pvc } from '../helpers.js';
import { loopbackKubeConfig } from '../fake-apiserver.js';
import { eventually } from '../loopback.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXNlY3JldA';

describe('credentials never reach a log line', () => {
  let server: Server;
  let config: KubeConfig;
  before(async () => {
    // An API server (or a proxy before it) that echoes the request headers in its error bodies.
    config = await loopbackKubeConfig(async (cert) => {
      server = createServer(cert, (request, response) => {
        response.writeHead(403, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            kind: 'Status',
            message: 'forbidden',
            headers: request.headers,
            raw: `Authorization: Bearer ${TOKEN}`,
          }),
        );
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return (server.address() as AddressInfo).port;
    }, TOKEN);
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('an API error keeps its status and a short message, with the token redacted', async () => {
    const error = await callApi(config, { method: 'GET', path: '/api/v1/nodes' }).then(
      () => assert.fail('the echo server answers 403'),
      (caught: unknown) => caught as Error & { status: number },
    );
    assert.equal(error.status, 403);
    assert.match(error.message, /^GET \/api\/v1\/nodes: HTTP 403: /);
    assert.ok(!error.message.includes(TOKEN) && !error.message.includes('c2lnbmF0dXJlLXNlY3JldA'), error.message);
    assert.ok(error.message.length < 300, `${error.message.length} characters`);
  });

  it('the cluster cache logs every failed list and watch without it', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({ write: (chunk: Buffer, _encoding, callback) => (lines.push(chunk.toString()), callback()) }),
    );
    const cache = new ClusterCache(config, new ClusterState('not synced'), logger, {
      initialBackoffMs: 20,
      maxBackoffMs: 40,
    });
    cache.start();
    try {
      await eventually(
        'a dozen failed lists logged',
        () => lines.filter((line) => line.includes('cluster cache list failed')).length >= 12,
        10_000,
        20,
      );
    } finally {
      cache.stop();
    }
    const leaking = lines.filter((line) => line.includes(TOKEN) || line.includes('c2lnbmF0dXJlLXNlY3JldA'));
    assert.deepEqual(leaking, [], `${leaking.length} of ${lines.length} lines carry the token`);
    assert.ok(
      lines.some((line) => line.includes('[redacted')),
      'the redaction is visible',
    );
  });

  it('redacts the shapes credentials come in, and leaves the rest', () => {
    assert.equal(redactCredentials('Authorization: Basic dXNlcjpwYXNz, next'), 'Authorization: [redacted], next');
    assert.equal(redactCredentials('retry with bearer abc.def-ghi'), 'retry with bearer [redacted]');
    assert.equal(redactCredentials('{"token":"abc.def","kind":"Status"}'), '{"token":"[redacted]","kind":"Status"}');
    assert.equal(
      redactCredentials('-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY----- after'),
      '[redacted private key] after',
    );
    assert.equal(
      redactCredentials('storageclasses "gp3" is forbidden: User "system:serviceaccount:x:y" cannot list'),
      'storageclasses "gp3" is forbidden: User "system:serviceaccount:x:y" cannot list',
    );
  });
});

describe('a policy file rewritten slowly in place', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slow-writer-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is loaded once, whole: the decision never takes the half-written file’s value', async () => {
    const head = `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: platform}
spec:
  match: {kinds: [PersistentVolumeClaim]}
  storageClasses:
`;
    await writeFile(join(dir, 'platform.yaml'), `${head}    allowed: [gp3, io2]\n`);
    const state = new WebhookState(cluster());
    const reloader = new PolicyReloader(
      state,
      dir,
      new WebhookMetrics({ processMetrics: false }),
      pino({ level: 'silent' }),
    );
    assert.ok(await reloader.reload('startup'));
    const stop = reloader.watch();
    const input = reviewInputOf({ object: pvc({ storageClassName: 'io2' }), operation: 'CREATE' });
    assert.ok(input);
    const decision = (): string => {
      const verdict = decide(state.engine as Engine, input, 'validate');
      return verdict.allowed ? (verdict.warnings.length > 0 ? 'warned' : 'allowed') : 'denied';
    };
    const seen: string[] = [];
    const observe = setInterval(() => {
      const now = decision();
      if (seen[seen.length - 1] !== now) seen.push(now);
    }, 10);
    try {
      // Half of the new file (it parses: io2 no longer allowed), a pause as an editor or kubectl cp makes, the rest
      // (which turns the denial into a warning).
      await writeFile(join(dir, 'platform.yaml'), `${head}    allowed: [gp3]\n`);
      await new Promise((resolve) => setTimeout(resolve, 600));
      await appendFile(join(dir, 'platform.yaml'), '  rules:\n    storage-class/allowed: warn\n');
      await eventually('the whole new file loaded', () => decision() === 'warned', 5_000, 20);
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      clearInterval(observe);
      stop();
    }
    assert.deepEqual(
      seen,
      ['allowed', 'warned'],
      `decisions seen: ${seen.join(' -> ')}; the file now: ${await readFile(join(dir, 'platform.yaml'), 'utf8')}`,
    );
  });
});
