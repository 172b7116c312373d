import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RULE_IDS } from '../../src/policy/model.js';
import { RULE_FAMILIES, SHARED_RULE_IDS } from '../../src/rules/registry.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Lower layers never import higher ones; a layer may import its own and any below. */
const LAYERS: Record<string, number> = { core: 0, io: 1, lookup: 2, policy: 2, rules: 3, engine: 4, authoring: 5, audit: 5, admission: 5, server: 6, cli: 7 };

describe('architecture', () => {
  it('no import runs up the layers (core < io < lookup, policy < rules < engine < authoring, audit, admission < server < cli)', () => {
    const violations: string[] = [];
    for (const layer of Object.keys(LAYERS)) {
      for (const file of readdirSync(join(ROOT, 'src', layer)).filter((name) => name.endsWith('.ts'))) {
        const text = readFileSync(join(ROOT, 'src', layer, file), 'utf8');
        for (const [, target] of text.matchAll(/from '\.\.\/([a-z-]+)\//g)) {
          const rank = LAYERS[target ?? ''];
          if (rank === undefined || rank > (LAYERS[layer] ?? 0) || (rank === LAYERS[layer] && target !== layer)) violations.push(`src/${layer}/${file} imports src/${target}/`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  it('the rule ids of the policy model, the schemas and the families registry are one list', () => {
    const declared = [...RULE_FAMILIES.flatMap((family) => family.ruleIds), ...SHARED_RULE_IDS];
    assert.equal(new Set(declared).size, declared.length, 'a rule id belongs to one family');
    assert.deepEqual([...declared].sort(), [...RULE_IDS].sort());
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy.schema.json'), 'utf8'));
    const rules = schema.properties.spec.properties.rules;
    const enumerated: string[] = rules.propertyNames?.enum ?? Object.keys(rules.properties ?? {});
    assert.deepEqual([...enumerated].sort(), [...RULE_IDS].sort(), 'schema/storage-policy.schema.json spec.rules');
    const exceptionSchema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy-exception.schema.json'), 'utf8'));
    const exempted: string[] = exceptionSchema.properties.spec.properties.policies.items.properties.rules.items.enum;
    assert.deepEqual([...exempted].sort(), [...RULE_IDS].sort(), 'schema/storage-policy-exception.schema.json spec.policies[].rules');
  });

  it('every family declares kinds, sections and rule ids its name prefixes', () => {
    for (const family of RULE_FAMILIES) {
      assert.ok(family.kinds.length > 0 && family.sections.length > 0, family.name);
      for (const rule of family.ruleIds) assert.ok(rule.startsWith(`${family.name}/`), `${family.name} declares ${rule}`);
    }
  });
});
