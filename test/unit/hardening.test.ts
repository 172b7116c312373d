import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { BUNDLED_POLICIES_DIR } from '../../src/policy/load.js';
import { loadPolicies } from '../../src/engine/policies.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookState } from '../../src/server/state.js';
import { makeCertificateAuthority, makeClientCertificate, makeServingCertificate } from '../../src/server/tls.js';
import { cluster, pvc } from '../helpers.js';
import { ServeProcess } from '../serve-process.js';

const BODY = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'h',
    kind: { group: '', version: 'v1', kind: 'PersistentVolumeClaim' },
    namespace: 'payments',
    operation: 'CREATE',
    object: pvc({ storageClassName: 'gp3' }),
  },
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function post(port: number, ca: string, extra: { cert?: string; key?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        ca,
        agent: false,
        timeout: 5000,
        headers: { 'content-type': 'application/json' },
        ...extra,
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('client timeout')));
    request.on('error', reject);
    request.end(BODY);
  });
}

describe('hardening', () => {
  let dir: string;
  let ca: { key: string; cert: string };
  let certArgs: string[];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hardening-'));
    ca = await makeCertificateAuthority('hardening CA');
    const serving = await makeServingCertificate(['127.0.0.1'], ca);
    await writeFile(join(dir, 'tls.crt'), serving.cert);
    await writeFile(join(dir, 'tls.key'), serving.key);
    certArgs = [`--cert=${join(dir, 'tls.crt')}`, `--key=${join(dir, 'tls.key')}`];
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('overload: admission answers 503 with Retry-After while the event loop lags; health stays 200', async () => {
    const state = new WebhookState(cluster());
    state.swap(await loadPolicies(BUNDLED_POLICIES_DIR));
    const app = buildServer({
      state,
      logger: pino({ level: 'silent' }),
      overload: { maxEventLoopDelayMs: 20, maxHeapUsedBytes: 4 * 1024 ** 3, maxConnections: 100 },
    });
    await app.ready();
    const post503 = () =>
      app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: BODY });
    assert.equal((await post503()).statusCode, 200);
    let overloaded;
    const deadline = Date.now() + 10_000;
    do {
      const stop = Date.now() + 400;
      while (Date.now() < stop) {
        // Block the event loop as a CPU-bound burst would.
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
      overloaded = await post503();
    } while (overloaded.statusCode !== 503 && Date.now() < deadline);
    assert.equal(overloaded.statusCode, 503);
    assert.equal(overloaded.headers['retry-after'], '5');
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    await app.close();
  });

  it('far more connections than allowed: the extra ones are refused, memory stays bounded, service continues', async () => {
    const server = await new ServeProcess([...certArgs, '--max-connections=50']).start();
    const port = server.port;
    const sockets: TLSSocket[] = [];
    try {
      const before = server.rssMiB();
      const outcomes = await Promise.all(
        Array.from(
          { length: 600 },
          () =>
            new Promise<'open' | 'refused'>((resolve) => {
              const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, timeout: 5000 }, () => resolve('open'));
              sockets.push(socket);
              socket.on('error', () => resolve('refused'));
              socket.on('close', () => resolve('refused'));
              socket.on('timeout', () => resolve('refused'));
            }),
        ),
      );
      const open = outcomes.filter((outcome) => outcome === 'open').length;
      assert.ok(open <= 50, `${open} connections were accepted`);
      const growthMiB = server.rssMiB() - before;
      assert.ok(growthMiB < 64, `RSS grew ${growthMiB.toFixed(1)} MiB`);
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal((await post(port, ca.cert)).status, 200);
    } finally {
      sockets.forEach((socket) => socket.destroy());
      server.stop();
    }
  });

  it('a stalled request body times out instead of holding the connection', async () => {
    const server = await new ServeProcess([...certArgs, '--request-timeout-seconds=1']).start();
    const port = server.port;
    try {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const request = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/validate',
            method: 'POST',
            ca: ca.cert,
            agent: false,
            headers: { 'content-type': 'application/json', 'content-length': 1000 },
          },
          (response) => resolve(`status ${response.statusCode}`),
        );
        request.on('error', (error) => resolve(`closed: ${error.message}`));
        request.setTimeout(8000, () => request.destroy(new Error('the server never gave up on the stalled body')));
        request.write('{"apiVersion":');
      });
      const seconds = (Date.now() - started) / 1000;
      assert.ok(seconds < 5, `took ${seconds}s`);
      assert.match(outcome, /status 408|closed/);
    } finally {
      server.stop();
    }
  });

  it('kill -9 under load, restart: serves again at once (no state to recover)', async () => {
    const first = await new ServeProcess(certArgs).start();
    const port = first.port;
    const load = Array.from({ length: 50 }, () => post(port, ca.cert).catch(() => ({ status: 0, headers: {} })));
    first.stop();
    await Promise.all(load);
    await first.exited;
    const restarted = Date.now();
    const second = await new ServeProcess(certArgs, { port }).start();
    try {
      const seconds = (Date.now() - restarted) / 1000;
      assert.ok(seconds < 10, `serving again after ${seconds}s`);
      assert.equal((await post(port, ca.cert)).status, 200);
    } finally {
      second.stop();
    }
  });

  it('mTLS: with --client-ca, a client without a certificate signed by it is refused', async () => {
    const clientCa = await makeCertificateAuthority('apiserver client CA');
    const client = await makeClientCertificate('kube-apiserver', clientCa);
    await writeFile(join(dir, 'client-ca.crt'), clientCa.cert);
    const server = await new ServeProcess([...certArgs, `--client-ca=${join(dir, 'client-ca.crt')}`]).start();
    const port = server.port;
    try {
      const answer = await post(port, ca.cert, { cert: client.cert, key: client.key });
      assert.equal(answer.status, 200);
      await assert.rejects(post(port, ca.cert));
      const stranger = await makeClientCertificate('someone', await makeCertificateAuthority('other CA'));
      await assert.rejects(post(port, ca.cert, { cert: stranger.cert, key: stranger.key }));
    } finally {
      server.stop();
    }
  });
});
