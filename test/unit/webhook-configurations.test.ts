import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isFailurePolicy,
  setsAll,
  webhookConfigurations,
  webhookEntry,
  type WebhookRegistration,
} from '../../src/admission/webhook-configurations.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const registration: WebhookRegistration = {
  target: { service: { name: 'spw', namespace: 'guardrails', port: 443 } },
  caBundle: PEM,
  failurePolicy: 'Fail',
  timeoutSeconds: 5,
  excludedNamespaces: ['kube-system', 'guardrails'],
};

describe('the webhook entries', () => {
  it('point at the Service, or at a URL, with the path of each webhook and the CA bundle base64', () => {
    const [mutating, validating] = webhookConfigurations('spw', registration);
    assert.deepEqual(
      [mutating?.['kind'], validating?.['kind']],
      ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'],
    );
    assert.deepEqual(webhookEntry('validating', registration)['clientConfig'], {
      service: { name: 'spw', namespace: 'guardrails', path: '/validate', port: 443 },
      caBundle: Buffer.from(PEM).toString('base64'),
    });
    const byUrl = webhookEntry('mutating', { ...registration, target: { url: 'https://[::1]:9443' } });
    assert.equal((byUrl['clientConfig'] as { url: string }).url, 'https://[::1]:9443/mutate');
  });
  it('carry the registration: failurePolicy, timeout, excluded namespaces and the opt-out label; only the mutating one is reinvoked', () => {
    const entry = webhookEntry('validating', {
      ...registration,
      failurePolicy: 'Ignore',
      timeoutSeconds: 3,
      excludedNamespaces: ['kube-system', 'monitoring'],
    });
    assert.equal(entry['failurePolicy'], 'Ignore');
    assert.equal(entry['timeoutSeconds'], 3);
    assert.equal(entry['sideEffects'], 'None', 'kubectl apply --dry-run=server needs it');
    assert.deepEqual(entry['namespaceSelector'], {
      matchExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'monitoring'] },
        { key: 'storage-policy-webhook.io/ignore', operator: 'NotIn', values: ['true'] },
      ],
    });
    assert.equal(entry['reinvocationPolicy'], undefined);
    assert.equal(webhookEntry('mutating', registration)['reinvocationPolicy'], 'IfNeeded');
  });
  it('a stored entry with what the API server defaults still sets all that was asked; a changed or missing field does not', () => {
    const wanted = [webhookEntry('validating', registration)];
    const stored = [{ ...wanted[0], objectSelector: {}, clientConfig: { ...(wanted[0]?.['clientConfig'] as object) } }];
    assert.ok(setsAll(stored, wanted));
    assert.ok(!setsAll([{ ...stored[0], failurePolicy: 'Ignore' }], wanted));
    assert.ok(!setsAll([...stored, { name: 'other' }], wanted), 'an extra entry');
    assert.ok(!setsAll(undefined, wanted), 'an empty configuration');
  });
  it('failurePolicy is Fail or Ignore, as the API', () => {
    assert.ok(isFailurePolicy('Fail') && isFailurePolicy('Ignore'));
    assert.ok(!isFailurePolicy('fail') && !isFailurePolicy(''));
  });
});
