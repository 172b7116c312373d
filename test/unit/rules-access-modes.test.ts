import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';
import { NO_CLUSTER } from '../../src/lookup/lookup.js';

const modes = policy({ accessModes: { unknownProvisioner: 'deny' } });

describe('access-modes', () => {
  it('allows modes the provisioner serves', () => {
    assert.deepEqual(judge([modes], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOnce'] })).denials, []);
    assert.deepEqual(judge([modes], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOncePod'] })).denials, []);
    assert.deepEqual(judge([modes], pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'] })).denials, []);
  });
  it('denies RWX on EBS in Filesystem mode with the field path and the supported modes', () => {
    const [denial, ...rest] = judge([modes], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteMany'] })).denials;
    assert.deepEqual(rest, []);
    assert.equal(denial?.rule, 'access-modes/unsupported');
    assert.equal(denial?.path, 'spec.accessModes[0]');
    assert.match(
      denial?.message ?? '',
      /ReadWriteMany on ebs\.csi\.aws\.com needs volumeMode: Block on an io2 class.*supports ReadWriteOnce, ReadWriteOncePod/,
    );
  });
  it('allows RWX on EBS only for Block mode on io2 (Multi-Attach)', () => {
    assert.deepEqual(
      judge([modes], pvc({ storageClassName: 'io2', accessModes: ['ReadWriteMany'], volumeMode: 'Block' })).denials,
      [],
    );
    assert.equal(
      judge([modes], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteMany'], volumeMode: 'Block' })).denials
        .length,
      1,
    );
  });
  it('denies ReadWriteOncePod combined with another mode', () => {
    const result = judge([modes], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'] }));
    assert.deepEqual(rulesOf(result.denials), ['access-modes/read-write-once-pod-exclusive']);
  });
  it('denies ReadOnlyMany with ReadWriteOnce on a CSI driver', () => {
    const state = cluster(storageClass('pd', 'pd.csi.storage.gke.io'));
    const result = judge([modes], pvc({ storageClassName: 'pd', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] }), {
      lookup: state,
    });
    assert.deepEqual(rulesOf(result.denials), ['access-modes/read-only-with-read-write-once']);
  });
  it('denies Block mode on a Filesystem-only driver', () => {
    const result = judge([modes], pvc({ storageClassName: 'efs', volumeMode: 'Block' }));
    assert.deepEqual(rulesOf(result.denials), ['access-modes/unsupported']);
    assert.equal(result.denials[0]?.path, 'spec.volumeMode');
  });
  it('denies a template with no access modes', () => {
    const result = judge([modes], statefulSet([template('data', { accessModes: [], storageClassName: 'gp3' })]));
    assert.deepEqual(rulesOf(result.denials), ['access-modes/required']);
    assert.equal(result.denials[0]?.path, 'spec.volumeClaimTemplates[0].spec.accessModes');
  });
  it('follows unknownProvisioner for a provisioner in no table, and policies can declare one', () => {
    const state = cluster(storageClass('nfs', 'example.com/nfs'));
    assert.deepEqual(
      rulesOf(
        judge([modes], pvc({ storageClassName: 'nfs', accessModes: ['ReadWriteMany'] }), { lookup: state }).denials,
      ),
      ['access-modes/unknown-provisioner'],
    );
    const warnOnly = policy({ accessModes: { unknownProvisioner: 'warn' } });
    assert.deepEqual(rulesOf(judge([warnOnly], pvc({ storageClassName: 'nfs' }), { lookup: state }).warnings), [
      'access-modes/unknown-provisioner',
    ]);
    const declared = policy({
      accessModes: { capabilities: [{ provisioner: 'example.com/nfs', modes: ['ReadWriteOnce', 'ReadWriteMany'] }] },
    });
    assert.deepEqual(
      judge([declared], pvc({ storageClassName: 'nfs', accessModes: ['ReadWriteMany'] }), { lookup: state }).findings,
      [],
    );
  });
  it('lets a policy override a built-in entry', () => {
    const override = policy({
      accessModes: { capabilities: [{ provisioner: 'efs.csi.aws.com', modes: ['ReadWriteOnce'] }] },
    });
    assert.deepEqual(
      rulesOf(judge([override], pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'] })).denials),
      ['access-modes/unsupported'],
    );
  });
  it('follows lookupFailure when the class cannot be looked up, and says so', () => {
    const denyOnUnknown = policy({ accessModes: {}, lookupFailure: 'deny' });
    const result = judge([denyOnUnknown], pvc({ storageClassName: 'gp3' }), { lookup: NO_CLUSTER });
    assert.deepEqual(rulesOf(result.denials), ['lookup/unavailable']);
    assert.match(result.denials[0]?.message ?? '', /not checked: no cluster cache or inventory.*lookupFailure: deny/);
    const allowOnUnknown = policy({ accessModes: {}, lookupFailure: 'allow' });
    assert.deepEqual(judge([allowOnUnknown], pvc({ storageClassName: 'gp3' }), { lookup: NO_CLUSTER }).findings, []);
  });
  it('UPDATE: an unsupported mode the claim already had is only warned', () => {
    const old = pvc({
      storageClassName: 'gp3',
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '10Gi' } },
    });
    const grown = pvc({
      storageClassName: 'gp3',
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '20Gi' } },
    });
    const result = judge([modes], grown, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['access-modes/unsupported']);
  });
});
