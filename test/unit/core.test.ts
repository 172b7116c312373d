import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jsonPatch from 'fast-json-patch';
import { ebsLimits, quoteIops, readEbsClass } from '../../src/core/ebs.js';
import { appendAt, applyOperations, escapePointerToken, fieldPath, pointer, setAt } from '../../src/core/patch.js';
import { parseQuantity, roundUpGiB } from '../../src/core/quantity.js';
import { globMatches, selectorMatches } from '../../src/core/selectors.js';
import { claimsOf, pickClusterDefault, readStorageClass } from '../../src/core/storage.js';
import { zonesOfStorageClass } from '../../src/core/topology.js';
import { pvc, statefulSet, storageClass, template } from '../helpers.js';

describe('quantities', () => {
  it('parses binary, decimal and exponent suffixes', () => {
    assert.equal(parseQuantity('10Gi'), 10 * 2 ** 30);
    assert.equal(parseQuantity('1.5Gi'), 1.5 * 2 ** 30);
    assert.equal(parseQuantity('500M'), 500e6);
    assert.equal(parseQuantity('1e9'), 1e9);
    assert.equal(parseQuantity('100'), 100);
  });
  it('rejects what is not a quantity', () => {
    for (const text of ['10GB', 'Gi', '', '1.2.3Gi', '10 Gi x']) assert.equal(parseQuantity(text), undefined, text);
  });
  it('rounds up to whole GiB as the CSI drivers do', () => {
    assert.equal(roundUpGiB(parseQuantity('10Gi') ?? 0), 10);
    assert.equal(roundUpGiB(parseQuantity('10G') ?? 0), 10);
    assert.equal(roundUpGiB(parseQuantity('1') ?? 0), 1);
    assert.equal(roundUpGiB(parseQuantity('10737418241') ?? 0), 11);
  });
});

describe('JSON Patch building', () => {
  it('escapes ~ before / in pointer tokens (RFC 6901)', () => {
    assert.equal(escapePointerToken('a/b~c'), 'a~1b~0c');
    assert.equal(escapePointerToken('~1'), '~01');
    assert.equal(
      pointer('metadata', 'annotations', 'storage-policy-webhook.io/provisioned-iops'),
      '/metadata/annotations/storage-policy-webhook.io~1provisioned-iops',
    );
  });
  it('creates missing parent maps inside the added value', () => {
    const object = { metadata: { name: 'x' } };
    const operation = setAt(object, ['metadata', 'annotations', 'a/b'], 'v');
    assert.deepEqual(operation, { op: 'add', path: '/metadata/annotations', value: { 'a/b': 'v' } });
    assert.deepEqual(jsonPatch.applyPatch(structuredClone(object), [operation]).newDocument, {
      metadata: { name: 'x', annotations: { 'a/b': 'v' } },
    });
  });
  it('adds into an existing map with an escaped key', () => {
    const object = { metadata: { annotations: { other: '1' } } };
    const operation = setAt(object, ['metadata', 'annotations', 'a~/b'], 'v');
    assert.equal(operation.path, '/metadata/annotations/a~0~1b');
    const patched = jsonPatch.applyPatch(structuredClone(object), [operation]).newDocument;
    assert.deepEqual(patched.metadata.annotations, { other: '1', 'a~/b': 'v' });
  });
  it('appends to arrays and creates them when absent', () => {
    assert.deepEqual(appendAt({ list: [1] }, ['list'], 2), { op: 'add', path: '/list/-', value: 2 });
    assert.deepEqual(appendAt({}, ['a', 'list'], 2), { op: 'add', path: '/a', value: { list: [2] } });
  });
  it('applies operations copy-on-write, agreeing with fast-json-patch, leaving the input untouched', () => {
    const object = { metadata: { annotations: { 'a/b': '1' } }, spec: { list: [1, 2], keep: { deep: true } } };
    const operations = [
      { op: 'add' as const, path: '/metadata/annotations/c~1d', value: '2' },
      { op: 'replace' as const, path: '/metadata/annotations/a~1b', value: '3' },
      { op: 'add' as const, path: '/spec/list/-', value: 3 },
      { op: 'add' as const, path: '/spec/list/0', value: 0 },
      { op: 'remove' as const, path: '/spec/list/1' },
    ];
    const before = JSON.stringify(object);
    const result = applyOperations(object, operations);
    assert.deepEqual(result, jsonPatch.applyPatch(structuredClone(object), operations).newDocument);
    assert.equal(JSON.stringify(object), before);
    assert.equal(result.spec.keep, object.spec.keep, 'untouched branches are shared, not copied');
  });
  it('refuses operations that do not fit the object', () => {
    assert.throws(() => applyOperations({ a: 1 }, [{ op: 'add', path: '/a/b', value: 1 }]), /no object or array/);
    assert.throws(() => applyOperations({ a: {} }, [{ op: 'remove', path: '/a/b' }]), /no such member/);
    assert.throws(() => applyOperations({ a: [] }, [{ op: 'replace', path: '/a/0', value: 1 }]), /index out of range/);
  });
  it('prints field paths the way kubectl users read them', () => {
    assert.equal(fieldPath('spec', 'accessModes', 0), 'spec.accessModes[0]');
    assert.equal(fieldPath('metadata', 'annotations', 'a.b/c'), 'metadata.annotations[a.b/c]');
  });
});

describe('selectors and globs', () => {
  it('matches labels and expressions', () => {
    const labels = { team: 'a', tier: 'gold' };
    assert.ok(selectorMatches({ matchLabels: { team: 'a' } }, labels));
    assert.ok(!selectorMatches({ matchLabels: { team: 'b' } }, labels));
    assert.ok(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] }, labels),
    );
    assert.ok(!selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, labels));
    assert.ok(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, labels));
    assert.ok(!selectorMatches({ matchExpressions: [{ key: 'x', operator: 'Exists' }] }, labels));
  });
  it('matches globs with * and ? and treats the rest literally', () => {
    assert.ok(globMatches('team-*', 'team-a'));
    assert.ok(!globMatches('team-*', 'teams'));
    assert.ok(globMatches('t?am', 'team'));
    assert.ok(!globMatches('a.b', 'axb'));
  });
});

describe('storage objects', () => {
  it('resolves the legacy class annotation over the field', () => {
    const [claim] = claimsOf(
      'PersistentVolumeClaim',
      pvc({ storageClassName: 'gp3' }, { annotations: { 'volume.beta.kubernetes.io/storage-class': 'legacy' } }),
    );
    assert.equal(claim?.className, 'legacy');
    assert.equal(claim?.classSource, 'annotation');
  });
  it('tells "" (no class) from an absent class', () => {
    assert.equal(claimsOf('PersistentVolumeClaim', pvc({ storageClassName: '' }))[0]?.classSource, 'none');
    assert.equal(claimsOf('PersistentVolumeClaim', pvc({}))[0]?.classSource, 'unset');
  });
  it('names the claims a template makes <template>-<sts>-<ordinal>', () => {
    const [claim] = claimsOf('StatefulSet', statefulSet([template('www')]));
    assert.equal(claim?.name, 'www-web-0');
    assert.equal(claim?.copies, 3);
  });
  it('picks the newest default class, then the first name', () => {
    const older = readStorageClass({
      ...storageClass('b', 'x', { annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } }),
      metadata: {
        name: 'b',
        creationTimestamp: '2024-01-01T00:00:00Z',
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
    });
    const newer = readStorageClass({
      metadata: {
        name: 'c',
        creationTimestamp: '2025-01-01T00:00:00Z',
        annotations: { 'storageclass.beta.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'x',
    });
    const tie = readStorageClass({
      metadata: {
        name: 'a',
        creationTimestamp: '2025-01-01T00:00:00Z',
        annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
      },
      provisioner: 'x',
    });
    const notDefault = readStorageClass({
      metadata: { name: '0', annotations: { 'storageclass.kubernetes.io/is-default-class': 'True' } },
      provisioner: 'x',
    });
    assert.equal(pickClusterDefault([older, newer, tie, notDefault])?.name, 'a');
  });
  it('derives the zones a class may provision in', () => {
    const expression = (values: string[]) => ({
      matchLabelExpressions: [{ key: 'topology.ebs.csi.aws.com/zone', values }],
    });
    assert.deepEqual(zonesOfStorageClass('ebs.csi.aws.com', {}, [expression(['a']), expression(['b'])]), ['a', 'b']);
    assert.equal(
      zonesOfStorageClass('ebs.csi.aws.com', {}, [
        expression(['a']),
        { matchLabelExpressions: [{ key: 'other', values: ['x'] }] },
      ]),
      undefined,
    );
    assert.deepEqual(zonesOfStorageClass('kubernetes.io/aws-ebs', { zones: 'a,c' }, undefined), ['a', 'c']);
    assert.deepEqual(
      zonesOfStorageClass('kubernetes.io/aws-ebs', { Zones: 'a, c' }, undefined),
      ['a', ' c'],
      'keys lower-cased, values split at commas and not trimmed, as csi-translation-lib does',
    );
    assert.equal(zonesOfStorageClass('ebs.csi.aws.com', { zones: 'a' }, undefined), undefined);
  });
});

describe('EBS IOPS quote (aws-ebs-csi-driver capIOPS)', () => {
  const csi = (parameters: Record<string, string>) => readEbsClass('ebs.csi.aws.com', parameters);
  const quote = (settings: ReturnType<typeof csi>, gib: number) =>
    quoteIops(settings, gib, ebsLimits(settings.type, undefined));
  it('multiplies rounded-up GiB by iopsPerGB', () => {
    assert.deepEqual(quote(csi({ type: 'io2', iopsPerGB: '100' }), 50), {
      outcome: 'provisioned',
      iops: 5000,
      requested: 5000,
      adjustment: 'none',
    });
  });
  it('fails below the minimum without allowAutoIOPSPerGBIncrease', () => {
    assert.deepEqual(quote(csi({ type: 'io1', iopsPerGB: '5' }), 10), {
      outcome: 'fails',
      requested: 50,
      minimum: 100,
    });
  });
  it('raises to the minimum with allowAutoIOPSPerGBIncrease', () => {
    assert.deepEqual(quote(csi({ type: 'gp3', iopsPerGB: '10', allowAutoIOPSPerGBIncrease: 'true' }), 10), {
      outcome: 'provisioned',
      iops: 3000,
      requested: 100,
      adjustment: 'raised-to-minimum',
    });
  });
  it('caps at the type maximum: io2 at 256000 with or without blockExpress (driver v1.47)', () => {
    assert.deepEqual(quote(csi({ type: 'io1', iopsPerGB: '50' }), 2000), {
      outcome: 'provisioned',
      iops: 64000,
      requested: 100000,
      adjustment: 'capped-at-type-maximum',
    });
    assert.equal((quote(csi({ type: 'io2', iopsPerGB: '500' }), 1000) as { iops: number }).iops, 256000);
    assert.equal(
      (quote(csi({ type: 'io2', iopsPerGB: '500', blockExpress: 'false' }), 1000) as { iops: number }).iops,
      256000,
    );
  });
  it('caps per GiB only where that cap is not below the minimum', () => {
    assert.deepEqual(quote(csi({ type: 'io1', iopsPerGB: '60' }), 10), {
      outcome: 'provisioned',
      iops: 500,
      requested: 600,
      adjustment: 'capped-per-gib',
    });
    assert.equal((quote(csi({ type: 'gp3', iops: '4000' }), 4) as { iops: number }).iops, 4000);
  });
  it('quotes nothing for types that ignore IOPS; the in-tree name follows the CSI driver (migration)', () => {
    assert.deepEqual(quote(csi({ type: 'gp2', iopsPerGB: '10' }), 10), { outcome: 'none' });
    const inTree = readEbsClass('kubernetes.io/aws-ebs', { type: 'io1', iopsPerGB: '5' });
    assert.deepEqual(quote(inTree, 10), { outcome: 'fails', requested: 50, minimum: 100 });
    assert.deepEqual(quote(readEbsClass('kubernetes.io/aws-ebs', { type: 'gp3', iopsPerGB: '50' }), 100), {
      outcome: 'provisioned',
      iops: 5000,
      requested: 5000,
      adjustment: 'none',
    });
    assert.equal(
      readEbsClass('kubernetes.io/aws-ebs', {}).type,
      'gp3',
      "no type: the CSI default, not the removed plugin's gp2",
    );
  });
  it('reads parameter names case-insensitively, as the driver does', () => {
    assert.equal(readEbsClass('ebs.csi.aws.com', { IOPSPERGB: '7', Type: 'IO1' }).iopsPerGBText, '7');
    assert.equal(readEbsClass('ebs.csi.aws.com', { Type: 'IO1' }).type, 'io1');
  });
});
