import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { claimUpdateCondition, podVolumesCondition, volumeCondition } from '../../src/admission/match-conditions.js';
import { webhookConfigurations } from '../../src/admission/webhook-configurations.js';
import { RULE_FAMILIES } from '../../src/rules/registry.js';

// The webhook entries carry the condition the rule families' declarations generate: the webhook registers them
// from the code; the chart's static template (certificates from a Secret or cert-manager) must say the same.

const deploy = (path: string): string =>
  readFileSync(fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url)), 'utf8');
const generated = claimUpdateCondition(RULE_FAMILIES);

describe('matchConditions follow the rule families', () => {
  it('the entries the webhook registers (and storage-policy certs writes) carry exactly the generated condition', () => {
    const registration = {
      target: { url: 'https://127.0.0.1:9443' },
      caBundle: '',
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
      excludedNamespaces: ['kube-system'],
    } as const;
    const conditions = webhookConfigurations('spw', registration).flatMap((configuration) =>
      (configuration['webhooks'] as Array<{ matchConditions?: unknown }>).map((webhook) => webhook.matchConditions),
    );
    assert.deepEqual(conditions, [
      [generated, volumeCondition(), podVolumesCondition()],
      [generated, volumeCondition(), podVolumesCondition()],
    ]);
  });
  it('deploy/webhook-configurations.yaml installs both configurations empty: the webhook registers the entries', () => {
    const configurations = parseAllDocuments(deploy('webhook-configurations.yaml')).map(
      (document) => document.toJS() as { kind: string; webhooks?: unknown },
    );
    assert.deepEqual(
      configurations.map((configuration) => [configuration.kind, configuration.webhooks]),
      [
        ['MutatingWebhookConfiguration', undefined],
        ['ValidatingWebhookConfiguration', undefined],
      ],
    );
  });
  it('the chart template carries the same expressions', () => {
    const template = deploy('chart/templates/webhook-configurations.yaml');
    for (const condition of [generated, volumeCondition(), podVolumesCondition()])
      assert.ok(
        template.includes(`name: ${condition.name}`) &&
          template.includes(`expression: ${JSON.stringify(condition.expression)}`),
        `deploy/chart/templates/webhook-configurations.yaml: ${condition.name}`,
      );
  });
  it('every judged claim field is compared, and the volume controllers’ writes are not', () => {
    for (const field of new Set(RULE_FAMILIES.flatMap((family) => family.claimFields))) {
      const [section, name] = field.split('.');
      assert.ok(generated.expression.includes(`object.${section}.${name}`), field);
    }
    assert.doesNotMatch(generated.expression, /volumeName|finalizers|status/);
    assert.match(generated.expression, /k\.startsWith\('pv\.kubernetes\.io\/'\)/);
  });
});
