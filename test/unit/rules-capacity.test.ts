import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judge, policy, pvc, rulesOf, statefulSet, template } from '../helpers.js';

const sized = policy({ capacity: { min: '1Gi', max: '1Ti' } });

describe('capacity', () => {
  it('allows sizes inside the policy and type limits', () => {
    assert.deepEqual(
      judge([sized], pvc({ storageClassName: 'io2', resources: { requests: { storage: '100Gi' } } })).findings,
      [],
    );
  });
  it('denies sizes outside the policy bounds', () => {
    assert.deepEqual(
      rulesOf(judge([sized], pvc({ storageClassName: 'gp3', resources: { requests: { storage: '2Ti' } } })).denials),
      ['capacity/policy-limits'],
    );
    assert.deepEqual(
      rulesOf(judge([sized], pvc({ storageClassName: 'gp3', resources: { requests: { storage: '500Mi' } } })).denials),
      ['capacity/policy-limits'],
    );
  });
  it('denies io1/io2 below 4Gi, with the size to ask for', () => {
    const result = judge([sized], pvc({ storageClassName: 'io2', resources: { requests: { storage: '2Gi' } } }));
    assert.deepEqual(rulesOf(result.denials), ['capacity/type-limits']);
    assert.match(result.denials[0]?.message ?? '', /io2 volumes \(class io2\) must be at least 4Gi/);
  });
  it('denies a template without a storage request', () => {
    const result = judge([sized], statefulSet([template('data', { resources: {} })]));
    assert.deepEqual(rulesOf(result.denials), ['capacity/request-missing']);
  });
  it('UPDATE: growing past the maximum is denied (the size is what changed)', () => {
    const old = pvc({ storageClassName: 'gp3', resources: { requests: { storage: '900Gi' } } });
    const grown = pvc({ storageClassName: 'gp3', resources: { requests: { storage: '2Ti' } } });
    assert.deepEqual(rulesOf(judge([sized], grown, { operation: 'UPDATE', oldObject: old }).denials), [
      'capacity/policy-limits',
    ]);
  });
  it('UPDATE: a claim already over the maximum can still be relabeled', () => {
    const old = pvc({ storageClassName: 'gp3', resources: { requests: { storage: '2Ti' } } });
    const relabeled = pvc(
      { storageClassName: 'gp3', resources: { requests: { storage: '2Ti' } } },
      { labels: { a: 'b' } },
    );
    const result = judge([sized], relabeled, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(rulesOf(result.warnings), ['capacity/policy-limits']);
  });
});
