import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { claimUpdateCondition } from '../../src/admission/match-conditions.js';
import { RULE_FAMILIES } from '../../src/rules/registry.js';

// The webhook configurations carry the condition the rule families' declarations generate: change what a family
// reads and this fails until deploy/ and the chart say the same.

const deploy = (path: string): string => readFileSync(fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url)), 'utf8');
const generated = claimUpdateCondition(RULE_FAMILIES);

describe('matchConditions follow the rule families', () => {
  it('deploy/webhook-configurations.yaml: both webhooks carry exactly the generated condition', () => {
    const configurations = parseAllDocuments(deploy('webhook-configurations.yaml')).map((document) => document.toJS() as { webhooks: Array<{ matchConditions?: unknown }> });
    const conditions = configurations.flatMap((configuration) => configuration.webhooks.map((webhook) => webhook.matchConditions));
    assert.deepEqual(conditions, [[generated], [generated]]);
  });
  it('the chart template carries the same expression', () => {
    const template = deploy('chart/templates/webhook-configurations.yaml');
    assert.ok(template.includes(`name: ${generated.name}`) && template.includes(`expression: ${JSON.stringify(generated.expression)}`), 'deploy/chart/templates/webhook-configurations.yaml');
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
