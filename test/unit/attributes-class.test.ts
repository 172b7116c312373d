import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { IOPS_QUOTE_ANNOTATION } from '../../src/rules/iops.js';
import { at, cluster, judge, policy, pvc, rulesOf, storageClass } from '../helpers.js';

// VolumeAttributesClasses: the VAC objects within the EBS limits, which VACs a claim may name, and claims
// quoted (and budgeted) with the VAC's parameters, which override the StorageClass's.

const vac = (name: string, parameters: Record<string, string>, driverName = 'ebs.csi.aws.com'): JsonObject => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'VolumeAttributesClass',
  metadata: { name },
  driverName,
  parameters,
});
const vacs = policy({ name: 'vacs', match: { kinds: ['VolumeAttributesClass'] }, iops: {} });
const withVacs = () =>
  cluster(
    vac('io2-fast', { type: 'io2', iops: '20000' }),
    vac('gp3-fast', { type: 'gp3', iops: '6000', throughput: '500' }),
    vac('efs-tuned', {}, 'efs.csi.aws.com'),
  );
const claims = policy({
  iops: { maxPerVolume: 16000, maxPerNamespace: 30000 },
  volumeAttributesClasses: { allowed: ['gp3-fast', 'io2-fast', 'efs-tuned'] },
});
const onVac = (name: string, extra: JsonObject = {}) =>
  pvc({
    storageClassName: 'gp3',
    volumeAttributesClassName: name,
    resources: { requests: { storage: '100Gi' } },
    ...extra,
  });

describe('VolumeAttributesClass objects', () => {
  it('pass: EBS type, iops and throughput within the facts table', () => {
    assert.deepEqual(judge([vacs], vac('ok', { type: 'io2', iops: '200000' })).denials, []);
    assert.deepEqual(judge([vacs], vac('ok', { type: 'gp3', iops: '6000', throughput: '1000' })).denials, []);
  });
  it('fail: io2 at 300000 IOPS, gp3 throughput over the IOPS ratio, iops on a type without', () => {
    assert.match(
      judge([vacs], vac('x', { type: 'io2', iops: '300000' })).denials[0]?.message ?? '',
      /300000 IOPS is outside io2's 100-256000/,
    );
    assert.deepEqual(rulesOf(judge([vacs], vac('x', { type: 'gp3', iops: '3000', throughput: '1000' })).denials), [
      'attributes-class/limits',
    ]);
    assert.deepEqual(rulesOf(judge([vacs], vac('x', { type: 'st1', iops: '3000' })).denials), [
      'attributes-class/limits',
    ]);
  });
  it('UPDATE: parameters are immutable, so what a VAC already had is warned', () => {
    const old = vac('x', { type: 'io2', iops: '300000' });
    const result = judge(
      [vacs],
      { ...old, metadata: { name: 'x', labels: { a: 'b' } } },
      { operation: 'UPDATE', oldObject: old },
    );
    assert.deepEqual([result.denials, rulesOf(result.warnings)], [[], ['attributes-class/limits']]);
  });
});

describe('claims naming a VolumeAttributesClass', () => {
  it('pass: an allowed VAC of the class driver; the quote uses the VAC parameters', () => {
    const result = judge([claims], onVac('gp3-fast'), { lookup: withVacs() });
    assert.deepEqual(result.denials, []);
    assert.equal(at(result.patched, 'metadata', 'annotations', IOPS_QUOTE_ANNOTATION), '6000');
  });
  it('fail: a VAC not allowed, one of another driver, and one whose IOPS exceed the budget', () => {
    const others = cluster(
      vac('gp3-fast', { type: 'gp3', iops: '6000' }),
      vac('unlisted', { type: 'gp3' }),
      vac('efs-tuned', {}, 'efs.csi.aws.com'),
      vac('io2-fast', { type: 'io2', iops: '20000' }),
    );
    assert.deepEqual(rulesOf(judge([claims], onVac('unlisted'), { lookup: others }).denials), [
      'attributes-class/allowed',
    ]);
    assert.deepEqual(rulesOf(judge([claims], onVac('efs-tuned'), { lookup: others }).denials), [
      'attributes-class/driver',
    ]);
    assert.deepEqual(rulesOf(judge([claims], onVac('io2-fast'), { lookup: others }).denials), ['iops/volume-budget']);
    assert.deepEqual(rulesOf(judge([claims], onVac('absent'), { lookup: others }).warnings), [
      'attributes-class/missing',
    ]);
  });
  it('UPDATE: switching a bound claim to a VAC over the budget is judged again and denied; keeping it is not', () => {
    const state = withVacs();
    const before = onVac('gp3-fast');
    state.upsertClaim(before);
    const switched = judge([claims], onVac('io2-fast'), { operation: 'UPDATE', oldObject: before, lookup: state });
    assert.deepEqual(rulesOf(switched.denials), ['iops/volume-budget']);
    assert.deepEqual(
      judge([claims], onVac('gp3-fast', { volumeName: 'pv-1' }), {
        operation: 'UPDATE',
        oldObject: before,
        lookup: state,
      }).denials,
      [],
    );
  });
  it('existing claims are counted in the namespace budget with their VAC parameters', () => {
    const state = withVacs();
    for (const name of ['one', 'two', 'three', 'four', 'five'])
      state.upsertClaim({ ...onVac('gp3-fast'), metadata: { name, namespace: 'team-a' } });
    const denied = judge([claims], onVac('gp3-fast', {}), { lookup: state });
    assert.match(
      denied.denials[0]?.message ?? '',
      /36000 IOPS \(30000 existing \+ 6000 new\)/,
      'each existing claim counts the 6000 IOPS of its VAC',
    );
  });
  it('a default VAC is set on a claim created without one, when the drivers match', () => {
    const defaulting = policy({ volumeAttributesClasses: { default: 'gp3-fast' } });
    assert.equal(
      at(
        judge([defaulting], pvc({ storageClassName: 'gp3' }), { lookup: withVacs() }).patched,
        'spec',
        'volumeAttributesClassName',
      ),
      'gp3-fast',
    );
    const efs = cluster(
      storageClass('efs2', 'efs.csi.aws.com', { volumeBindingMode: 'Immediate' }),
      vac('gp3-fast', { type: 'gp3' }),
    );
    assert.equal(
      at(
        judge([defaulting], pvc({ storageClassName: 'efs2', accessModes: ['ReadWriteMany'] }), { lookup: efs }).patched,
        'spec',
        'volumeAttributesClassName',
      ),
      undefined,
    );
  });
});
