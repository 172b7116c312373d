import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { explain } from '../../src/authoring/explain.js';
import { composeSettings } from '../../src/rules/registry.js';
import { GOVERNED_KINDS, isClusterScoped } from '../../src/core/kinds.js';
import { MUTATION_IDS, POLICY_SECTIONS } from '../../src/policy/model.js';
import { parsePolicies } from '../../src/engine/policies.js';
import { NO_CLUSTER } from '../../src/lookup/lookup.js';
import { kindsOf } from '../../src/rules/contract.js';
import { RULE_FAMILIES, SHARED_RULE_IDS } from '../../src/rules/registry.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Lower layers never import higher ones; a layer may import its own and any below. */
const LAYERS: Record<string, number> = {
  core: 0,
  io: 1,
  lookup: 2,
  policy: 2,
  rules: 3,
  engine: 4,
  authoring: 5,
  audit: 5,
  admission: 5,
  floor: 5,
  server: 6,
  cli: 7,
};

describe('architecture', () => {
  it('no import runs up the layers (core < io < lookup, policy < rules < engine < authoring, audit, admission, floor < server < cli)', () => {
    const violations: string[] = [];
    for (const layer of Object.keys(LAYERS)) {
      for (const file of readdirSync(join(ROOT, 'src', layer)).filter((name) => name.endsWith('.ts'))) {
        const text = readFileSync(join(ROOT, 'src', layer, file), 'utf8');
        for (const [, target] of text.matchAll(/from '\.\.\/([a-z-]+)\//g)) {
          const rank = LAYERS[target ?? ''];
          if (rank === undefined || rank > (LAYERS[layer] ?? 0) || (rank === LAYERS[layer] && target !== layer))
            violations.push(`src/${layer}/${file} imports src/${target}/`);
        }
      }
    }
    assert.deepEqual(violations, []);
  });

  it("the rule ids the families declare are the schemas' (spec.rules keys, exception rules enum), one family each", () => {
    const declared = [...RULE_FAMILIES.flatMap((family) => family.ruleIds), ...SHARED_RULE_IDS];
    assert.equal(new Set(declared).size, declared.length, 'a rule id belongs to one family');
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy.schema.json'), 'utf8'));
    const rules = schema.properties.spec.properties.rules;
    assert.deepEqual(
      Object.keys(rules.properties).sort(),
      [...declared].sort(),
      'schema/storage-policy.schema.json spec.rules',
    );
    const exceptionSchema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy-exception.schema.json'), 'utf8'));
    const exempted: string[] = exceptionSchema.properties.spec.properties.policies.items.properties.rules.items.enum;
    assert.deepEqual(
      [...exempted].sort(),
      [...declared].sort(),
      'schema/storage-policy-exception.schema.json spec.policies[].rules',
    );
    const sections = Object.keys(schema.properties.spec.properties).filter((key) =>
      RULE_FAMILIES.some((family) => (family.sections as readonly string[]).includes(key)),
    );
    assert.deepEqual(
      sections.sort(),
      [...POLICY_SECTIONS].sort(),
      'every section a family reads is a spec property, and every section is read',
    );
  });

  it("the mutation ids the families declare are MUTATION_IDS and the test suites' expect.rules enum, one family each", () => {
    const declared = RULE_FAMILIES.flatMap((family) => family.mutations.map((mutation) => mutation.id));
    assert.equal(new Set(declared).size, declared.length, 'a mutation id belongs to one family');
    assert.deepEqual([...declared].sort(), [...MUTATION_IDS].sort());
    const ruleIds = [...RULE_FAMILIES.flatMap((family) => family.ruleIds), ...SHARED_RULE_IDS];
    assert.deepEqual(
      declared.filter((id) => (ruleIds as string[]).includes(id)),
      [],
      'a mutation id is never also a rule id (an exception, a suite and a metric name one thing)',
    );
    const suiteSchema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy-test.schema.json'), 'utf8'));
    const expected: string[] =
      suiteSchema.properties.spec.properties.cases.items.properties.expect.properties.rules.items.enum;
    assert.deepEqual(
      [...expected].sort(),
      [...new Set([...ruleIds, ...declared])].sort(),
      'schema/storage-policy-test.schema.json expect.rules',
    );
  });

  it('every family declares kinds, sections and ids its name prefixes, and facts among its own rules', () => {
    for (const family of RULE_FAMILIES) {
      assert.ok(kindsOf(family).length > 0 && family.sections.length > 0, family.name);
      const written = Object.keys(family.mutate).length > 0;
      assert.equal(written, family.mutations.length > 0, `${family.name}: mutators exactly when it declares mutations`);
      for (const id of [...family.ruleIds, ...family.mutations.map((mutation) => mutation.id)])
        assert.ok(id.startsWith(`${family.name}/`), `${family.name} declares ${id}`);
      for (const rule of family.factRules) assert.ok(family.ruleIds.includes(rule), `${family.name} fact rule ${rule}`);
      for (const mutation of family.mutations)
        for (const rule of mutation.serves)
          assert.ok(family.ruleIds.includes(rule), `${family.name} ${mutation.id} serves ${rule}`);
    }
  });

  it('docs/policies.md names every rule id and mutation id under its family, and lists every rule id', () => {
    const docs = readFileSync(join(ROOT, 'docs/policies.md'), 'utf8');
    const list = docs.slice(docs.indexOf('## Rule ids'), docs.indexOf('\n## ', docs.indexOf('## Rule ids') + 1));
    const listed = [...list.matchAll(/`([a-z-]+\/[a-z-]+)`/g)].map((match) => match[1]);
    const ruleIds = [...RULE_FAMILIES.flatMap((family) => family.ruleIds), ...SHARED_RULE_IDS];
    assert.deepEqual([...new Set(listed)].sort(), [...ruleIds].sort(), 'docs/policies.md "Rule ids"');
    const mutations = docs.slice(
      docs.indexOf('## Mutation ids'),
      docs.indexOf('\n## ', docs.indexOf('## Mutation ids') + 1),
    );
    const rows = [...mutations.matchAll(/^\| `([a-z-]+\/[a-z-]+)` \|[^|]*\|[^|]*\|([^|]*)\|$/gm)];
    assert.deepEqual(
      rows.map((row) => row[1]).sort(),
      [...MUTATION_IDS].sort(),
      'docs/policies.md "Mutation ids" rows',
    );
    for (const [, id, stoppedBy] of rows) {
      const declared = RULE_FAMILIES.flatMap((family) => family.mutations).find((mutation) => mutation.id === id);
      const documented = [...(stoppedBy ?? '').matchAll(/`([a-z-]+\/[a-z-]+)`/g)].map((match) => match[1]);
      assert.deepEqual(
        documented.sort(),
        [...(declared?.serves ?? [])].sort(),
        `docs/policies.md: what exempting stops ${id}`,
      );
    }
    for (const family of RULE_FAMILIES) {
      const heading = docs.search(new RegExp(`^## .*\\(\`${family.sections[0]}\`\\)$`, 'm'));
      assert.ok(heading >= 0, `docs/policies.md has a section for ${family.name} (\`${family.sections[0]}\`)`);
      const section = docs.slice(heading, docs.indexOf('\n## ', heading + 1));
      for (const rule of family.ruleIds)
        assert.ok(section.includes(`\`${rule}\``), `docs/policies.md explains ${rule} in the ${family.name} section`);
    }
  });

  it('explain describes every family for every kind it declares', () => {
    const { policies, problems } = parsePolicies(
      `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: everything}
spec:
  match: {kinds: [${GOVERNED_KINDS.join(', ')}]}
  storageClasses: {defaults: [{class: gp3}], allowed: [gp3], singleClusterDefault: true, fallback: gp3}
  accessModes: {denied: [ReadWriteMany]}
  zones: {allowed: [us-east-1a], addAllowedTopologies: true}
  iops: {maxPerVolume: 16000, maxThroughputPerNamespace: 4000}
  capacity: {max: 1Ti}
  providerLimits: {ebs: {gp3: {maxIops: 16000}}}
  claimMetadata: {required: [{label: team}]}
  classRequirements: {reclaimPolicies: [Delete]}
  volumeAttributesClasses: {allowed: [fast], default: fast}
  inlineVolumes: {csiDrivers: [secrets-store.csi.k8s.io]}
  cost: {maxPerClaim: 500, maxPerNamespace: 10000}
`,
      'everything.yaml',
    );
    assert.deepEqual(problems, []);
    for (const family of RULE_FAMILIES) {
      for (const kind of kindsOf(family)) {
        const namespace = isClusterScoped(kind) ? '' : 'team-a';
        const [explanation] = explain(policies, namespace, kind, NO_CLUSTER);
        assert.ok(explanation?.governs, `${kind} governed`);
        const lines = family.describe(policies[0]!, kind, policies, {
          namespace,
          lookup: NO_CLUSTER,
          settings: composeSettings(policies),
        });
        assert.ok(lines.length > 0, `${family.name} describes itself for ${kind}`);
        for (const line of lines)
          assert.ok(explanation.effects.includes(line), `explain ${kind} shows ${family.name}: ${line}`);
      }
    }
  });
});
