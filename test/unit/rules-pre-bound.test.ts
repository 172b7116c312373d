import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { NO_CLUSTER } from '../../src/lookup/lookup.js';
import { cluster, judge, policy, pvc, rulesOf } from '../helpers.js';

// A claim pre-bound to a volume (spec.volumeName) binds only if the volume satisfies it (the PV controller's
// checkVolumeSatisfyClaim): judged for every governing policy, against the volume in the cache.

const nfs: JsonObject = {
  apiVersion: 'v1',
  kind: 'PersistentVolume',
  metadata: { name: 'media' },
  spec: {
    capacity: { storage: '100Gi' },
    accessModes: ['ReadWriteMany', 'ReadOnlyMany'],
    storageClassName: 'manual',
    persistentVolumeReclaimPolicy: 'Retain',
    nfs: { server: 'nfs.example.com', path: '/exports/media' },
  },
};
const any = policy({ capacity: { max: '1Ti' } });
const bound = (spec: JsonObject) =>
  pvc({
    volumeName: 'media',
    storageClassName: 'manual',
    accessModes: ['ReadWriteMany'],
    resources: { requests: { storage: '100Gi' } },
    ...spec,
  });

describe('persistent-volumes/pre-bound', () => {
  it('passes: a claim the volume satisfies, and one naming a volume that does not exist yet', () => {
    assert.deepEqual(judge([any], bound({}), { lookup: cluster(nfs) }).findings, []);
    assert.deepEqual(judge([any], bound({ volumeName: 'later' }), { lookup: cluster(nfs) }).findings, []);
  });

  it('fails: too large, another class, another volumeMode, a mode the volume does not offer, all said at spec.volumeName', () => {
    const result = judge(
      [any],
      bound({
        storageClassName: 'gp3',
        volumeMode: 'Block',
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '200Gi' } },
      }),
      { lookup: cluster(nfs) },
    );
    assert.deepEqual(rulesOf(result.denials), ['persistent-volumes/pre-bound']);
    assert.equal(result.denials[0]?.path, 'spec.volumeName');
    assert.match(
      result.denials[0]?.message ?? '',
      /volume media can never bind this claim: it offers 100Gi, less than the 200Gi requested; its class is manual, the claim asks for gp3; it is volumeMode Filesystem, the claim asks for Block; it does not offer ReadWriteOnce \(offers ReadWriteMany, ReadOnlyMany\)/,
    );
  });

  it('UPDATE: never judged again (the PV controller writes volumeName when it binds); without the cache, lookupFailure', () => {
    const tooLarge = bound({ resources: { requests: { storage: '200Gi' } } });
    assert.deepEqual(
      judge([any], tooLarge, { operation: 'UPDATE', oldObject: tooLarge, lookup: cluster(nfs) }).findings,
      [],
    );
    const unknown = judge([any], tooLarge, { lookup: NO_CLUSTER });
    assert.ok(
      unknown.findings.some((finding) => finding.rule === 'lookup/unavailable' && finding.path === 'spec.volumeName'),
    );
  });
});
