import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Engine } from '../../src/engine/engine.js';
import { ClusterCache } from '../../src/lookup/cluster-cache.js';
import { CACHED_KINDS } from '../../src/core/kinds.js';
import { ClusterState } from '../../src/lookup/cluster-state.js';
import { policy, pvc, storageClass } from '../helpers.js';
import { loopbackKubeConfig } from '../fake-apiserver.js';
import { eventually } from '../loopback.js';

/** Just enough of an API server for list and watch, on loopback, that can go down and come back. */
class FakeApiServer {
  server: Server | undefined;
  up = true;
  resourceVersion = 10;
  readonly watches = new Set<ServerResponse>();
  readonly classes = [
    storageClass('gp3', 'ebs.csi.aws.com', { parameters: { type: 'gp3' }, volumeBindingMode: 'WaitForFirstConsumer' }),
  ];
  lists = 0;
  /** Every watch request's URL, in order. */
  readonly watchRequests: URL[] = [];
  /** Resources this API server refuses to list (403), as one whose RBAC the webhook's upgrade did not update. */
  forbidden: string[] = [];

  async start(cert: { key: string; cert: string }): Promise<number> {
    this.server = createServer({ key: cert.key, cert: cert.cert }, (request, response) => {
      const url = new URL(request.url ?? '/', 'https://localhost');
      if (!this.up) {
        response.writeHead(503).end('{"kind":"Status","code":503}');
        return;
      }
      if (this.forbidden.some((resource) => url.pathname.endsWith(`/${resource}`))) {
        response.writeHead(403).end('{"kind":"Status","code":403,"reason":"Forbidden"}');
        return;
      }
      const items = url.pathname.endsWith('/storageclasses') ? this.classes : [];
      if (url.searchParams.get('watch') === 'true') {
        this.watchRequests.push(url);
        response.writeHead(200, { 'content-type': 'application/json' });
        this.watches.add(response);
        response.on('close', () => this.watches.delete(response));
        return;
      }
      this.lists += 1;
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'List', metadata: { resourceVersion: String(this.resourceVersion) }, items }));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server?.address() as AddressInfo).port;
  }

  emit(type: string, object: unknown): void {
    this.resourceVersion += 1;
    for (const watch of this.watches) watch.write(`${JSON.stringify({ type, object })}\n`);
  }

  dropWatches(): void {
    for (const watch of this.watches) watch.destroy();
  }

  async stop(): Promise<void> {
    this.dropWatches();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('cluster cache against a list/watch API server on loopback', () => {
  const api = new FakeApiServer();
  const state = new ClusterState('not synced');
  let cache: ClusterCache;

  before(async () => {
    const config = await loopbackKubeConfig((cert) => api.start(cert));
    cache = new ClusterCache(config, state, pino({ level: 'silent' }), { initialBackoffMs: 50, maxBackoffMs: 200 });
  });
  after(async () => {
    cache.stop();
    await api.stop();
  });

  it('answers unknown until the first sync, then from the list', async () => {
    assert.equal(state.storageClass('gp3').known, false);
    cache.start();
    await eventually('the first sync', () => cache.initialSyncDone);
    const gp3 = state.storageClass('gp3');
    assert.ok(gp3.known && gp3.value?.provisioner === 'ebs.csi.aws.com');
  });

  it('applies watch events', async () => {
    await eventually(
      `the watches to open (${CACHED_KINDS.join(', ')})`,
      () => api.watches.size === CACHED_KINDS.length,
    );
    api.emit(
      'ADDED',
      storageClass('io2', 'ebs.csi.aws.com', {
        metadata: { name: 'io2', resourceVersion: '11' },
        parameters: { type: 'io2', iopsPerGB: '10' },
      }),
    );
    await eventually('io2 to arrive', () => {
      const io2 = state.storageClass('io2');
      return io2.known && io2.value !== undefined;
    });
    api.emit('DELETED', {
      ...storageClass('io2', 'ebs.csi.aws.com'),
      metadata: { name: 'io2', resourceVersion: '12' },
    });
    await eventually('io2 to go', () => {
      const io2 = state.storageClass('io2');
      return io2.known && io2.value === undefined;
    });
  });

  it('while the API server is gone, decisions follow lookupFailure and say why; then it recovers', async () => {
    const engine = new Engine({ policies: [policy({ accessModes: {}, lookupFailure: 'deny' })], lookup: state });
    const judge = () =>
      engine.validate({
        kind: 'PersistentVolumeClaim',
        operation: 'CREATE',
        namespace: 'team-a',
        name: 'd',
        object: pvc({ storageClassName: 'gp3' }),
      });
    assert.deepEqual(judge(), []);
    api.up = false;
    api.dropWatches();
    await eventually('the cache to report the outage', () => !state.storageClasses().known);
    const findings = judge();
    assert.equal(findings[0]?.rule, 'lookup/unavailable');
    assert.equal(findings[0]?.action, 'deny');
    assert.match(findings[0]?.message ?? '', /cluster cache for \w+ unavailable: GET .* HTTP 503/);
    assert.ok(cache.initialSyncDone, 'readiness does not flap: the first sync happened');
    const listsBefore = api.lists;
    api.up = true;
    await eventually('recovery', () => state.storageClasses().known);
    assert.ok(api.lists > listsBefore, 'it re-listed');
    assert.deepEqual(judge(), []);
  });
});

describe('client-node, loaded for what is used', () => {
  it("KubeConfig and Watch load without the package's generated API models, and the kubeconfig's credentials apply", () => {
    const kubeApi = fileURLToPath(new URL('../../src/lookup/kube-api.js', import.meta.url));
    // A second resolve hook, registered first, sees which client-node files get loaded.
    const script = `
      import { registerHooks } from 'node:module';
      import { writeFileSync } from 'node:fs';
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); loaded.push(resolved.url); return resolved; } });
      const { loadKubeConfig } = await import(${JSON.stringify(kubeApi)});
      const file = process.argv[1] + '.kubeconfig';
      writeFileSync(file, 'apiVersion: v1\\nkind: Config\\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\\nusers: [{name: u, user: {token: secret-token}}]\\ncontexts: [{name: x, context: {cluster: c, user: u}}]\\ncurrent-context: x\\n');
      const config = await loadKubeConfig(file);
      const options = {};
      await config.applyToHTTPSOptions(options);
      console.log(JSON.stringify({ authorization: options.headers?.Authorization, models: loaded.filter((url) => url.includes('/gen/models/')).length, watch: loaded.some((url) => url.endsWith('/dist/watch.js')) }));
    `;
    const result = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, join(tmpdir(), `kubeconfig-${process.pid}`)],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout.trim()), {
      authorization: 'Bearer secret-token',
      models: 0,
      watch: true,
    });
  });
});

describe('cluster cache: kinds kept for the audit alone', () => {
  it('a workload kind the API server refuses to list (RBAC not updated) delays neither readiness nor lookups', async () => {
    const api = new FakeApiServer();
    api.forbidden = ['deployments', 'daemonsets', 'jobs', 'cronjobs'];
    const state = new ClusterState('not synced');
    const config = await loopbackKubeConfig((cert) => api.start(cert));
    const cache = new ClusterCache(config, state, pino({ level: 'silent' }), {
      initialBackoffMs: 50,
      maxBackoffMs: 200,
    });
    try {
      cache.start();
      await eventually('the first sync of what the lookups read', () => cache.initialSyncDone);
      assert.equal(state.storageClass('gp3').known, true);
      await eventually('the refused kinds reported', () => cache.status().Deployment !== 'syncing');
      assert.match(cache.status().Deployment ?? '', /403/);
      assert.equal(cache.status().StorageClass, 'synced');
    } finally {
      cache.stop();
      await api.stop();
    }
  });
});

describe('cluster cache on a quiet cluster', () => {
  const api = new FakeApiServer();
  const state = new ClusterState('not synced');
  let cache: ClusterCache;
  const idleMs = 300;

  before(async () => {
    const config = await loopbackKubeConfig((cert) => api.start(cert));
    cache = new ClusterCache(config, state, pino({ level: 'silent' }), {
      initialBackoffMs: 50,
      maxBackoffMs: 200,
      watchIdleMs: idleMs,
    });
  });
  after(async () => {
    cache.stop();
    await api.stop();
  });

  it('a watch that stays quiet past its idle limit is opened again from its last version, never listed again', async () => {
    cache.start();
    await eventually('the first sync', () => cache.initialSyncDone);
    const io2 = () => state.storageClass('io2');
    // A watch may be between its idle end and its next request when an event is sent, and this API server keeps no
    // history to replay: an event is sent again until the cache has it.
    const deliver = (what: string, type: string, object: unknown, arrived: () => boolean) =>
      eventually(what, () => {
        if (arrived()) return true;
        if (api.watches.size === CACHED_KINDS.length) api.emit(type, object);
        return false;
      });
    await deliver(
      'io2 to arrive',
      'ADDED',
      storageClass('io2', 'ebs.csi.aws.com', {
        metadata: { name: 'io2', resourceVersion: '11' },
        parameters: { type: 'io2' },
      }),
      () => {
        const found = io2();
        return found.known && found.value !== undefined;
      },
    );
    const lists = api.lists;
    const watched = api.watchRequests.length;
    // Three idle limits with nothing sent: every kind's watch ends quiet and is opened again, at least twice.
    await new Promise((resolve) => setTimeout(resolve, idleMs * 3 + 200));
    assert.ok(
      api.watchRequests.length >= watched + 2 * CACHED_KINDS.length,
      `watches opened again: ${api.watchRequests.length - watched}`,
    );
    assert.equal(api.lists, lists, 'a quiet watch made the cache list again');
    const classWatches = api.watchRequests.filter((url) => url.pathname.endsWith('/storageclasses'));
    assert.equal(classWatches.at(-1)?.searchParams.get('resourceVersion'), '11');
    assert.ok(cache.initialSyncDone && io2().known);
    await deliver(
      'io2 to go through the new watch',
      'DELETED',
      { ...storageClass('io2', 'ebs.csi.aws.com'), metadata: { name: 'io2', resourceVersion: '12' } },
      () => {
        const found = io2();
        return found.known && found.value === undefined;
      },
    );
  });
});
