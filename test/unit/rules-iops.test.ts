import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_CLUSTER, type ClusterLookup } from '../../src/lookup/lookup.js';
import { IOPS_QUOTE_ANNOTATION } from '../../src/rules/iops.js';
import { at, cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

const iops = policy({ iops: { maxPerVolume: 20000, maxPerNamespace: 30000 } });
const classIops = policy({ name: 'classes', match: { kinds: ['StorageClass'] }, iops: {} });
const ebs = (parameters: Record<string, string>, provisioner = 'ebs.csi.aws.com') =>
  storageClass('c', provisioner, { parameters, volumeBindingMode: 'WaitForFirstConsumer' });

describe('iops: StorageClass parameters', () => {
  it('allows a plain integer iopsPerGB within the type maximum', () => {
    assert.deepEqual(judge([classIops], ebs({ type: 'io2', iopsPerGB: '500' })).findings, []);
    assert.deepEqual(judge([classIops], ebs({ type: 'gp3' })).findings, []);
  });
  it('denies iopsPerGB above the type maximum (io1: 50)', () => {
    const result = judge([classIops], ebs({ type: 'io1', iopsPerGB: '60' }));
    assert.deepEqual(rulesOf(result.denials), ['iops/per-gb-maximum']);
    assert.equal(result.denials[0]?.path, 'parameters.iopsPerGB');
    assert.match(result.denials[0]?.message ?? '', /60 exceeds the io1 maximum of 50 IOPS per GiB/);
  });
  it('reads iopsPerGB as the driver does (base-10 integer: "050" and "+50" are 50, "0" is not set) and denies what it cannot parse', () => {
    for (const value of ['50.5', '-3', '1e3', ' 50', 'lots']) {
      assert.deepEqual(
        rulesOf(judge([classIops], ebs({ type: 'io1', iopsPerGB: value })).denials),
        ['iops/per-gb-format'],
        value,
      );
    }
    for (const value of ['050', '+50', '0'])
      assert.deepEqual(judge([classIops], ebs({ type: 'io1', iopsPerGB: value })).findings, [], value);
  });
  it('denies iopsPerGB on a type that ignores it, and iops together with iopsPerGB; the in-tree name takes it like the CSI driver', () => {
    assert.deepEqual(rulesOf(judge([classIops], ebs({ type: 'gp2', iopsPerGB: '10' })).denials), ['iops/per-gb-type']);
    assert.deepEqual(
      rulesOf(judge([classIops], ebs({ type: 'gp2', iopsPerGB: '10' }, 'kubernetes.io/aws-ebs')).denials),
      ['iops/per-gb-type'],
    );
    assert.deepEqual(judge([classIops], ebs({ type: 'gp3', iopsPerGB: '10' }, 'kubernetes.io/aws-ebs')).denials, []);
    assert.deepEqual(rulesOf(judge([classIops], ebs({ type: 'io2', iopsPerGB: '10', iops: '3000' })).denials), [
      'iops/iops-and-per-gb',
    ]);
  });
  it('ignores classes of other provisioners', () => {
    assert.deepEqual(
      judge([classIops], storageClass('x', 'pd.csi.storage.gke.io', { parameters: { iopsPerGB: 'lots' } })).findings,
      [],
    );
  });
  it('UPDATE: parameters the class already had are warned, never denied (they are immutable)', () => {
    const old = ebs({ type: 'io1', iopsPerGB: '60' });
    const relabeled = { ...old, metadata: { name: 'c', labels: { team: 'a' } } };
    const result = judge([classIops], relabeled, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['iops/per-gb-maximum']);
  });
});

describe('iops: claims', () => {
  it('writes the provisioned IOPS quote onto the claim', () => {
    const result = judge([iops], pvc({ storageClassName: 'io2', resources: { requests: { storage: '50Gi' } } }));
    assert.equal(at(result.patched, 'metadata', 'annotations', IOPS_QUOTE_ANNOTATION), '5000');
    assert.deepEqual(result.findings, []);
  });
  it('rounds the size up to whole GiB before multiplying', () => {
    const result = judge([iops], pvc({ storageClassName: 'io2', resources: { requests: { storage: '10000M' } } }));
    assert.equal(at(result.patched, 'metadata', 'annotations', IOPS_QUOTE_ANNOTATION), '1000');
  });
  it('denies a claim the driver would fail (below the io1 minimum) and says how to fix it', () => {
    const result = judge([iops], pvc({ storageClassName: 'io1-slow', resources: { requests: { storage: '10Gi' } } }));
    assert.deepEqual(rulesOf(result.denials), ['iops/below-minimum']);
    assert.match(
      result.denials[0]?.message ?? '',
      /10Gi x iopsPerGB 5 = 50 IOPS is below the io1 minimum of 100.*request at least 20Gi/,
    );
    assert.equal(at(result.patched, 'metadata', 'annotations', IOPS_QUOTE_ANNOTATION), undefined);
  });
  it('warns where the driver silently caps', () => {
    const result = judge(
      [policy({ iops: {} })],
      pvc({ storageClassName: 'io2', resources: { requests: { storage: '3000Gi' } } }),
    );
    assert.deepEqual(rulesOf(result.warnings), ['iops/adjusted']);
    assert.equal(at(result.patched, 'metadata', 'annotations', IOPS_QUOTE_ANNOTATION), '256000');
  });
  it('enforces the per-volume budget', () => {
    assert.deepEqual(
      rulesOf(judge([iops], pvc({ storageClassName: 'io2', resources: { requests: { storage: '300Gi' } } })).denials),
      ['iops/volume-budget'],
    );
  });
  it('enforces the namespace budget with existing claims, counting every replica of a template', () => {
    const existing = pvc({ storageClassName: 'io2', resources: { requests: { storage: '150Gi' } } }, { name: 'old' });
    const state = cluster(existing);
    assert.deepEqual(
      judge([iops], pvc({ storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } }), { lookup: state })
        .denials,
      [],
    );
    const denied = judge(
      [iops],
      statefulSet([template('data', { storageClassName: 'io2', resources: { requests: { storage: '60Gi' } } })]),
      { lookup: state },
    );
    assert.deepEqual(rulesOf(denied.denials), ['iops/namespace-budget']);
    assert.match(denied.denials[0]?.message ?? '', /33000 IOPS \(15000 existing \+ 18000 new\)/);
  });
  it('does not count the claim being updated twice', () => {
    const current = pvc({ storageClassName: 'io2', resources: { requests: { storage: '150Gi' } } });
    const grown = pvc({ storageClassName: 'io2', resources: { requests: { storage: '190Gi' } } });
    const result = judge([iops], grown, { operation: 'UPDATE', oldObject: current, lookup: cluster(current) });
    assert.deepEqual(result.denials, []);
    assert.equal(at(result.patched, 'metadata', 'annotations', IOPS_QUOTE_ANNOTATION), '19000');
  });
  it('follows lookupFailure when the class or the namespace sum cannot be looked up', () => {
    const strict = policy({ iops: { maxPerNamespace: 10 }, lookupFailure: 'deny' });
    const unsynced = cluster();
    unsynced.setUnavailable('cluster cache not synced');
    const noClass = judge([strict], pvc({ storageClassName: 'io2' }), { lookup: unsynced });
    assert.deepEqual(rulesOf(noClass.denials), ['lookup/unavailable']);
    assert.match(
      noClass.denials[0]?.message ?? '',
      /^IOPS of class io2, size limits of class io2 not checked: cluster cache not synced/,
    );
    const state = cluster();
    const noSum: ClusterLookup = {
      storageClass: (name) => state.storageClass(name),
      storageClasses: () => state.storageClasses(),
      statefulSet: (namespace, name) => state.statefulSet(namespace, name),
      volume: (name) => state.volume(name),
      snapshot: (namespace, name) => state.snapshot(namespace, name),
      attributesClass: (name) => state.attributesClass(name),
      namespaceLabels: (namespace) => state.namespaceLabels(namespace),
      namespaceTotal: () => ({ known: false, reason: 'watch lost' }),
      nodeZones: () => state.nodeZones(),
      statefulSetTemplates: (namespace, name) => state.statefulSetTemplates(namespace, name),
      claim: (namespace, name) => state.claim(namespace, name),
    };
    const result = judge([strict], pvc({ storageClassName: 'io2' }), { lookup: noSum });
    assert.match(result.denials[0]?.message ?? '', /namespace budgets of team-a not checked: watch lost/);
    assert.deepEqual(
      judge([policy({ iops: {} })], pvc({ storageClassName: 'io2' }), { lookup: NO_CLUSTER }).denials,
      [],
    );
  });
  it('UPDATE: keeps the quote current on a resized claim, never touches templates', () => {
    const old = pvc({ storageClassName: 'io2' }, { annotations: { [IOPS_QUOTE_ANNOTATION]: '1000' } });
    const grown = pvc(
      { storageClassName: 'io2', resources: { requests: { storage: '20Gi' } } },
      { annotations: { [IOPS_QUOTE_ANNOTATION]: '1000' } },
    );
    const result = judge([iops], grown, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.patch, [
      { op: 'add', path: '/metadata/annotations/storage-policy-webhook.io~1provisioned-iops', value: '2000' },
      // The monthly cost follows the quote: 20 GiB x 0.125 + 2000 IOPS x 0.065 (rules/cost.ts).
      { op: 'add', path: '/metadata/annotations/storage-policy-webhook.io~1monthly-cost', value: '132.50 USD' },
    ]);
    const sts = statefulSet([template('data', { storageClassName: 'io2' })]);
    assert.deepEqual(judge([iops], sts, { operation: 'UPDATE', oldObject: sts }).patch, []);
  });
});
