import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/core/json.js';
import { NO_CLUSTER, type ClusterLookup } from '../../src/lookup/lookup.js';
import { cluster, judge, policy, pvc, rulesOf, statefulSet, template } from '../helpers.js';

// Budgets in money and the monthly quote: a claim and a template each priced from its class (io2 at 100 IOPS/GiB in
// the test cluster), the namespace's existing claims from the cache, the quote's difference on UPDATE.

const COST = 'storage-policy-webhook.io/monthly-cost';
const budget = (cost: { maxPerClaim?: number; maxPerNamespace?: number }) => policy({ name: 'budget', cost, iops: {} });
const io2 = (storage: string, metadata: JsonObject = {}) =>
  pvc({ storageClassName: 'io2', accessModes: ['ReadWriteOnce'], resources: { requests: { storage } } }, metadata);

describe('cost: the monthly quote', () => {
  it('annotates a claim with what it costs a month, two decimals and the currency, and says so', () => {
    // 10 GiB io2 x 0.125 + 1000 IOPS x 0.065
    const result = judge([budget({ maxPerClaim: 500 })], io2('10Gi'));
    assert.equal(
      (result.patched['metadata'] as { annotations: Record<string, string> }).annotations[COST],
      '66.25 USD',
    );
    assert.ok(
      result.verdict.notes.some(
        (note) => note.rule === 'cost/quote' && /monthly cost 66\.25 USD \(10 GiB io2 \+ 1000 IOPS\)/.test(note.note),
      ),
    );
  });

  it('UPDATE: a resize is quoted again with the difference', () => {
    const old = io2('10Gi', { annotations: { [COST]: '66.25 USD' } });
    const grown = io2('20Gi', { annotations: { [COST]: '66.25 USD' } });
    const result = judge([budget({ maxPerClaim: 500 })], grown, { operation: 'UPDATE', oldObject: old });
    const note = result.verdict.notes.find((entry) => entry.rule === 'cost/quote')?.note ?? '';
    assert.match(note, /monthly cost 132\.50 USD .*was 66\.25 USD \(\+66\.25 USD\)/);
  });

  it('a template is never written: its quote is a warning, per claim and for the replicas', () => {
    const sts = statefulSet(
      [template('data', { storageClassName: 'io2', resources: { requests: { storage: '10Gi' } } })],
      {},
      3,
    );
    const result = judge([budget({ maxPerClaim: 500 })], sts);
    assert.deepEqual(
      result.patch.filter((operation) => operation.path.includes('monthly-cost')),
      [],
    );
    const estimate = result.warnings.find((finding) => finding.rule === 'cost/estimate');
    assert.match(estimate?.message ?? '', /each claim 66\.25 USD a month .*198\.75 USD for 3 replicas/);
  });
});

describe('cost: budgets', () => {
  it('passes under both budgets', () => {
    assert.deepEqual(judge([budget({ maxPerClaim: 100, maxPerNamespace: 1000 })], io2('10Gi')).denials, []);
  });

  it('fails: a claim over the per-claim budget, with its cost and the budget', () => {
    const result = judge([budget({ maxPerClaim: 100 })], io2('20Gi'));
    assert.deepEqual(rulesOf(result.denials), ['cost/claim-budget']);
    assert.match(
      result.denials[0]?.message ?? '',
      /costs 132\.50 USD a month \(20 GiB io2 \+ 2000 IOPS\), over the per-claim budget of 100\.00 USD/,
    );
  });

  it('fails: the namespace over its budget, existing claims from the cache, a template counted per replica, with the arithmetic', () => {
    const existing = io2('10Gi', { name: 'ledger' });
    const lookup = cluster(existing);
    const result = judge([budget({ maxPerNamespace: 150 })], io2('10Gi', { name: 'orders' }), { lookup });
    assert.deepEqual(result.denials, [], '66.25 existing + 66.25 new is within 150');
    const sts = statefulSet(
      [template('data', { storageClassName: 'io2', resources: { requests: { storage: '10Gi' } } })],
      {},
      2,
    );
    const replicas = judge([budget({ maxPerNamespace: 150 })], sts, { lookup });
    assert.deepEqual(rulesOf(replicas.denials), ['cost/namespace-budget']);
    assert.match(
      replicas.denials[0]?.message ?? '',
      /would cost 198\.75 USD a month \(66\.25 USD existing \+ 132\.50 USD new\), over its budget of 150\.00 USD/,
    );
  });

  it('UPDATE: a claim already over is warned (existing); growing one past the namespace budget is denied, counting it once', () => {
    const lookup = cluster(io2('10Gi', { name: 'orders' }));
    const old = io2('10Gi', { name: 'orders' });
    const kept = judge(
      [budget({ maxPerClaim: 50 })],
      { ...old, metadata: { ...(old['metadata'] as JsonObject), labels: { a: 'b' } } },
      {
        operation: 'UPDATE',
        oldObject: old,
        lookup,
      },
    );
    assert.deepEqual(
      rulesOf(kept.warnings).filter((rule) => rule.startsWith('cost/')),
      ['cost/claim-budget'],
    );
    const grown = judge([budget({ maxPerNamespace: 100 })], io2('20Gi', { name: 'orders' }), {
      operation: 'UPDATE',
      oldObject: old,
      lookup,
    });
    assert.match(
      grown.denials[0]?.message ?? '',
      /would cost 132\.50 USD a month \(0\.00 USD existing \+ 132\.50 USD new\)/,
    );
  });

  it('without the cache, the namespace budget follows lookupFailure', () => {
    const state = cluster();
    const noClaims: ClusterLookup = {
      storageClass: (name) => state.storageClass(name),
      storageClasses: () => state.storageClasses(),
      attributesClass: (name) => state.attributesClass(name),
      namespaceLabels: (namespace) => state.namespaceLabels(namespace),
      namespaceTotal: (namespace) => NO_CLUSTER.namespaceTotal(namespace, new Set(), () => 0),
      nodeZones: () => state.nodeZones(),
      claim: (namespace, name) => state.claim(namespace, name),
      statefulSet: (namespace, name) => state.statefulSet(namespace, name),
      volume: (name) => state.volume(name),
      snapshot: (namespace, name) => state.snapshot(namespace, name),
      statefulSetTemplates: (namespace, name) => state.statefulSetTemplates(namespace, name),
    };
    const result = judge([budget({ maxPerNamespace: 100 })], io2('10Gi'), { lookup: noClaims });
    assert.ok(
      result.findings.some(
        (finding) => finding.rule === 'lookup/unavailable' && /namespace cost budget/.test(finding.message),
      ),
    );
  });
});
