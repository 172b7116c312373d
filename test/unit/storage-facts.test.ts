import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EBS_FACTS } from '../../src/core/ebs.js';
import { pickClusterDefault, readStorageClass } from '../../src/core/storage.js';
import { IOPS_QUOTE_ANNOTATION, THROUGHPUT_QUOTE_ANNOTATION } from '../../src/rules/iops.js';
import { at, cluster, judge, policy, pvc, rulesOf, statefulSet, storageClass, template } from '../helpers.js';

// One passing, one failing and one UPDATE case per storage fact that changed (issue: storage facts as of 2026).

const classes = policy({ name: 'classes', match: { kinds: ['StorageClass'] }, iops: {} });
const claims = policy({ iops: {}, capacity: {} });
const ebs = (name: string, parameters: Record<string, string>, provisioner = 'ebs.csi.aws.com') =>
  storageClass(name, provisioner, { parameters, volumeBindingMode: 'WaitForFirstConsumer' });
const withClass = (object: ReturnType<typeof ebs>) => cluster(object);
const sized = (className: string, storage: string) =>
  pvc({ storageClassName: className, resources: { requests: { storage } } });
const quoteOf = (result: ReturnType<typeof judge>, key = IOPS_QUOTE_ANNOTATION) =>
  at(result.patched, 'metadata', 'annotations', key);

describe('io2 (driver v1.44: 1000 IOPS/GiB; v1.47: 256000 IOPS and 64 TiB for every volume)', () => {
  it('pass: iopsPerGB 501-1000 on io2 is valid, and a 1000 GiB claim at 1000/GiB is quoted 256000 without blockExpress', () => {
    assert.deepEqual(judge([classes], ebs('io2-fast', { type: 'io2', iopsPerGB: '1000' })).findings, []);
    const io2 = ebs('io2-fast', { type: 'io2', iopsPerGB: '1000' });
    assert.equal(quoteOf(judge([claims], sized('io2-fast', '1000Gi'), { lookup: withClass(io2) })), '256000');
    assert.deepEqual(
      judge([claims], sized('io2-fast', '40Ti'), { lookup: withClass(io2) }).denials,
      [],
      'io2 up to 64 TiB',
    );
  });
  it('fail: over 1000 IOPS/GiB, and over 64 TiB', () => {
    assert.deepEqual(rulesOf(judge([classes], ebs('io2-x', { type: 'io2', iopsPerGB: '1001' })).denials), [
      'iops/per-gb-maximum',
    ]);
    const io2 = ebs('io2-fast', { type: 'io2', iopsPerGB: '10' });
    assert.deepEqual(rulesOf(judge([claims], sized('io2-fast', '65Ti'), { lookup: withClass(io2) }).denials), [
      'capacity/type-limits',
    ]);
  });
  it('UPDATE: a class already over the ratio is warned, not denied (parameters are immutable)', () => {
    const old = ebs('io2-x', { type: 'io2', iopsPerGB: '1001' });
    const relabeled = { ...old, metadata: { name: 'io2-x', labels: { tier: 'gold' } } };
    const result = judge([classes], relabeled, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['iops/per-gb-maximum']);
  });
});

describe('gp3 (2025: 80000 IOPS, 64 TiB, 2000 MiB/s; driver v1.50 asks EC2 for the region cap)', () => {
  const gp3 = ebs('gp3-fast', { type: 'gp3', iopsPerGB: '500' });
  it('pass: a 20 TiB gp3 claim is valid and its quote is the most it can get (80000)', () => {
    const result = judge([claims], sized('gp3-fast', '20Ti'), { lookup: withClass(gp3) });
    assert.deepEqual(result.denials, []);
    assert.equal(quoteOf(result), '80000');
  });
  it('fail: over 64 TiB; over a budget that the old 16000 cap under-counted', () => {
    assert.deepEqual(rulesOf(judge([claims], sized('gp3-fast', '65Ti'), { lookup: withClass(gp3) }).denials), [
      'capacity/type-limits',
    ]);
    const budget = policy({ iops: { maxPerVolume: 40000 } });
    assert.deepEqual(rulesOf(judge([budget], sized('gp3-fast', '200Gi'), { lookup: withClass(gp3) }).denials), [
      'iops/volume-budget',
    ]);
  });
  it('a policy overrides the cap (a region at 16000, an older driver), and the message says whose limit it is', () => {
    const regional = policy({
      name: 'us-gov',
      iops: {},
      providerLimits: { ebs: { gp3: { maxIops: 16000, maxGiB: 16384 } } },
    });
    const result = judge([regional], sized('gp3-fast', '100Gi'), { lookup: withClass(gp3) });
    assert.equal(quoteOf(result), '16000');
    const large = judge([policy({ ...regional, capacity: {} })], sized('gp3-fast', '20Ti'), { lookup: withClass(gp3) });
    assert.match(large.denials[0]?.message ?? '', /at most 16Ti/);
  });
  it('UPDATE: a resized claim gets the new quote', () => {
    const old = sized('gp3-fast', '100Gi');
    const grown = sized('gp3-fast', '200Gi');
    assert.equal(
      quoteOf(judge([claims], grown, { operation: 'UPDATE', oldObject: old, lookup: withClass(gp3) })),
      '80000',
    );
  });
});

describe('gp3 throughput (125 baseline, at most 2000 MiB/s and 0.25 MiB/s per provisioned IOPS)', () => {
  it('pass: a claim is quoted its throughput; the baseline when the class sets none', () => {
    const fast = ebs('gp3-tp', { type: 'gp3', iops: '4000', throughput: '1000' });
    const result = judge([claims], sized('gp3-tp', '100Gi'), { lookup: withClass(fast) });
    assert.deepEqual(result.denials, []);
    assert.equal(quoteOf(result, THROUGHPUT_QUOTE_ANNOTATION), '1000');
    assert.equal(quoteOf(judge([claims], sized('gp3', '10Gi')), THROUGHPUT_QUOTE_ANNOTATION), '125');
  });
  it('fail: over 0.25 MiB/s per IOPS (class with fixed iops, and a claim whose IOPS follow its size), over 2000, below 125, on a type without throughput', () => {
    assert.deepEqual(rulesOf(judge([classes], ebs('t1', { type: 'gp3', iops: '3000', throughput: '1000' })).denials), [
      'iops/throughput-limits',
    ]);
    assert.deepEqual(rulesOf(judge([classes], ebs('t2', { type: 'gp3', iops: '16000', throughput: '2001' })).denials), [
      'iops/throughput-limits',
    ]);
    assert.deepEqual(rulesOf(judge([classes], ebs('t3', { type: 'gp3', throughput: '100' })).denials), [
      'iops/throughput-limits',
    ]);
    assert.deepEqual(rulesOf(judge([classes], ebs('t4', { type: 'io2', iops: '3000', throughput: '500' })).denials), [
      'iops/throughput-type',
    ]);
    const bySize = ebs('gp3-auto', {
      type: 'gp3',
      iopsPerGB: '50',
      allowAutoIOPSPerGBIncrease: 'true',
      throughput: '1000',
    });
    const small = judge([claims], sized('gp3-auto', '40Gi'), { lookup: withClass(bySize) });
    assert.deepEqual(rulesOf(small.denials), ['iops/throughput-limits']);
    assert.match(
      small.denials[0]?.message ?? '',
      /throughput 1000 MiB\/s exceeds 750 MiB\/s, the most 0.25 MiB\/s per provisioned IOPS allows/,
    );
    assert.deepEqual(
      judge([claims], sized('gp3-auto', '100Gi'), { lookup: withClass(bySize) }).denials,
      [],
      '5000 IOPS allow 1250 MiB/s',
    );
  });
  it('budgets: per volume and per namespace, counting existing claims', () => {
    const fast = ebs('gp3-tp', { type: 'gp3', iops: '8000', throughput: '1000' });
    const perVolume = policy({ iops: { maxThroughputPerVolume: 500 } });
    assert.deepEqual(rulesOf(judge([perVolume], sized('gp3-tp', '100Gi'), { lookup: withClass(fast) }).denials), [
      'iops/throughput-volume-budget',
    ]);
    const existing = pvc(
      { storageClassName: 'gp3-tp', resources: { requests: { storage: '100Gi' } } },
      { name: 'old' },
    );
    const perNamespace = policy({ iops: { maxThroughputPerNamespace: 2500 } });
    const denied = judge([perNamespace], statefulSet([template('data', { storageClassName: 'gp3-tp' })], {}, 2), {
      lookup: cluster(fast, existing),
    });
    assert.deepEqual(rulesOf(denied.denials), ['iops/throughput-namespace-budget']);
    assert.match(denied.denials[0]?.message ?? '', /3000 MiB\/s \(1000 existing \+ 2000 new\)/);
  });
  it('UPDATE: a class that already had a bad throughput is warned, not denied', () => {
    const old = ebs('t1', { type: 'gp3', iops: '3000', throughput: '1000' });
    const result = judge(
      [classes],
      { ...old, metadata: { name: 't1', labels: { a: 'b' } } },
      { operation: 'UPDATE', oldObject: old },
    );
    assert.deepEqual(rulesOf(result.warnings), ['iops/throughput-limits']);
    assert.deepEqual(result.denials, []);
  });
});

describe('CSI migration: in-tree names follow their CSI driver', () => {
  const modes = policy({ accessModes: {} });
  it('pass: an in-tree aws-ebs class with gp3 and iopsPerGB is quoted like ebs.csi.aws.com (default type gp3)', () => {
    const inTree = ebs('legacy-gp3', { iopsPerGB: '50' }, 'kubernetes.io/aws-ebs');
    assert.deepEqual(judge([classes], inTree).findings, []);
    assert.equal(quoteOf(judge([claims], sized('legacy-gp3', '100Gi'), { lookup: withClass(inTree) })), '5000');
  });
  it('fail: [ReadWriteOnce, ReadOnlyMany] on kubernetes.io/gce-pd is refused by CSI', () => {
    const pd = storageClass('standard', 'kubernetes.io/gce-pd', { volumeBindingMode: 'WaitForFirstConsumer' });
    const result = judge(
      [modes],
      pvc({ storageClassName: 'standard', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] }),
      { lookup: cluster(pd) },
    );
    assert.deepEqual(rulesOf(result.denials), ['access-modes/read-only-with-read-write-once']);
  });
  it('UPDATE: an existing claim with those modes is warned about, not denied', () => {
    const pd = storageClass('standard', 'kubernetes.io/gce-pd', { volumeBindingMode: 'WaitForFirstConsumer' });
    const old = pvc({ storageClassName: 'standard', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] });
    const relabeled = pvc(
      { storageClassName: 'standard', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] },
      { labels: { a: 'b' } },
    );
    const result = judge([modes], relabeled, { operation: 'UPDATE', oldObject: old, lookup: cluster(pd) });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['access-modes/read-only-with-read-write-once']);
  });
});

describe('access modes: ReadWriteMany takes precedence (csi-lib-utils MULTI_NODE_MULTI_WRITER)', () => {
  const modes = policy({ accessModes: {} });
  const nfs = storageClass('nfs', 'nfs.csi.k8s.io', { volumeBindingMode: 'Immediate' });
  it('pass: [RWO, ROX, RWX] on an RWX-capable driver', () => {
    assert.deepEqual(
      judge(
        [modes],
        pvc({ storageClassName: 'nfs', accessModes: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'] }),
        { lookup: cluster(nfs) },
      ).denials,
      [],
    );
  });
  it('fail: [RWO, ROX] without RWX, and RWX on a driver without it', () => {
    assert.deepEqual(
      rulesOf(
        judge([modes], pvc({ storageClassName: 'nfs', accessModes: ['ReadWriteOnce', 'ReadOnlyMany'] }), {
          lookup: cluster(nfs),
        }).denials,
      ),
      ['access-modes/read-only-with-read-write-once'],
    );
    assert.deepEqual(
      rulesOf(
        judge([modes], pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOnce', 'ReadWriteMany'] })).denials,
      ),
      ['access-modes/unsupported'],
    );
  });
  it('UPDATE: unchanged modes of an existing claim are not judged again as new', () => {
    const old = pvc({ storageClassName: 'gp3', accessModes: ['ReadWriteOnce', 'ReadWriteMany'] });
    assert.deepEqual(judge([modes], old, { operation: 'UPDATE', oldObject: old }).denials, []);
  });
});

describe('zones: in-tree zone parameters as csi-translation-lib reads them; EBS zone IDs', () => {
  const zones = policy({
    name: 'zones',
    match: { kinds: ['StorageClass', 'PersistentVolumeClaim'] },
    zones: { allowed: ['us-east-1a', 'us-east-1b', 'use1-az1'] },
  });
  const inTree = (parameters: Record<string, string>, extra = {}) =>
    storageClass('legacy', 'kubernetes.io/aws-ebs', {
      parameters,
      volumeBindingMode: 'WaitForFirstConsumer',
      ...extra,
    });
  it('pass: zones within the allowed ones, and a class restricted by an allowed zone ID', () => {
    assert.deepEqual(judge([zones], inTree({ zones: 'us-east-1a,us-east-1b' })).denials, []);
    const byId = storageClass('by-id', 'ebs.csi.aws.com', {
      volumeBindingMode: 'Immediate',
      allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.k8s.aws/zone-id', values: ['use1-az1'] }] }],
    });
    assert.deepEqual(judge([zones], byId).denials, [], 'a zone-ID restriction is a restriction');
  });
  it('fail: a capitalised key, zone with zones, either with allowedTopologies, a space after a comma, a zone ID outside', () => {
    assert.deepEqual(rulesOf(judge([zones], inTree({ Zones: 'us-east-1c' })).denials), ['zones/class-topology']);
    assert.deepEqual(rulesOf(judge([zones], inTree({ zone: 'us-east-1a', zones: 'us-east-1b' })).denials), [
      'zones/class-translation',
    ]);
    const both = inTree(
      { zone: 'us-east-1a' },
      {
        allowedTopologies: [
          { matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['us-east-1a'] }] },
        ],
      },
    );
    assert.deepEqual(rulesOf(judge([zones], both).denials), ['zones/class-translation']);
    assert.match(
      judge([zones], inTree({ zones: 'us-east-1a, us-east-1b' })).denials[0]?.message ?? '',
      /" us-east-1b" outside the allowed zones/,
    );
    const byId = storageClass('by-id', 'ebs.csi.aws.com', {
      volumeBindingMode: 'Immediate',
      allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.k8s.aws/zone-id', values: ['use1-az6'] }] }],
    });
    assert.deepEqual(rulesOf(judge([zones], byId).denials), ['zones/class-topology']);
  });
  it('UPDATE: a class that already had both parameters is warned about, not denied', () => {
    const old = inTree({ zone: 'us-east-1a', zones: 'us-east-1b' });
    const result = judge(
      [zones],
      { ...old, metadata: { name: 'legacy', labels: { a: 'b' } } },
      { operation: 'UPDATE', oldObject: old },
    );
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['zones/class-translation']);
  });
});

describe('quantities and defaults as the API server reads them', () => {
  it('a storage request written as a YAML number is a quantity (storage: 10, 1e11)', () => {
    const numeric = (storage: number) => ({
      ...sized('gp3', '1Gi'),
      spec: { storageClassName: 'gp3', accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } },
    });
    const sizes = policy({ capacity: { max: '200Gi' } });
    assert.deepEqual(judge([sizes], numeric(10)).denials, []);
    assert.deepEqual(rulesOf(judge([sizes], numeric(1e12)).denials), ['capacity/policy-limits']);
    assert.deepEqual(judge([sizes], numeric(1e11), { operation: 'UPDATE', oldObject: numeric(1e11) }).denials, []);
  });
  it('picks among several defaults by newest creationTimestamp, then name in byte order (as Go compares)', () => {
    const dated = (name: string) =>
      readStorageClass({
        metadata: {
          name,
          creationTimestamp: '2025-01-01T00:00:00Z',
          annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
        },
        provisioner: 'x',
      });
    assert.equal(pickClusterDefault([dated('b-class'), dated('B-class')])?.name, 'B-class');
  });
});

describe('docs/storage-facts.md says what the facts table says', () => {
  it('lists every EBS type with the limits of src/core/ebs.ts', () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/storage-facts.md', import.meta.url)), 'utf8');
    for (const [type, facts] of Object.entries(EBS_FACTS)) {
      const cells = [
        type,
        `${facts.minGiB.value}`,
        `${facts.maxGiB.value}`,
        `${facts.iops?.min.value ?? '-'}`,
        `${facts.iops?.max.value ?? '-'}`,
        `${facts.iops?.maxPerGiB.value ?? '-'}`,
        facts.throughput
          ? `${facts.throughput.baseline.value}-${facts.throughput.max.value}, <= ${facts.throughput.maxPerIops.value} x IOPS`
          : '-',
      ];
      assert.ok(
        doc.includes(`| ${cells.join(' | ')} |`),
        `docs/storage-facts.md lacks the row | ${cells.join(' | ')} |`,
      );
      for (const source of [facts.minGiB, facts.maxGiB, facts.iops?.max, facts.iops?.maxPerGiB, facts.throughput?.max])
        if (source) assert.ok(doc.includes(source.source), `docs/storage-facts.md lacks the source "${source.source}"`);
    }
  });
});
