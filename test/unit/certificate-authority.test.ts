import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { FailurePolicy, WebhookRegistration } from '../../src/admission/webhook-configurations.js';
import { arrayAt, isObject, objectAt, stringAt, type JsonObject } from '../../src/core/json.js';
import {
  CertificateAuthority,
  nextRotationStep,
  type CertificateMaterial,
} from '../../src/server/certificate-authority.js';
import { makeCertificateAuthority, makeServingCertificate } from '../../src/server/tls.js';
import { FakeApiServer } from '../fake-apiserver.js';

const DAY_MS = 86_400_000;
const TIMES = { caLifetimeMs: 30 * DAY_MS, servingLifetimeMs: 9 * DAY_MS, overlapMs: 60_000 };

async function material(caDays: number, servingDays: number): Promise<CertificateMaterial> {
  const ca = await makeCertificateAuthority('test CA', caDays);
  const serving = await makeServingCertificate(['webhook.ns.svc'], ca, servingDays);
  return {
    caCert: ca.cert,
    caKey: ca.key,
    nextCa: undefined,
    bundle: ca.cert,
    servingCert: serving.cert,
    servingKey: serving.key,
    stagedAtMs: undefined,
    promotedAtMs: undefined,
  };
}

describe('webhook certificates: the rotation plan', () => {
  it('creates when there is nothing; leaves fresh certificates alone', async () => {
    assert.equal(nextRotationStep(undefined, Date.now(), TIMES), 'create');
    assert.equal(nextRotationStep(await material(30, 9), Date.now(), TIMES), 'none');
    assert.equal(
      nextRotationStep(await material(30, 9), Date.now() + 31 * DAY_MS, TIMES),
      'create',
      'a CA already expired (a cluster off for a month) is replaced',
    );
  });
  it('renews the serving certificate with a third of its life left, and one another CA signed', async () => {
    const fresh = await material(30, 9);
    assert.equal(nextRotationStep(fresh, Date.now() + 7 * DAY_MS, TIMES), 'renew-serving');
    const other = await material(30, 9);
    assert.equal(nextRotationStep({ ...fresh, servingCert: other.servingCert }, Date.now(), TIMES), 'renew-serving');
  });
  it('stages a new CA with a third of the CA life left, promotes it an overlap later, retires the old one an overlap after that', async () => {
    const current = await material(30, 9);
    const now = Date.now() + 21 * DAY_MS;
    assert.equal(nextRotationStep(current, now, TIMES), 'stage-ca');
    const next = await makeCertificateAuthority('next CA', 30);
    const staged = { ...current, nextCa: next, bundle: `${current.caCert}${next.cert}`, stagedAtMs: now };
    assert.equal(nextRotationStep(staged, now + 59_000, TIMES), 'none', 'the bundle has not stood for an overlap yet');
    assert.equal(nextRotationStep(staged, now + 60_000, TIMES), 'promote-ca');
    const promoted = {
      ...staged,
      caCert: next.cert,
      caKey: next.key,
      nextCa: undefined,
      stagedAtMs: undefined,
      promotedAtMs: now + 60_000,
    };
    assert.equal(
      nextRotationStep(promoted, now + 100_000, TIMES),
      'none',
      'replicas may still serve the old certificate',
    );
    assert.equal(nextRotationStep(promoted, now + 120_000, TIMES), 'retire-old-ca');
  });
});

describe('webhook certificates: the Lease holder against an API server', () => {
  const api = new FakeApiServer();
  let config: KubeConfig;
  const logger = pino({ level: 'silent' });
  const configurations = ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'].map(
    (kind) => `/apis/admissionregistration.k8s.io/v1/${kind}/spw`,
  );

  // What the chart and the kustomize base install: the configurations, empty.
  const installShells = (): void => {
    for (const path of configurations) api.objects.set(path, { metadata: { name: 'spw', resourceVersion: '1' } });
  };
  let failurePolicy: FailurePolicy = 'Fail';
  const registration = (caBundle: string): WebhookRegistration => ({
    target: { service: { name: 'spw', namespace: 'ns', port: 443 } },
    caBundle,
    failurePolicy,
    timeoutSeconds: 5,
    excludedNamespaces: ['kube-system', 'ns'],
  });

  before(async () => {
    config = await api.startWithConfig();
    installShells();
  });
  after(() => api.stop());

  const webhookOf = (path: string): JsonObject | undefined =>
    (arrayAt(api.objects.get(path), 'webhooks') ?? []).filter(isObject)[0];
  const bundleOf = (path: string): X509Certificate[] => {
    const encoded = stringAt(webhookOf(path), 'clientConfig', 'caBundle') ?? '';
    const pems =
      Buffer.from(encoded, 'base64')
        .toString('utf8')
        .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    return pems.map((pem) => new X509Certificate(pem));
  };
  const servedNow = (): X509Certificate => {
    const secret = api.objects.get('/api/v1/namespaces/ns/secrets/spw-tls') as JsonObject;
    return new X509Certificate(Buffer.from(stringAt(secret, 'data', 'tls.crt') ?? '', 'base64'));
  };

  it('creates the Secret and injects its CA; through a whole CA rotation, the API server always trusts what every replica serves', async () => {
    // Lifetimes of seconds, so a CA rotation happens within the test; replicas lag a round behind the Secret.
    const authority = new CertificateAuthority(
      config,
      {
        namespace: 'ns',
        secretName: 'spw-tls',
        configuration: 'spw',
        registration,
        hosts: ['spw.ns.svc'],
        times: { caLifetimeMs: 3_000, servingLifetimeMs: 2_400, overlapMs: 300 },
      },
      logger,
    );
    assert.equal(await authority.step(), 'create');
    const firstCa = bundleOf(configurations[0] ?? '')[0];
    assert.ok(firstCa && servedNow().checkIssued(firstCa));
    const steps: string[] = [];
    let lagging = servedNow();
    const deadline = Date.now() + 4_000;
    while (Date.now() < deadline) {
      const step = await authority.step();
      if (step !== 'none') steps.push(step);
      for (const path of configurations) {
        const trusted = bundleOf(path);
        for (const served of [servedNow(), lagging])
          assert.ok(
            trusted.some((ca) => served.checkIssued(ca) && served.verify(ca.publicKey)),
            `after ${steps.join(', ')}: ${served.subject} not trusted`,
          );
      }
      lagging = servedNow();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const expected of ['stage-ca', 'promote-ca', 'retire-old-ca'])
      assert.ok(steps.includes(expected), `${expected} in ${steps.join(', ')}`);
    const finalBundle = bundleOf(configurations[1] ?? '').map((ca) => ca.fingerprint256);
    assert.ok(!finalBundle.includes(firstCa.fingerprint256), 'the first CA left the bundle');
    assert.ok(!servedNow().checkIssued(firstCa) || !servedNow().verify(firstCa.publicKey), 'a new CA signs');
  });

  it('registers the entries in the empty configurations; entries reset (helm upgrade, a hand edit) are registered again; unchanged ones are not rewritten', async () => {
    installShells();
    const authority = new CertificateAuthority(
      config,
      { namespace: 'ns', secretName: 'spw-tls-defaults', configuration: 'spw', registration, hosts: ['spw.ns.svc'] },
      logger,
    );
    const path = configurations[0] ?? '';
    assert.equal(await authority.step(), 'create');
    const stored = api.objects.get(path) as JsonObject;
    const webhook = webhookOf(path);
    assert.equal(stringAt(webhook, 'name'), 'mutate.storage-policy-webhook.io');
    assert.equal(stringAt(webhook, 'clientConfig', 'service', 'path'), '/mutate');
    assert.equal(stringAt(webhookOf(configurations[1] ?? ''), 'clientConfig', 'service', 'path'), '/validate');
    const injected = bundleOf(path)[0]?.fingerprint256;
    assert.ok(injected);
    const version = stringAt(api.objects.get(path), 'metadata', 'resourceVersion');
    assert.equal(await authority.step(), 'none');
    assert.equal(
      stringAt(api.objects.get(path), 'metadata', 'resourceVersion'),
      version,
      'nothing changed, nothing written',
    );
    // The API server stores defaults a registration does not set: still the same entry.
    const defaulted = {
      ...(webhook ?? {}),
      objectSelector: {},
      clientConfig: { ...(objectAt(webhook, 'clientConfig') ?? {}) },
    };
    api.objects.set(path, { ...stored, webhooks: [defaulted] });
    assert.equal(await authority.step(), 'none');
    assert.equal(
      stringAt(api.objects.get(path), 'metadata', 'resourceVersion'),
      version,
      'server defaults are not a difference',
    );
    api.objects.set(path, { metadata: { name: 'spw', resourceVersion: '7' } });
    assert.equal(bundleOf(path).length, 0);
    assert.equal(await authority.step(), 'none');
    assert.deepEqual(
      bundleOf(path).map((ca) => ca.fingerprint256),
      [injected],
    );
  });

  it('the failurePolicy is what the registration asks at each round: Ignore until the replica guards, then the configured one', async () => {
    installShells();
    failurePolicy = 'Ignore';
    const authority = new CertificateAuthority(
      config,
      { namespace: 'ns', secretName: 'spw-tls-policy', configuration: 'spw', registration, hosts: ['spw.ns.svc'] },
      logger,
    );
    const policies = (): Array<string | undefined> =>
      configurations.map((path) => stringAt(webhookOf(path), 'failurePolicy'));
    try {
      await authority.step();
      assert.deepEqual(policies(), ['Ignore', 'Ignore']);
      failurePolicy = 'Fail';
      await authority.step();
      assert.deepEqual(policies(), ['Fail', 'Fail']);
    } finally {
      failurePolicy = 'Fail';
    }
  });

  it('never creates a configuration: uninstalled (or never installed) stays out of the write path', async () => {
    const authority = new CertificateAuthority(
      config,
      { namespace: 'ns', secretName: 'spw-tls-absent', configuration: 'absent', registration, hosts: ['spw.ns.svc'] },
      logger,
    );
    assert.equal(await authority.step(), 'create');
    for (const kind of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'])
      assert.equal(api.objects.has(`/apis/admissionregistration.k8s.io/v1/${kind}/absent`), false);
  });
});
