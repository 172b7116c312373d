import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { JsonObject } from '../../src/core/json.js';
import { Engine, type ResolvedFinding } from '../../src/engine/engine.js';
import { composeSettings } from '../../src/rules/registry.js';
import { decide, reviewInputOf } from '../../src/engine/pipeline.js';
import { lintPolicies } from '../../src/authoring/lint.js';
import type { Policy } from '../../src/policy/model.js';
import { cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
const CLASSES = ['gp3', 'io2', 'efs', 'zonal-a'];

/** The helpers' cluster plus a class restricted to one zone, so zone and class settings interact. */
const inventory = () =>
  cluster(
    storageClass('zonal-a', 'ebs.csi.aws.com', {
      parameters: { type: 'gp3' },
      volumeBindingMode: 'WaitForFirstConsumer',
      allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['us-east-1a'] }] }],
    }),
  );

const subset = (values: string[]) => fc.subarray(values, { minLength: 1 });
const generatedPolicy = fc
  .record(
    {
      priority: fc.integer({ min: 0, max: 3 }),
      allowed: fc.option(subset(CLASSES), { nil: undefined }),
      defaults: fc.option(
        fc.array(fc.record({ class: fc.constantFrom(...CLASSES), rwx: fc.boolean() }), { minLength: 1, maxLength: 2 }),
        { nil: undefined },
      ),
      zones: fc.option(fc.record({ allowed: subset(ZONES), pin: fc.boolean() }), { nil: undefined }),
      accessModes: fc.boolean(),
      iops: fc.option(fc.integer({ min: 1000, max: 40000 }), { nil: undefined }),
    },
    { requiredKeys: ['priority', 'accessModes'] },
  )
  .map((spec): Omit<Policy, 'name'> => {
    const storageClasses =
      spec.allowed || spec.defaults
        ? {
            ...(spec.allowed ? { allowed: spec.allowed } : {}),
            ...(spec.defaults
              ? {
                  defaults: spec.defaults.map((choice) => ({
                    class: choice.class,
                    ...(choice.rwx ? { whenAccessModes: ['ReadWriteMany' as const] } : {}),
                  })),
                }
              : {}),
          }
        : undefined;
    return policy({
      priority: spec.priority,
      ...(storageClasses ? { storageClasses } : {}),
      ...(spec.zones ? { zones: { allowed: spec.zones.allowed, pinStatefulSets: spec.zones.pin } } : {}),
      ...(spec.accessModes ? { accessModes: {} } : {}),
      ...(spec.iops ? { iops: { maxPerVolume: spec.iops } } : {}),
    });
  });
const policySet = fc
  .array(generatedPolicy, { minLength: 1, maxLength: 3 })
  .map((policies) => policies.map((entry, index) => ({ ...entry, name: `p${index}` })));

const mode = fc.constantFrom('ReadWriteOnce', 'ReadWriteMany', 'ReadWriteOncePod');
const className = fc.option(fc.constantFrom(...CLASSES), { nil: undefined });
const claimFixture = fc
  .record({ modes: fc.array(mode, { minLength: 1, maxLength: 1 }), className, gib: fc.integer({ min: 1, max: 2000 }) })
  .map(({ modes, className: name, gib }) =>
    pvc({
      accessModes: modes,
      resources: { requests: { storage: `${gib}Gi` } },
      ...(name ? { storageClassName: name } : {}),
    }),
  );
const podSpec = fc.constantFrom<JsonObject>(
  {},
  { nodeSelector: { 'topology.kubernetes.io/zone': 'us-east-1a' } },
  { nodeSelector: { 'failure-domain.beta.kubernetes.io/zone': 'us-east-1c' } },
  {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] }],
        },
      },
    },
  },
);
const statefulSetFixture = fc
  .record({
    templates: fc.array(fc.record({ modes: fc.array(mode, { minLength: 1, maxLength: 1 }), className }), {
      minLength: 1,
      maxLength: 2,
    }),
    pod: podSpec,
  })
  .map(({ templates, pod }) =>
    statefulSet(
      templates.map((entry, index) =>
        template(`t${index}`, {
          accessModes: entry.modes,
          ...(entry.className ? { storageClassName: entry.className } : {}),
        }),
      ),
      pod,
    ),
  );
const fixture = fc.oneof(claimFixture, statefulSetFixture);

const deniedKeys = (findings: ResolvedFinding[]) =>
  new Set(
    findings
      .filter((finding) => finding.action === 'deny')
      .map((finding) => `${finding.policy.name} ${finding.rule} ${finding.path}`),
  );

describe('composition: several policies on one object', () => {
  it('property: validation never denies what mutation produced, and mutation is idempotent', () => {
    fc.assert(
      fc.property(policySet, fixture, (policies, object) => {
        const engine = new Engine({ policies, lookup: inventory() });
        const input = reviewInputOf({ object, operation: 'CREATE' });
        assert.ok(input);
        const mutated = decide(engine, input, 'mutate');
        const before = deniedKeys(decide(engine, input, 'validate').findings);
        const after = decide(engine, { ...input, object: mutated.object }, 'validate');
        const introduced = [...deniedKeys(after.findings)].filter((key) => !before.has(key));
        assert.deepEqual(introduced, [], `the patch ${JSON.stringify(mutated.patch)} introduced denials`);
        assert.deepEqual(
          decide(engine, { ...input, object: mutated.object }, 'mutate').patch,
          [],
          'a second mutation changes nothing (reinvocationPolicy: IfNeeded)',
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('two zone policies: pods are pinned to the intersection, and validation accepts the pin', () => {
    const wide = policy({ name: 'wide', priority: 10, zones: { allowed: ['us-east-1a', 'us-east-1b'] } });
    const narrow = policy({ name: 'narrow', zones: { allowed: ['us-east-1b', 'us-east-1c'] } });
    const result = judge([wide, narrow], statefulSet([template('data', { storageClassName: 'gp3' })]));
    assert.deepEqual(result.denials, []);
    assert.ok(JSON.stringify(result.patch).includes('"values":["us-east-1b"]'), JSON.stringify(result.patch));
  });

  it('a default another policy forbids is passed over for the next one every policy allows', () => {
    const team = policy({ name: 'team', priority: 10, storageClasses: { defaults: [{ class: 'io2' }] } });
    const platform = policy({
      name: 'platform',
      storageClasses: { defaults: [{ class: 'gp3' }], allowed: ['gp3', 'efs'] },
    });
    const result = judge([team, platform], pvc({}));
    assert.equal(result.patched['spec'] && (result.patched['spec'] as JsonObject)['storageClassName'], 'gp3');
    assert.deepEqual(result.denials, []);
    assert.equal(
      composeSettings([team, platform]).defaultClassFor({
        accessModes: ['ReadWriteOnce'],
        volumeMode: 'Filesystem',
      } as never)?.policy.name,
      'platform',
    );
  });

  it('UPDATE: nothing is composed into a template, and each policy still judges on its own', () => {
    const a = policy({ name: 'a', storageClasses: { allowed: ['gp3'] } });
    const b = policy({ name: 'b', storageClasses: { allowed: ['io2'] } });
    const old = statefulSet([template('data', { storageClassName: 'gp3' })]);
    const result = judge([a, b], statefulSet([template('data', { storageClassName: 'gp3' })], {}, 5), {
      operation: 'UPDATE',
      oldObject: old,
    });
    assert.deepEqual(result.patch, []);
    assert.deepEqual(
      rulesOf(result.warnings),
      ['storage-class/allowed'],
      'b forbids gp3; an existing template is only warned about',
    );
  });
});

describe('lint: settings across policies that leave nothing admissible', () => {
  const checks = (policies: Policy[]) =>
    lintPolicies(policies).map((problem) => `${problem.check}: ${problem.message}`);
  it('flags disjoint zone lists on overlapping policies', () => {
    const found = checks([
      policy({ name: 'a', zones: { allowed: ['us-east-1a'] } }),
      policy({ name: 'b', zones: { allowed: ['us-east-1b'] } }),
    ]);
    assert.ok(
      found.some((line) => line.startsWith('no-admissible-zone: ') && line.includes('policy a')),
      found.join('\n'),
    );
  });
  it('flags disjoint class lists, and a default another policy forbids', () => {
    const found = checks([
      policy({ name: 'a', storageClasses: { allowed: ['gp3'], defaults: [{ class: 'gp3' }] } }),
      policy({ name: 'b', storageClasses: { allowed: ['io2'] } }),
    ]);
    assert.ok(
      found.some((line) => line.startsWith('no-admissible-class: ')),
      found.join('\n'),
    );
    assert.ok(
      found.some((line) => line.startsWith('default-forbidden: ') && line.includes('gp3') && line.includes('policy b')),
      found.join('\n'),
    );
  });
  it('is quiet when the policies govern different namespaces, or agree', () => {
    assert.deepEqual(
      checks([
        policy({
          name: 'a',
          match: { kinds: ['PersistentVolumeClaim'], namespaces: ['x'] },
          zones: { allowed: ['us-east-1a'] },
        }),
        policy({
          name: 'b',
          match: { kinds: ['PersistentVolumeClaim'], namespaces: ['y'] },
          zones: { allowed: ['us-east-1b'] },
        }),
      ]),
      [],
    );
    assert.deepEqual(
      checks([
        policy({ name: 'a', storageClasses: { allowed: ['gp3', 'io2'], defaults: [{ class: 'gp3' }] } }),
        policy({ name: 'b', storageClasses: { allowed: ['gp3'] } }),
      ]),
      [],
    );
  });
});
