import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { NO_CLUSTER } from '../../src/lookup/lookup.js';
import { cluster, judge, policy, pvc, rulesOf, statefulSet, template } from '../helpers.js';

const classes = policy({ storageClasses: { allowed: ['gp3', 'efs', 'io2'] } });
const source = pvc(
  { storageClassName: 'gp3', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '100Gi' } } },
  { name: 'orders-db' },
);
const clone = (spec: Record<string, unknown>, name = 'orders-copy') =>
  pvc(
    {
      storageClassName: 'gp3',
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '100Gi' } },
      dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'orders-db' },
      ...spec,
    },
    { name },
  );

describe('data-sources: clones', () => {
  it('admits a clone as large as its source on a class of the same driver, and a larger one', () => {
    assert.deepEqual(judge([classes], clone({}), { lookup: cluster(source) }).findings, []);
    assert.deepEqual(
      judge([classes], clone({ resources: { requests: { storage: '200Gi' } } }), { lookup: cluster(source) }).findings,
      [],
    );
  });
  it('denies a smaller clone, another volumeMode and another driver, for every governing policy (facts)', () => {
    const small = judge([classes], clone({ resources: { requests: { storage: '10Gi' } } }), {
      lookup: cluster(source),
    });
    assert.deepEqual(rulesOf(small.denials), ['data-sources/clone-size']);
    assert.equal(small.denials[0]?.path, 'spec.resources.requests.storage');
    const efs = judge([classes], clone({ storageClassName: 'efs', volumeMode: 'Block' }), { lookup: cluster(source) });
    assert.deepEqual(rulesOf(efs.denials).sort(), ['data-sources/clone-driver', 'data-sources/clone-volume-mode']);
    const noSection = judge([policy({ capacity: { max: '1Ti' } })], clone({ volumeMode: 'Block' }), {
      lookup: cluster(source),
    });
    assert.deepEqual(rulesOf(noSection.denials), ['data-sources/clone-volume-mode']);
  });
  it('judges a StatefulSet template that clones as the claims it creates', () => {
    const sts = statefulSet(
      [
        template('data', {
          storageClassName: 'gp3',
          resources: { requests: { storage: '1Gi' } },
          dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'orders-db' },
        }),
      ],
      {},
      1,
    );
    const result = judge([classes], sts, { lookup: cluster(source) });
    assert.deepEqual(rulesOf(result.denials), ['data-sources/clone-size']);
  });
  it('leaves a source that does not exist yet alone, and follows lookupFailure when the cache cannot say', () => {
    assert.deepEqual(judge([classes], clone({}), { lookup: cluster() }).findings, []);
    const unknown = judge([classes], clone({}), { lookup: NO_CLUSTER });
    assert.ok(
      unknown.findings.some(
        (finding) =>
          finding.rule === 'lookup/unavailable' && finding.path === 'spec.dataSourceRef' && finding.action === 'warn',
      ),
    );
  });
  it('on UPDATE, an undersized clone that predates the policy is warned, not denied', () => {
    const old = clone({ resources: { requests: { storage: '10Gi' } } });
    const relabelled = { ...old, metadata: { ...(old['metadata'] as object), labels: { team: 'orders' } } };
    const result = judge([classes], relabelled, { operation: 'UPDATE', oldObject: old, lookup: cluster(source) });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['data-sources/clone-size']);
  });
});

describe('data-sources: allowed kinds', () => {
  const onlyClones = policy({ dataSources: { allowedKinds: ['PersistentVolumeClaim'] } });
  const restore = pvc({
    storageClassName: 'gp3',
    resources: { requests: { storage: '10Gi' } },
    dataSourceRef: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'nightly' },
  });
  it('denies a source kind the policy does not list, at the field, and admits the listed ones', () => {
    const result = judge([onlyClones], restore, { lookup: cluster(source) });
    assert.deepEqual(rulesOf(result.denials), ['data-sources/kind']);
    assert.equal(result.denials[0]?.path, 'spec.dataSourceRef.kind');
    assert.deepEqual(judge([onlyClones], clone({}), { lookup: cluster(source) }).findings, []);
  });
});

describe('data-sources: restores from a VolumeSnapshot', () => {
  const snapshot: JsonObject = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshot',
    metadata: { name: 'nightly', namespace: 'team-a' },
    spec: { source: { persistentVolumeClaimName: 'orders-db' }, volumeSnapshotClassName: 'ebs' },
    status: { boundVolumeSnapshotContentName: 'snapcontent-1', restoreSize: '100Gi', readyToUse: true },
  };
  const content: JsonObject = {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotContent',
    metadata: { name: 'snapcontent-1' },
    spec: { driver: 'ebs.csi.aws.com', deletionPolicy: 'Delete', source: { volumeHandle: 'vol-1' } },
  };
  const restore = (spec: JsonObject) =>
    pvc({
      storageClassName: 'gp3',
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '100Gi' } },
      dataSourceRef: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'nightly' },
      ...spec,
    });

  it('admits a restore at least the restoreSize, on a class of the snapshot’s driver', () => {
    assert.deepEqual(judge([classes], restore({}), { lookup: cluster(snapshot, content) }).findings, []);
  });

  it('denies one smaller than the restoreSize, with the size to ask for, and one on another driver, for every policy', () => {
    const small = judge([classes], restore({ resources: { requests: { storage: '20Gi' } } }), {
      lookup: cluster(snapshot, content),
    });
    assert.deepEqual(rulesOf(small.denials), ['data-sources/restore-size']);
    assert.equal(small.denials[0]?.path, 'spec.resources.requests.storage');
    assert.match(small.denials[0]?.message ?? '', /request at least 100Gi/);
    const efs = judge([policy({ capacity: { max: '1Ti' } })], restore({ storageClassName: 'efs' }), {
      lookup: cluster(snapshot, content),
    });
    assert.deepEqual(rulesOf(efs.denials), ['data-sources/restore-driver']);
    assert.match(efs.denials[0]?.message ?? '', /taken by ebs\.csi\.aws\.com.*use a class of ebs\.csi\.aws\.com/);
  });

  it('leaves a snapshot that does not exist yet alone (the provisioner waits for it), and follows lookupFailure where the CRDs are missing', () => {
    assert.deepEqual(judge([classes], restore({ resources: { requests: { storage: '1Gi' } } })).findings, []);
    const absent = cluster();
    absent.setAbsent('VolumeSnapshot', true);
    const result = judge([classes], restore({}), { lookup: absent });
    assert.deepEqual(rulesOf(result.warnings), ['lookup/unavailable']);
    assert.match(result.warnings[0]?.message ?? '', /no VolumeSnapshot CRDs/);
  });

  it('on UPDATE, an undersized restore that predates the policy is warned, not denied', () => {
    const old = restore({ resources: { requests: { storage: '10Gi' } } });
    const relabelled = { ...old, metadata: { ...(old['metadata'] as object), labels: { team: 'orders' } } };
    const result = judge([classes], relabelled, {
      operation: 'UPDATE',
      oldObject: old,
      lookup: cluster(snapshot, content),
    });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['data-sources/restore-size']);
  });
});
