import assert from 'node:assert/strict';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import jsonPatch from 'fast-json-patch';
import { pino } from 'pino';
import type { JsonObject } from '../../src/core/json.js';
import { BUNDLED_POLICIES_DIR } from '../../src/policy/load.js';
import { loadPolicies } from '../../src/engine/policies.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookState } from '../../src/server/state.js';
import { makeServingCertificate } from '../../src/server/tls.js';
import { fileURLToPath } from 'node:url';
import { loadInventory } from '../../src/lookup/inventory.js';
import { cluster, pvc, statefulSet, storageClass, template } from '../helpers.js';

const silent = pino({ level: 'silent' });

function review(object: JsonObject | null, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const kind = (object?.['kind'] as string | undefined) ?? 'PersistentVolumeClaim';
  const group = kind === 'StatefulSet' ? 'apps' : kind === 'StorageClass' ? 'storage.k8s.io' : '';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
      namespace: kind === 'StorageClass' ? undefined : 'payments',
      name: 'data',
      operation: 'CREATE',
      userInfo: { username: 'dev' },
      object,
      oldObject: null,
      dryRun: false,
      ...overrides,
    },
  };
}

const EXAMPLE_CLUSTER = fileURLToPath(new URL('../../../examples/cluster', import.meta.url));

const GP3_CLUSTER_DEFAULT = fileURLToPath(
  new URL('../../../policies/tests/inventory/gp3-cluster-default.yaml', import.meta.url),
);

async function stateWithBundledPolicies(inventory: string[] = [EXAMPLE_CLUSTER]): Promise<WebhookState> {
  const state = new WebhookState(await loadInventory(inventory));
  state.swap(await loadPolicies(BUNDLED_POLICIES_DIR));
  return state;
}

describe('AdmissionReview protocol (inject)', () => {
  let app: ReturnType<typeof buildServer>;
  before(async () => {
    app = buildServer({ state: await stateWithBundledPolicies(), logger: silent, bodyLimit: 64 * 1024 });
    await app.ready();
  });
  after(() => app.close());

  const post = (url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    app.inject({ method: 'POST', url, headers, payload: typeof body === 'string' ? body : JSON.stringify(body) });

  it("storage-policy check: a dry-run claim with the check annotation gets the webhook's answer from /validate only", async () => {
    const claim = pvc({ storageClassName: 'gp3' }, { annotations: { 'storage-policy-webhook.io/check': 'c0ffee' } });
    const answered = (await post('/validate', review(claim, { dryRun: true }))).json();
    assert.deepEqual(answered.response.warnings, [
      'storage-policy-webhook: check c0ffee answered with 3 policies loaded',
    ]);
    const stored = (await post('/validate', review(claim))).json();
    assert.equal(stored.response.warnings, undefined, 'a claim that is stored gets no check answer');
    const denied = (
      await post(
        '/validate',
        review({ ...claim, spec: { storageClassName: 'nope', accessModes: ['ReadWriteOnce'] } }, { dryRun: true }),
      )
    ).json();
    assert.equal(denied.response.allowed, false);
    assert.ok(
      denied.response.warnings.some((warning: string) => warning.includes('check c0ffee answered')),
      'a denial answers too',
    );
    const mutated = (await post('/mutate', review(claim, { dryRun: true }))).json();
    assert.ok(!(mutated.response.warnings ?? []).some((warning: string) => warning.includes('check')));
  });

  it('answers with the same uid, apiVersion and kind', async () => {
    const response = await post('/validate', review(pvc({ storageClassName: 'gp3' })));
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.apiVersion, 'admission.k8s.io/v1');
    assert.equal(body.kind, 'AdmissionReview');
    assert.equal(body.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(body.response.allowed, true);
  });
  it('/mutate returns a base64 JSONPatch that applies and sets the default class and IOPS quote', async () => {
    const object = pvc({}, { namespace: 'payments' });
    const body = (await post('/mutate', review(object))).json();
    assert.equal(body.response.patchType, 'JSONPatch');
    const patch = JSON.parse(Buffer.from(body.response.patch, 'base64').toString('utf8'));
    const patched = jsonPatch.applyPatch(structuredClone(object), patch, true, false).newDocument;
    assert.equal((patched['spec'] as JsonObject)['storageClassName'], 'gp3');
    assert.equal(
      ((patched['metadata'] as JsonObject)['annotations'] as JsonObject)['storage-policy-webhook.io/provisioned-iops'],
      '3000',
    );
    assert.ok(body.response.warnings.some((warning: string) => warning.includes('set to gp3')));
  });
  it('/mutate with nothing to change returns no patch at all', async () => {
    const body = (
      await post(
        '/mutate',
        review(
          pvc(
            { storageClassName: 'efs', accessModes: ['ReadWriteMany'] },
            { annotations: { 'storage-policy-webhook.io/monthly-cost': '3.00 USD' } },
          ),
        ),
      )
    ).json();
    assert.equal(body.response.allowed, true);
    assert.equal(body.response.patch, undefined);
    assert.equal(body.response.patchType, undefined);
  });
  it('/validate never returns a patch, and denies with 403 Forbidden and every violation', async () => {
    const body = (
      await post(
        '/validate',
        review(
          pvc({
            storageClassName: 'io2-high-iops',
            accessModes: ['ReadWriteMany'],
            resources: { requests: { storage: '400Gi' } },
          }),
        ),
      )
    ).json();
    assert.equal(body.response.allowed, false);
    assert.equal(body.response.patch, undefined);
    assert.equal(body.response.status.code, 403);
    assert.equal(body.response.status.reason, 'Forbidden');
    assert.match(
      body.response.status.message,
      /^2 storage policy violations: \(1\) spec\.accessModes\[0\]: ReadWriteMany on ebs\.csi\.aws\.com.*rule access-modes\/unsupported.*\(2\) spec\.resources\.requests\.storage: 40000 provisioned IOPS/,
    );
  });
  it('allows DELETE, CONNECT, subresources and ungoverned kinds at once, without a patch', async () => {
    for (const overrides of [
      { operation: 'DELETE', object: null, oldObject: pvc({}) },
      { operation: 'CONNECT' },
      { subResource: 'status' },
      { subResource: 'scale' },
      { kind: { group: '', version: 'v1', kind: 'ConfigMap' } },
      { kind: { group: 'example.com', version: 'v1', kind: 'StatefulSet' } },
    ]) {
      const body = (
        await post('/mutate', review(pvc({ storageClassName: 'nope', accessModes: [] }), overrides))
      ).json();
      assert.deepEqual(
        body.response,
        { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true },
        JSON.stringify(overrides),
      );
    }
  });
  it('judges StatefulSets and StorageClasses', async () => {
    const sts = (await post('/mutate', review(statefulSet([template('data')], {}, 2)))).json();
    assert.ok(Buffer.from(sts.response.patch, 'base64').toString().includes('nodeAffinity'));
    const fast = storageClass('fast', 'ebs.csi.aws.com', {
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      volumeBindingMode: 'WaitForFirstConsumer',
    });
    assert.equal((await post('/validate', review(fast))).json().response.allowed, true, 'the first default class');
    const withDefault = buildServer({
      state: await stateWithBundledPolicies([EXAMPLE_CLUSTER, GP3_CLUSTER_DEFAULT]),
      logger: silent,
    });
    const second = (
      await withDefault.inject({
        method: 'POST',
        url: '/validate',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(review(fast)),
      })
    ).json();
    await withDefault.close();
    assert.equal(second.response.allowed, false);
    assert.match(second.response.status.message, /gp3 is already the cluster default/);
  });
  it('UPDATE of an old non-compliant StatefulSet (scale) is allowed with warnings', async () => {
    const old = statefulSet([template('data', { storageClassName: 'legacy-gp2' })]);
    const scaled = statefulSet([template('data', { storageClassName: 'legacy-gp2' })], {}, 5);
    const body = (await post('/validate', review(scaled, { operation: 'UPDATE', oldObject: old }))).json();
    assert.equal(body.response.allowed, true);
    assert.ok(
      body.response.warnings.some(
        (warning: string) => warning.startsWith('storage-class/allowed') && warning.includes('(existing)'),
      ),
    );
    assert.ok(body.response.warnings.every((warning: string) => [...warning].length <= 120));
  });

  const clientErrors: Array<[string, string | object, Record<string, string> | undefined, number, RegExp]> = [
    ['malformed JSON', '{"apiVersion": ', undefined, 400, /not valid JSON/],
    ['not an object', '[1,2]', undefined, 400, /invalid AdmissionReview/],
    ['wrong apiVersion', { ...review(pvc({})), apiVersion: 'admission.k8s.io/v1beta1' }, undefined, 400, /apiVersion/],
    ['wrong kind', { ...review(pvc({})), kind: 'Review' }, undefined, 400, /kind/],
    [
      'missing uid',
      {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { kind: { kind: 'PersistentVolumeClaim' }, operation: 'CREATE' },
      },
      undefined,
      400,
      /uid/,
    ],
    ['missing object on CREATE', review(null), undefined, 400, /request\.object must be an object/],
    ['missing oldObject on UPDATE', review(pvc({}), { operation: 'UPDATE' }), undefined, 400, /oldObject/],
    ['wrong operation', review(pvc({}), { operation: 'PATCH' }), undefined, 400, /operation/],
    ['wrong content type', 'x', { 'content-type': 'text/plain' }, 415, /content-type must be application\/json/],
    ['a __proto__ key instead of a review', '{"__proto__": {"x": 1}}', undefined, 400, /invalid AdmissionReview/],
    [
      'body over the limit',
      review(pvc({}, { annotations: { big: 'x'.repeat(70 * 1024) } })),
      undefined,
      413,
      /larger than 65536 bytes/,
    ],
  ];
  for (const [name, body, headers, status, message] of clientErrors) {
    it(`client error: ${name} -> ${status} with a JSON error body`, async () => {
      const response = await post('/validate', body, headers);
      assert.equal(response.statusCode, status);
      assert.equal(response.json().statusCode, status);
      assert.match(response.json().message, message);
    });
  }
  it('stays up after bad input', async () => {
    assert.equal((await post('/validate', '{')).statusCode, 400);
    assert.equal((await post('/validate', review(pvc({ storageClassName: 'gp3' })))).statusCode, 200);
  });
  it('GET /healthz and /readyz', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.match(ready.json().reason, /3 policies loaded/);
  });
  it('is not ready, and answers 503, without a policy set', async () => {
    const empty = buildServer({ state: new WebhookState(cluster()), logger: silent });
    assert.equal((await empty.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
    const response = await empty.inject({ method: 'POST', url: '/validate', payload: review(pvc({})) });
    assert.equal(response.statusCode, 503);
    assert.equal(response.headers['retry-after'], '5');
    await empty.close();
  });
});

describe('TLS listener on 127.0.0.1', () => {
  let app: ReturnType<typeof buildServer>;
  let port: number;
  let ca: string;
  before(async () => {
    const tls = await makeServingCertificate(['localhost', '127.0.0.1']);
    ca = tls.cert;
    app = buildServer({ state: await stateWithBundledPolicies(), logger: silent, tls });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  const body = JSON.stringify(review(pvc({ storageClassName: 'gp3' })));

  it('answers over HTTP/1.1', async () => {
    const result = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/validate',
          method: 'POST',
          ca,
          headers: { 'content-type': 'application/json' },
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
    assert.equal(result.status, 200);
    assert.equal(JSON.parse(result.text).response.allowed, true);
  });
  it('answers over HTTP/2 negotiated by ALPN', async () => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { ca });
    try {
      const result = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': '/validate', 'content-type': 'application/json' });
        let status = 0;
        let text = '';
        stream.on('response', (headers) => (status = Number(headers[':status'])));
        stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
        stream.on('end', () => resolve({ status, text }));
        stream.on('error', reject);
        stream.end(body);
      });
      assert.equal(result.status, 200);
      assert.equal(JSON.parse(result.text).response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    } finally {
      session.close();
    }
  });
  it('refuses TLS 1.1', async () => {
    await assert.rejects(
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () =>
          resolve(socket.getProtocol()),
        );
        socket.on('error', reject);
        socket.setTimeout(5000, () => reject(new Error('timeout')));
      }),
    );
  });
});
