import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { at, cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

const zones = policy({ zones: { allowed: ['zone-a', 'zone-b'] } });
const classZones = policy({
  name: 'classes',
  match: { kinds: ['StorageClass'] },
  zones: { allowed: ['zone-a', 'zone-b'] },
});
const zoneTerm = (key: string, values: string[]) => ({ matchLabelExpressions: [{ key, values }] });
const zoneExpression = { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-a', 'zone-b'] };

describe('zones: StorageClasses', () => {
  it('allows allowedTopologies inside the allowed zones', () => {
    const sc = storageClass('ok', 'ebs.csi.aws.com', {
      allowedTopologies: [zoneTerm('topology.ebs.csi.aws.com/zone', ['zone-a'])],
    });
    assert.deepEqual(judge([classZones], sc).findings, []);
  });
  it('denies each zone outside, with its path', () => {
    const sc = storageClass('bad', 'ebs.csi.aws.com', {
      allowedTopologies: [zoneTerm('topology.kubernetes.io/zone', ['zone-a', 'zone-c'])],
    });
    const result = judge([classZones], sc);
    assert.deepEqual(rulesOf(result.denials), ['zones/class-topology']);
    assert.equal(result.denials[0]?.path, 'allowedTopologies[0].matchLabelExpressions[0].values[1]');
  });
  it('checks the in-tree zone/zones parameters', () => {
    const sc = storageClass('intree', 'kubernetes.io/aws-ebs', {
      parameters: { zones: 'zone-a,zone-x' },
      volumeBindingMode: 'WaitForFirstConsumer',
    });
    assert.deepEqual(rulesOf(judge([classZones], sc).denials), ['zones/class-topology']);
  });
  it('flags an unrestricted class with Immediate binding, not one with WaitForFirstConsumer', () => {
    assert.deepEqual(rulesOf(judge([classZones], storageClass('any', 'ebs.csi.aws.com')).denials), [
      'zones/unrestricted-immediate',
    ]);
    assert.deepEqual(
      judge([classZones], storageClass('wffc', 'ebs.csi.aws.com', { volumeBindingMode: 'WaitForFirstConsumer' }))
        .findings,
      [],
    );
  });
  it('adds allowedTopologies on CREATE when the policy says so', () => {
    const adding = policy({ ...classZones, zones: { allowed: ['zone-a', 'zone-b'], addAllowedTopologies: true } });
    const result = judge([adding], storageClass('any', 'ebs.csi.aws.com'));
    assert.deepEqual(at(result.patched, 'allowedTopologies'), [
      zoneTerm('topology.kubernetes.io/zone', ['zone-a', 'zone-b']),
    ]);
    assert.deepEqual(result.findings, []);
  });
  it('UPDATE: does not add topologies, and a class that was already unrestricted is warned', () => {
    const adding = policy({ ...classZones, zones: { allowed: ['zone-a', 'zone-b'], addAllowedTopologies: true } });
    const sc = storageClass('any', 'ebs.csi.aws.com');
    const result = judge([adding], sc, { operation: 'UPDATE', oldObject: sc });
    assert.deepEqual(result.patch, []);
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['zones/unrestricted-immediate']);
  });
});

describe('zones: claims', () => {
  it('allows a claim on a class inside the zones, or binding WaitForFirstConsumer', () => {
    assert.deepEqual(judge([zones], pvc({ storageClassName: 'efs', accessModes: ['ReadWriteMany'] })).findings, []);
    assert.deepEqual(judge([zones], pvc({ storageClassName: 'gp3' })).findings, []);
  });
  it('denies a claim whose class can provision outside the zones', () => {
    const state = cluster(
      storageClass('wide', 'ebs.csi.aws.com', {
        allowedTopologies: [zoneTerm('topology.kubernetes.io/zone', ['zone-a', 'zone-z'])],
      }),
      storageClass('imm', 'ebs.csi.aws.com'),
    );
    assert.deepEqual(rulesOf(judge([zones], pvc({ storageClassName: 'wide' }), { lookup: state }).denials), [
      'zones/claim-class',
    ]);
    assert.match(
      judge([zones], pvc({ storageClassName: 'imm' }), { lookup: state }).denials[0]?.message ?? '',
      /binds Immediately/,
    );
  });
  it('UPDATE: a claim already on such a class is warned when it grows', () => {
    const state = cluster(storageClass('imm', 'ebs.csi.aws.com'));
    const old = pvc({ storageClassName: 'imm' });
    const grown = pvc({ storageClassName: 'imm', resources: { requests: { storage: '50Gi' } } });
    const result = judge([zones], grown, { operation: 'UPDATE', oldObject: old, lookup: state });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['zones/claim-class']);
  });
});

describe('zones: StatefulSet pinning', () => {
  const terms = (object: JsonObject) =>
    at(
      object,
      'spec',
      'template',
      'spec',
      'affinity',
      'nodeAffinity',
      'requiredDuringSchedulingIgnoredDuringExecution',
      'nodeSelectorTerms',
    );
  it('adds a required nodeAffinity on the zone label', () => {
    const result = judge([zones], statefulSet([template('data', { storageClassName: 'gp3' })]));
    assert.deepEqual(terms(result.patched), [{ matchExpressions: [zoneExpression] }]);
    assert.deepEqual(result.findings, []);
  });
  it('merges into every existing term (terms are ORed), keeping what was there', () => {
    const affinity: JsonObject = {
      affinity: {
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] },
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'arch', operator: 'In', values: ['arm64'] }] },
              { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] },
            ],
          },
        },
      },
    };
    const result = judge([zones], statefulSet([], affinity));
    assert.deepEqual(terms(result.patched), [
      { matchExpressions: [{ key: 'arch', operator: 'In', values: ['arm64'] }, zoneExpression] },
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }], matchExpressions: [zoneExpression] },
    ]);
    assert.deepEqual(at(result.patched, 'spec', 'template', 'spec', 'affinity', 'podAntiAffinity'), {
      preferredDuringSchedulingIgnoredDuringExecution: [],
    });
  });
  it('is idempotent: a pinned template gets no patch (reinvocation adds nothing)', () => {
    const once = judge([zones], statefulSet([])).patched;
    assert.deepEqual(judge([zones], once).patch, []);
  });
  it('replaces the deprecated failure-domain nodeSelector key, with a note', () => {
    const result = judge(
      [zones],
      statefulSet([], { nodeSelector: { 'failure-domain.beta.kubernetes.io/zone': 'zone-a', disk: 'ssd' } }),
    );
    assert.deepEqual(at(result.patched, 'spec', 'template', 'spec', 'nodeSelector'), {
      disk: 'ssd',
      'topology.kubernetes.io/zone': 'zone-a',
    });
    assert.equal(terms(result.patched), undefined);
  });
  it('denies a template pinned outside the allowed zones', () => {
    const result = judge([zones], statefulSet([], { nodeSelector: { 'topology.kubernetes.io/zone': 'zone-q' } }));
    assert.deepEqual(rulesOf(result.denials), ['zones/pod-affinity']);
    assert.equal(result.denials[0]?.path, 'spec.template.spec.nodeSelector[topology.kubernetes.io/zone]');
  });
  it('UPDATE of replicas only: no patch (it would roll every pod), unpinned pods only warned', () => {
    const old = statefulSet([template('data', { storageClassName: 'gp3' })]);
    const scaled = statefulSet([template('data', { storageClassName: 'gp3' })], {}, 7);
    const result = judge([zones], scaled, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.patch, []);
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['zones/pod-affinity']);
  });
  it('denies pinning to zones where the cluster has no node, once zoned nodes are known', () => {
    const node = (name: string, zone: string) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } },
    });
    const elsewhere = cluster();
    elsewhere.upsertNode(node('n1', 'zone-x'));
    const result = judge([zones], statefulSet([]), { lookup: elsewhere });
    assert.deepEqual(rulesOf(result.denials), ['zones/no-nodes']);
    assert.match(
      result.denials[0]?.message ?? '',
      /no node is in the allowed zones zone-a, zone-b \(nodes are in zone-x\)/,
    );
    elsewhere.upsertNode(node('n2', 'zone-b'));
    assert.deepEqual(judge([zones], statefulSet([]), { lookup: elsewhere }).findings, []);
    assert.deepEqual(
      judge([zones], statefulSet([]), { lookup: cluster() }).findings,
      [],
      'no zoned node known: not judged',
    );
  });
  it('UPDATE that changes the template: pins it', () => {
    const old = statefulSet([]);
    const changed = statefulSet([], { serviceAccountName: 'web' });
    assert.deepEqual(terms(judge([zones], changed, { operation: 'UPDATE', oldObject: old }).patched), [
      { matchExpressions: [zoneExpression] },
    ]);
  });
});
