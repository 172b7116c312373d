import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { BUNDLED_POLICIES_DIR } from '../../src/policy/load.js';
import { loadPolicies } from '../../src/engine/policies.js';
import { buildServer } from '../../src/server/app.js';
import { buildOpsServer } from '../../src/server/ops-server.js';
import { WebhookMetrics } from '../../src/server/metrics.js';
import { WebhookState } from '../../src/server/state.js';
import { makeCertificateAuthority, makeServingCertificate } from '../../src/server/tls.js';
import { cluster, pvc } from '../helpers.js';
import { eventually } from '../loopback.js';
import { ServeProcess } from '../serve-process.js';

const ROOT_DIR = fileURLToPath(new URL('../../../', import.meta.url));

function review(object: unknown, uid = 'op-1'): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'PersistentVolumeClaim' },
      namespace: 'team-a',
      name: 'data',
      operation: 'CREATE',
      object,
    },
  });
}

interface Response {
  status: number;
  text: string;
}

function get(port: number, path: string, ca: string, method = 'GET', body?: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca,
        agent: false,
        headers: body ? { 'content-type': 'application/json' } : {},
        timeout: 5000,
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A review POSTed to a running webhook's admission port. */
function validate(server: ServeProcess, ca: string, object: unknown): Promise<Response> {
  return get(server.port, '/validate', ca, 'POST', review(object));
}

describe('operations', () => {
  let dir: string;
  let ca: { key: string; cert: string };
  let certFile: string;
  let keyFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ops-'));
    ca = await makeCertificateAuthority('ops CA');
    const serving = await makeServingCertificate(['127.0.0.1'], ca);
    certFile = join(dir, 'tls', 'tls.crt');
    keyFile = join(dir, 'tls', 'tls.key');
    await mkdir(join(dir, 'tls'));
    await writeFile(certFile, serving.cert);
    await writeFile(keyFile, serving.key);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const io2Claim = pvc({ storageClassName: 'io2' });

  it('logs say the level by name and who was denied; /metrics has build_info and the standard process metrics', async () => {
    const server = new ServeProcess([`--cert=${certFile}`, `--key=${keyFile}`], { logLevel: 'info' });
    await server.start();
    try {
      const body = JSON.parse(review(io2Claim, 'who')) as { request: Record<string, unknown> };
      body.request['userInfo'] = { username: 'alice@example.com', groups: ['team-a'] };
      body.request['namespace'] = 'payments';
      const denied = await get(server.port, '/validate', ca.cert, 'POST', JSON.stringify(body));
      assert.match(denied.text, /"allowed":false/);
      await eventually('the denial to be logged', () => /"uid":"who"/.test(server.output));
      const line = server.output.split('\n').find((entry) => entry.includes('"uid":"who"')) ?? '';
      assert.match(line, /"level":"info"/);
      assert.match(line, /"user":"alice@example\.com"/);
      assert.match(line, /"decision":"denied"/);
      const metrics = (await server.ops('/metrics')).text;
      const { version } = JSON.parse(await readFile(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string };
      assert.match(
        metrics,
        new RegExp(`^storage_policy_build_info\\{version="${version}",node_version="v[\\d.]+"\\} 1$`, 'm'),
      );
      assert.match(metrics, /^process_resident_memory_bytes \d+/m);
      assert.match(metrics, /^nodejs_eventloop_lag_seconds /m);
      assert.doesNotMatch(metrics, /storage_policy_process_|storage_policy_nodejs_/);
    } finally {
      server.stop();
    }
  });

  it('a broken policy file keeps the last good set serving, logs its position and counts the failure', async () => {
    const policies = join(dir, 'broken-reload');
    await mkdir(policies);
    await writeFile(
      join(policies, 'p.yaml'),
      'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  storageClasses: {allowed: [gp3]}\n',
    );
    const server = new ServeProcess([`--cert=${certFile}`, `--key=${keyFile}`, `--policies=${policies}`], {
      logLevel: 'info',
    });
    await server.start();
    try {
      assert.match((await validate(server, ca.cert, io2Claim)).text, /"allowed":false/);
      await writeFile(
        join(policies, 'p.yaml'),
        'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  storageClasses: {alowed: [io2]}\n',
      );
      await eventually('the failed reload to be counted', async () =>
        /storage_policy_policy_reloads_total\{result="failure"\} 1/.test((await server.ops('/metrics')).text),
      );
      // Log lines are buffered and flushed within a second.
      await eventually('the failed reload to be logged', () =>
        /policy reload failed; the last good set keeps serving/.test(server.output),
      );
      assert.match(server.output, /"line":6,"column":20/);
      assert.match(
        (await validate(server, ca.cert, io2Claim)).text,
        /"allowed":false/,
        'the last good set still denies',
      );
      assert.equal((await get(server.port, '/readyz', ca.cert)).status, 200);
    } finally {
      server.stop();
    }
  });

  it('a ConfigMap-style symlink swap of the policy folder is picked up', async () => {
    // kubelet's layout: files are links into ..data, which links to a timestamped folder swapped atomically.
    const mount = join(dir, 'configmap');
    const policy = (allowed: string) =>
      `apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: p}\nspec:\n  match: {}\n  storageClasses: {allowed: [${allowed}]}\n`;
    await mkdir(join(mount, '..v1'), { recursive: true });
    await writeFile(join(mount, '..v1', 'p.yaml'), policy('gp3'));
    await symlink('..v1', join(mount, '..data'));
    await symlink(join('..data', 'p.yaml'), join(mount, 'p.yaml'));
    const server = new ServeProcess([`--cert=${certFile}`, `--key=${keyFile}`, `--policies=${mount}`], {
      logLevel: 'info',
    });
    await server.start();
    try {
      assert.match((await validate(server, ca.cert, io2Claim)).text, /"allowed":false/);
      await mkdir(join(mount, '..v2'));
      await writeFile(join(mount, '..v2', 'p.yaml'), policy('gp3, io2'));
      await symlink('..v2', join(mount, '..data_tmp'));
      await rename(join(mount, '..data_tmp'), join(mount, '..data'));
      await eventually('the swapped set to serve', async () =>
        /"allowed":true/.test((await validate(server, ca.cert, io2Claim)).text),
      );
    } finally {
      server.stop();
    }
  });

  it('a rotated certificate serves new connections while an open connection keeps working', async () => {
    const tlsDir = join(dir, 'rotate');
    await cp(join(dir, 'tls'), tlsDir, { recursive: true });
    const server = new ServeProcess([`--cert=${join(tlsDir, 'tls.crt')}`, `--key=${join(tlsDir, 'tls.key')}`], {
      logLevel: 'info',
    });
    await server.start();
    const session = http2Connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert });
    // The server is killed at the end; the reset that follows is not what this test checks.
    session.on('error', () => undefined);
    const h2get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': path });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
    try {
      assert.equal(await h2get('/healthz'), 200);
      const nextCa = await makeCertificateAuthority('rotated CA');
      const next = await makeServingCertificate(['127.0.0.1'], nextCa);
      await writeFile(join(tlsDir, 'tls.key'), next.key);
      await writeFile(join(tlsDir, 'tls.crt'), next.cert);
      await eventually(
        'new connections to get the rotated certificate',
        async () => (await get(server.port, '/healthz', nextCa.cert)).status === 200,
      );
      await assert.rejects(get(server.port, '/healthz', ca.cert), /certificate/);
      assert.equal(await h2get('/healthz'), 200, 'the connection opened before the rotation still works');
      const expiry = Number(
        /^storage_policy_certificate_expiration_timestamp_seconds (\S+)$/m.exec(
          (await server.ops('/metrics')).text,
        )?.[1],
      );
      const left = expiry - Date.now() / 1000;
      assert.ok(left > 364 * 86400 && left <= 365 * 86400, `expires ${expiry}, ${left} s from now`);
    } finally {
      session.close();
      server.stop();
    }
  });

  it('SIGTERM: readiness fails first, a request in flight completes, then the process exits 0', async () => {
    const server = new ServeProcess(
      [`--cert=${certFile}`, `--key=${keyFile}`, '--shutdown-delay-seconds=3', '--shutdown-timeout-seconds=10'],
      { logLevel: 'info' },
    );
    await server.start();
    const body = review(pvc({ storageClassName: 'gp3' }), 'in-flight');
    const inFlight = new Promise<Response>((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/validate',
          method: 'POST',
          ca: ca.cert,
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      request.on('error', reject);
      // Half the body now, the rest after SIGTERM: the request is in flight across the signal.
      request.write(body.slice(0, 40));
      setTimeout(() => request.end(body.slice(40)), 3500);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    server.child?.kill('SIGTERM');
    await eventually(
      'readiness to fail during the shutdown delay',
      async () => (await get(server.port, '/readyz', ca.cert)).status === 503,
      2500,
    );
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.match(response.text, /"uid":"in-flight"/);
    assert.equal(await server.exited, 0);
  });
});

describe('metrics after a known sequence of requests', () => {
  it('counts admissions by decision, findings by policy and rule, mutations and client errors', async () => {
    const state = new WebhookState(cluster());
    state.swap(await loadPolicies(BUNDLED_POLICIES_DIR));
    const metrics = new WebhookMetrics({ processMetrics: false });
    const app = buildServer({ state, logger: pino({ level: 'silent' }), metrics });
    const ops = buildOpsServer({ state, logger: pino({ level: 'silent' }), metrics });
    const post = (url: string, payload: string) =>
      app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    const unset = pvc({}, { namespace: 'payments' });
    await post('/mutate', review(unset).replace('team-a', 'payments'));
    await post('/validate', review(pvc({ storageClassName: 'io1-slow' })).replace('team-a', 'payments'));
    await post('/validate', review(pvc({ storageClassName: 'io1-slow' })).replace('team-a', 'payments'));
    await post('/validate', '{not json');
    const text = (await ops.inject({ method: 'GET', url: '/metrics' })).body;
    assert.equal(
      (await app.inject({ method: 'GET', url: '/metrics' })).statusCode,
      404,
      'metrics are not on the admission port',
    );
    assert.match(
      text,
      /storage_policy_admission_duration_seconds_count\{webhook="mutate",kind="PersistentVolumeClaim",operation="CREATE",decision="patched"\} 1/,
    );
    assert.match(
      text,
      /storage_policy_admission_duration_seconds_count\{webhook="validate",kind="PersistentVolumeClaim",operation="CREATE",decision="denied"\} 2/,
    );
    assert.match(text, /storage_policy_admission_duration_seconds_bucket\{le="0.005",webhook="validate"/);
    assert.match(
      text,
      /storage_policy_findings_total\{policy="platform-storage",rule="storage-class\/allowed",action="deny"\} 2/,
    );
    assert.match(text, /storage_policy_mutations_total\{policy="platform-storage",rule="storage-class\/default"\} 1/);
    assert.match(text, /storage_policy_bad_requests_total\{status="400"\} 1/);
    await app.close();
    await ops.close();
  });
});

describe('log lines', () => {
  it('one JSON line per admission with uid, kind, namespace/name, operation, dryRun, decision, rules and duration, never the object', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const state = new WebhookState(cluster());
    state.swap(await loadPolicies(BUNDLED_POLICIES_DIR));
    const app = buildServer({ state, logger });
    await app.inject({
      method: 'POST',
      url: '/validate',
      headers: { 'content-type': 'application/json' },
      payload: review(
        pvc({ storageClassName: 'io1-slow' }, { annotations: { secret: 'do-not-log' } }),
        'log-1',
      ).replace('team-a', 'payments'),
    });
    await app.close();
    const admission = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'admission');
    assert.equal(admission.uid, 'log-1');
    assert.equal(admission.kind, 'PersistentVolumeClaim');
    assert.equal(admission.namespace, 'payments');
    assert.equal(admission.operation, 'CREATE');
    assert.equal(admission.dryRun, false);
    assert.equal(admission.decision, 'denied');
    assert.ok(admission.fired.includes('platform-storage:storage-class/allowed:deny'));
    assert.equal(typeof admission.durationMs, 'number');
    assert.ok(!lines.join('').includes('do-not-log'));
  });
});
