import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { GovernedKind } from '../../src/core/kinds.js';
import { composeSettings } from '../../src/rules/registry.js';
import { Engine, patchAllowed, RuleFailure, runValidator } from '../../src/engine/engine.js';
import { violation } from '../../src/rules/common.js';
import type { RuleContext, RuleFamily } from '../../src/rules/contract.js';
import { auditAnnotationsFor, denialMessage, warningsFor, MAX_WARNING_LENGTH } from '../../src/engine/report.js';
import { cluster, judge, policy, pvc, rulesOf } from '../helpers.js';

const allowGp3 = (name: string, match = {}) =>
  policy({ name, match: { kinds: ['PersistentVolumeClaim'], ...match }, storageClasses: { allowed: ['gp3'] } });

describe('policy matching', () => {
  const io2 = pvc({ storageClassName: 'io2' });
  it('matches namespaces by exact name and glob, minus exclusions', () => {
    assert.equal(judge([allowGp3('p', { namespaces: ['team-a'] })], io2).denials.length, 1);
    assert.equal(judge([allowGp3('p', { namespaces: ['team-*'] })], io2).denials.length, 1);
    assert.equal(judge([allowGp3('p', { namespaces: ['other'] })], io2).denials.length, 0);
    assert.equal(judge([allowGp3('p', { excludeNamespaces: ['team-?'] })], io2).denials.length, 0);
  });
  it('matches namespace labels from the cluster data', () => {
    const state = cluster({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'team-a', labels: { tier: 'prod' } },
    });
    assert.equal(
      judge([allowGp3('p', { namespaceSelector: { matchLabels: { tier: 'prod' } } })], io2, { lookup: state }).denials
        .length,
      1,
    );
    assert.equal(
      judge([allowGp3('p', { namespaceSelector: { matchLabels: { tier: 'dev' } } })], io2, { lookup: state }).denials
        .length,
      0,
    );
  });
  it('follows lookupFailure when namespace labels are unknown', () => {
    const state = cluster();
    state.setUnavailable('cluster cache not synced');
    const strict = policy({
      ...allowGp3('p', { namespaceSelector: { matchLabels: { tier: 'prod' } } }),
      lookupFailure: 'deny',
    });
    const denials = judge([strict], io2, { lookup: state }).denials;
    // Two things went unchecked at two fields: which policies govern the namespace, and whether the class exists.
    assert.deepEqual(
      denials.map((finding) => `${finding.rule} ${finding.path}`),
      [
        'lookup/unavailable metadata.namespace',
        'storage-class/allowed spec.storageClassName',
        'lookup/unavailable spec.storageClassName',
      ],
    );
    const lenient = policy({ ...strict, lookupFailure: 'warn' });
    const result = judge([lenient], io2, { lookup: state });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['lookup/unavailable']);
  });
  it('governs StorageClasses only with policies that list the kind', () => {
    const claimsOnly = policy({ zones: { allowed: ['zone-a'] } });
    assert.deepEqual(
      judge([claimsOnly], {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'x' },
        provisioner: 'ebs.csi.aws.com',
      }).findings,
      [],
    );
  });
  it('reports a violation once when two policies find the same thing', () => {
    const result = judge([allowGp3('a'), allowGp3('b')], io2);
    assert.equal(result.denials.length, 1);
    assert.equal(result.denials[0]?.policy.name, 'a');
  });
  it('indexes policies: an exact-namespace policy elsewhere does not apply', () => {
    const policies = Array.from({ length: 50 }, (_, index) => allowGp3(`p${index}`, { namespaces: [`ns-${index}`] }));
    const engine = new Engine({ policies, lookup: cluster() });
    assert.deepEqual(
      engine.index.match('PersistentVolumeClaim', 'ns-7', engine.lookup).policies.map((match) => match.name),
      ['p7'],
    );
    assert.equal(judge(policies, io2, { namespace: 'ns-7' }).denials.length, 1);
  });
});

describe('actions and reports', () => {
  it('audit: allowed, recorded in auditAnnotations with a key that has no /', () => {
    const audited = policy({ storageClasses: { allowed: ['gp3'] }, action: 'audit' });
    const result = judge([audited], pvc({ storageClassName: 'io2' }));
    assert.deepEqual(result.denials, []);
    const annotations = auditAnnotationsFor(result.findings);
    assert.deepEqual(Object.keys(annotations), ['storage-class.allowed']);
    assert.match(
      annotations['storage-class.allowed'] ?? '',
      /test-policy: spec.storageClassName: class io2 is not allowed/,
    );
  });
  it('a rule override beats the policy action', () => {
    const mixed = policy({
      storageClasses: { allowed: ['gp3'] },
      action: 'warn',
      rules: { 'storage-class/allowed': 'deny' },
    });
    assert.equal(judge([mixed], pvc({ storageClassName: 'io2' })).denials.length, 1);
  });
  it('denial message lists every violation with path, policy, rule and fix', () => {
    const strict = policy({ storageClasses: { allowed: ['gp3'] }, accessModes: {}, capacity: { max: '1Gi' } });
    const result = judge([strict], pvc({ storageClassName: 'io2', accessModes: ['ReadWriteMany'] }));
    const message = denialMessage(result.denials);
    assert.match(
      message,
      /^3 storage policy violations: \(1\) spec.storageClassName: class io2 is not allowed here; use one of gp3 \[policy test-policy, rule storage-class\/allowed\]; \(2\)/,
    );
    assert.doesNotMatch(message, /\n/);
  });
  it('warnings: one line, at most 120 characters, deduplicated, under the total budget', () => {
    const chatty = policy({ storageClasses: { allowed: ['gp3'], missingClass: 'allow' }, action: 'warn' });
    const { findings } = judge([chatty], pvc({ storageClassName: 'a'.repeat(300) }));
    const many = Array.from({ length: 200 }, () => findings).flat();
    const warnings = warningsFor(many, [{ rule: 'iops/quote', policy: chatty, patch: [], note: 'line\nbreak' }]);
    assert.ok(warnings.every((warning) => [...warning].length <= MAX_WARNING_LENGTH && !warning.includes('\n')));
    assert.equal(warnings.length, 2);
    assert.equal(warnings[0], 'mutated: line break');
  });
});

describe('UPDATE guard', () => {
  it('allows patches only to fields an UPDATE may change', () => {
    assert.ok(patchAllowed('PersistentVolumeClaim', 'UPDATE', { op: 'add', path: '/metadata/annotations', value: {} }));
    assert.ok(!patchAllowed('PersistentVolumeClaim', 'UPDATE', { op: 'add', path: '/spec/accessModes', value: [] }));
    assert.ok(
      patchAllowed('PersistentVolumeClaim', 'UPDATE', { op: 'add', path: '/spec/storageClassName', value: 'x' }),
      'only to restore what oldObject had',
    );
    assert.ok(patchAllowed('StatefulSet', 'UPDATE', { op: 'add', path: '/spec/template/spec/affinity', value: {} }));
    assert.ok(!patchAllowed('StorageClass', 'UPDATE', { op: 'add', path: '/parameters/iopsPerGB', value: '1' }));
    assert.ok(patchAllowed('StorageClass', 'UPDATE', { op: 'add', path: '/allowedTopologies', value: [] }));
  });
  it('never writes into volumeClaimTemplates, not even on CREATE (re-apply safety)', () => {
    for (const operation of ['CREATE', 'UPDATE'] as const) {
      assert.ok(
        !patchAllowed('StatefulSet', operation, {
          op: 'add',
          path: '/spec/volumeClaimTemplates/0/spec/storageClassName',
          value: 'x',
        }),
      );
      assert.ok(
        !patchAllowed('StatefulSet', operation, {
          op: 'add',
          path: '/spec/volumeClaimTemplates/0/metadata/annotations',
          value: {},
        }),
      );
    }
    assert.ok(
      !patchAllowed('StatefulSet', 'CREATE', { op: 'add', path: '/spec/templateX', value: {} }),
      'a prefix is a whole token',
    );
  });
});

describe('the family contract, enforced by the engine', () => {
  const zonesOnly = policy({ name: 'zones-only', zones: { allowed: ['a'] } });
  const context = (kind: GovernedKind): RuleContext => ({
    kind,
    operation: 'CREATE',
    namespace: 'team-a',
    object: pvc({ storageClassName: 'gp3' }),
    inlineVolumes: [],
    oldObject: undefined,
    claims: [],
    volume: undefined,
    policies: [],
    governing: [zonesOnly],
    settings: composeSettings([zonesOnly]),
    lookup: cluster(),
    capabilitiesFor: () => new Map(),
    now: Date.parse('2026-12-07T00:00:00Z'),
  });
  const family = (overrides: Partial<RuleFamily>): RuleFamily => ({
    name: 'storage-class',
    sections: ['storageClasses'],
    ruleIds: ['storage-class/allowed'],
    factRules: [],
    mutations: [],
    claimFields: [],
    describe: () => [],
    validate: {
      PersistentVolumeClaim: (seen) =>
        seen.governing.map((governing) => violation('storage-class/denied', governing, 'spec', 'x')),
    },
    mutate: {},
    ...overrides,
  });

  it('refuses a rule id the family does not declare', () => {
    const withFacts = family({ factRules: ['storage-class/allowed'] });
    assert.throws(
      () => runValidator(withFacts, context('PersistentVolumeClaim')),
      (error: unknown) => {
        return error instanceof RuleFailure && /does not declare: storage-class\/denied/.test(error.message);
      },
    );
  });
  it('never calls a family for a kind it has no handler for, nor for policies without its sections', () => {
    let calls = 0;
    const counting = family({ validate: { PersistentVolumeClaim: () => ((calls += 1), []) } });
    runValidator(counting, context('StorageClass'));
    runValidator(counting, context('PersistentVolumeClaim'));
    assert.equal(calls, 0, 'zones-only has no storageClasses section and the family has no facts');
    runValidator({ ...counting, sections: ['zones'] }, context('PersistentVolumeClaim'));
    assert.equal(calls, 1);
  });
  it('hands a family the policies with its sections, and every governing policy for its facts', () => {
    let seen: RuleContext | undefined;
    const recording = family({
      sections: ['storageClasses'],
      factRules: ['storage-class/allowed'],
      validate: { PersistentVolumeClaim: (given) => ((seen = given), []) },
    });
    runValidator(recording, context('PersistentVolumeClaim'));
    assert.deepEqual(seen?.policies, []);
    assert.deepEqual(seen?.governing, [zonesOnly]);
  });
});
