import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { at, cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

const defaults = policy({
  storageClasses: {
    defaults: [{ class: 'efs', whenAccessModes: ['ReadWriteMany'] }, { class: 'gp3' }],
    allowed: ['gp3', 'efs', 'io2'],
  },
});

describe('storage-class: defaults', () => {
  it('sets the default on a claim with no class', () => {
    const result = judge([defaults], pvc({}));
    assert.equal(at(result.patched, 'spec', 'storageClassName'), 'gp3');
    assert.deepEqual(result.denials, []);
  });
  it('picks the default by access mode (RWX -> efs)', () => {
    const result = judge([defaults], pvc({ accessModes: ['ReadWriteMany'] }));
    assert.equal(at(result.patched, 'spec', 'storageClassName'), 'efs');
  });
  it('never touches storageClassName "" nor the legacy annotation', () => {
    assert.deepEqual(judge([defaults], pvc({ storageClassName: '' })).patch, []);
    const legacy = judge([defaults], pvc({}, { annotations: { 'volume.beta.kubernetes.io/storage-class': 'gp3' } }));
    assert.equal(legacy.patch.filter((operation) => operation.path.includes('storageClassName')).length, 0);
  });
  it('leaves volumeClaimTemplates as written and judges each as the claim it will create (re-apply safety)', () => {
    const checked = policy({ storageClasses: defaults.storageClasses ?? {}, accessModes: {} });
    const sts = statefulSet([
      template('data'),
      template('shared', { accessModes: ['ReadWriteMany'] }),
      template('fixed', { storageClassName: 'io2' }),
    ]);
    const result = judge([checked], sts);
    assert.deepEqual(
      result.patch.filter((operation) => operation.path.startsWith('/spec/volumeClaimTemplates')),
      [],
    );
    assert.deepEqual(result.denials, [], 'data gets gp3 and shared (RWX) gets efs when their claims are created');
    const rwxOnEbs = judge(
      [policy({ storageClasses: { defaults: [{ class: 'gp3' }] }, accessModes: {} })],
      statefulSet([template('shared', { accessModes: ['ReadWriteMany'] })]),
    );
    assert.deepEqual(rulesOf(rwxOnEbs.denials), ['access-modes/unsupported']);
    assert.match(rwxOnEbs.denials[0]?.message ?? '', /class gp3/);
  });
  it('judges a template without a class by the cluster default when there is one (the API server sets it first)', () => {
    const withDefault = cluster(
      storageClass('gp3', 'ebs.csi.aws.com', {
        parameters: { type: 'gp3' },
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      }),
    );
    const checked = policy({
      storageClasses: { defaults: defaults.storageClasses?.defaults ?? [], allowed: ['efs'] },
      accessModes: {},
    });
    const result = judge([checked], statefulSet([template('shared', { accessModes: ['ReadWriteMany'] })]), {
      lookup: withDefault,
    });
    assert.deepEqual(rulesOf(result.denials), ['access-modes/unsupported', 'storage-class/allowed']);
    assert.match(
      result.denials.find((finding) => finding.rule === 'storage-class/allowed')?.message ?? '',
      /class gp3 \(the cluster default it gets when created\) is not allowed/,
    );
  });
  it('follows precedence: the higher priority policy sets the default', () => {
    const team = policy({ name: 'team', priority: 10, storageClasses: { defaults: [{ class: 'io2' }] } });
    assert.equal(at(judge([defaults, team], pvc({})).patched, 'spec', 'storageClassName'), 'io2');
  });
  it('UPDATE: never patches templates, and never defaults a claim', () => {
    const old = statefulSet([template('data')]);
    const result = judge([defaults], statefulSet([template('data')], {}, 5), { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.patch, []);
    assert.deepEqual(judge([defaults], pvc({}), { operation: 'UPDATE', oldObject: pvc({}) }).patch, []);
  });
  it('UPDATE: a re-applied manifest without a class keeps the class the claim has (immutable)', () => {
    const stored = pvc({ storageClassName: 'gp3' });
    const result = judge([defaults], pvc({}), { operation: 'UPDATE', oldObject: stored });
    assert.deepEqual(result.patch, [{ op: 'add', path: '/spec/storageClassName', value: 'gp3' }]);
    assert.deepEqual(
      judge([defaults], pvc({ storageClassName: 'gp3' }), { operation: 'UPDATE', oldObject: stored }).patch,
      [],
      'nothing to restore',
    );
  });
});

describe('storage-class: allowed classes', () => {
  it('allows a listed class', () => {
    assert.deepEqual(judge([defaults], pvc({ storageClassName: 'io2' })).denials, []);
  });
  it('denies another class and lists the allowed ones, at the field that names it', () => {
    const result = judge([defaults], pvc({ storageClassName: 'io1-slow' }));
    assert.deepEqual(rulesOf(result.denials), ['storage-class/allowed']);
    assert.equal(result.denials[0]?.path, 'spec.storageClassName');
    assert.match(result.denials[0]?.message ?? '', /use one of gp3, efs, io2/);
  });
  it('judges the legacy annotation, which wins over the field', () => {
    const result = judge(
      [defaults],
      pvc({ storageClassName: 'gp3' }, { annotations: { 'volume.beta.kubernetes.io/storage-class': 'io1-slow' } }),
    );
    assert.equal(result.denials[0]?.path, 'metadata.annotations[volume.beta.kubernetes.io/storage-class]');
  });
  it('names the template in StatefulSet messages', () => {
    const result = judge([defaults], statefulSet([template('www', { storageClassName: 'io1-slow' })]));
    assert.equal(result.denials[0]?.path, 'spec.volumeClaimTemplates[0].spec.storageClassName');
  });
  it('UPDATE: a class the old StatefulSet already had is warned, not denied (scaling keeps working)', () => {
    const old = statefulSet([template('www', { storageClassName: 'io1-slow' })]);
    const scaled = statefulSet([template('www', { storageClassName: 'io1-slow' })], {}, 6);
    const result = judge([defaults], scaled, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['storage-class/allowed']);
    assert.ok(result.warnings[0]?.preexisting);
  });
  it('warn action: allowed with a warning', () => {
    const warnOnly = policy({ ...defaults, rules: { 'storage-class/allowed': 'warn' } });
    const result = judge([warnOnly], pvc({ storageClassName: 'io1-slow' }));
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['storage-class/allowed']);
  });
});

describe('storage-class: single cluster default', () => {
  const guard = policy({
    name: 'guard',
    match: { kinds: ['StorageClass'] },
    storageClasses: { singleClusterDefault: true },
  });
  const second = storageClass('fast', 'ebs.csi.aws.com', {
    annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
  });
  const gp3Default = (): ReturnType<typeof cluster> =>
    cluster(
      storageClass('gp3', 'ebs.csi.aws.com', {
        parameters: { type: 'gp3' },
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      }),
    );
  it('denies a second default and names the existing one', () => {
    const result = judge([guard], second, { lookup: gp3Default() });
    assert.deepEqual(rulesOf(result.denials), ['storage-class/single-default']);
    assert.match(result.denials[0]?.message ?? '', /gp3 is already the cluster default/);
  });
  it('with several defaults already, names the one the API server uses (newest)', () => {
    const dated = (name: string, creationTimestamp: string) => ({
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name, creationTimestamp, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: 'x',
    });
    const state = cluster(dated('old-default', '2020-01-01T00:00:00Z'), dated('new-default', '2025-01-01T00:00:00Z'));
    state.deleteStorageClass('gp3');
    const message = judge([guard], second, { lookup: state }).denials[0]?.message ?? '';
    assert.match(
      message,
      /old-default, new-default are already defaults \(the API server uses new-default, the newest\); set .* on them first/,
    );
  });
  it('allows the first default and non-default classes', () => {
    const state = cluster();
    state.deleteStorageClass('gp3');
    assert.deepEqual(judge([guard], second, { lookup: state }).denials, []);
    assert.deepEqual(judge([guard], storageClass('plain', 'ebs.csi.aws.com')).denials, []);
  });
  it('UPDATE: re-applying the existing default is allowed', () => {
    const gp3 = storageClass('gp3', 'ebs.csi.aws.com', {
      parameters: { type: 'gp3' },
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    });
    assert.deepEqual(judge([guard], gp3, { operation: 'UPDATE', oldObject: gp3 }).denials, []);
  });
  it('UPDATE: turning a class into a second default is denied', () => {
    const before = storageClass('fast', 'ebs.csi.aws.com');
    assert.deepEqual(
      rulesOf(judge([guard], second, { operation: 'UPDATE', oldObject: before, lookup: gp3Default() }).denials),
      ['storage-class/single-default'],
    );
  });
});
