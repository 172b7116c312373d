import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DURATION_PATTERN, parseDuration } from '../../src/core/duration.js';
import type { JsonObject } from '../../src/core/json.js';
import { Engine } from '../../src/engine/engine.js';
import { decide, reviewInputOf } from '../../src/engine/pipeline.js';
import { NO_CLUSTER, type ClusterLookup } from '../../src/lookup/lookup.js';
import { cluster, judge, policy, pvc, rulesOf, statefulSet, template } from '../helpers.js';

// Budgets in money and the monthly quote: a claim and a template each priced from its class (io2 at 100 IOPS/GiB in
// the test cluster), the namespace's existing claims from the cache, the quote's difference on UPDATE.

const COST = 'storage-policy-webhook.io/monthly-cost';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
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

describe('cost: idle claims (cost.idleAfter, rule cost/idle)', () => {
  const NOW = Date.parse('2026-12-07T12:00:00Z');
  const idlePolicy = policy({ name: 'budget', cost: { idleAfter: '720h' } });
  const bound = (unused: { status: string; since: string } | undefined, metadata: JsonObject = {}): JsonObject => ({
    ...io2('10Gi', metadata),
    status: {
      phase: 'Bound',
      ...(unused ? { conditions: [{ type: 'Unused', status: unused.status, lastTransitionTime: unused.since }] } : {}),
    },
  });
  const judgeAt = (object: JsonObject, oldObject?: JsonObject) => {
    const input = reviewInputOf({ object, operation: oldObject ? 'UPDATE' : 'CREATE', oldObject });
    assert.ok(input);
    return decide(new Engine({ policies: [idlePolicy], lookup: cluster(), now: () => NOW }), input, 'both');
  };

  it('passes: unused for less than idleAfter, in use (Unused=False), not reported, or not bound', () => {
    assert.deepEqual(rulesOf(judgeAt(bound({ status: 'True', since: '2026-11-30T12:00:00Z' })).findings), []);
    assert.deepEqual(rulesOf(judgeAt(bound({ status: 'False', since: '2026-01-01T00:00:00Z' })).findings), []);
    assert.deepEqual(rulesOf(judgeAt(bound(undefined)).findings), []);
    const pending = { ...bound({ status: 'True', since: '2026-01-01T00:00:00Z' }), status: { phase: 'Pending' } };
    assert.deepEqual(rulesOf(judgeAt(pending).findings), []);
  });

  it('warns, never denies: a claim unused longer than idleAfter, with since when and its monthly cost', () => {
    const verdict = judgeAt(bound({ status: 'True', since: '2026-10-27T12:00:00Z' }));
    assert.equal(verdict.allowed, true);
    assert.deepEqual(rulesOf(verdict.findings), ['cost/idle']);
    assert.equal(
      verdict.findings.find((finding) => finding.rule === 'cost/idle')?.message,
      'idle since 2026-10-27 at 66.25 USD a month (idleAfter 720h): delete it, or snapshot and delete it (unused since 2026-10-27T12:00:00Z; 10 GiB io2 + 1000 IOPS)',
    );
    // kubectl's warning (cut at 120 characters) keeps since when, the cost and the fix.
    assert.match(
      verdict.warnings.join('\n'),
      /^cost\/idle: status\.conditions\[Unused\]: idle since 2026-10-27 at 66\.25 USD a month \(idleAfter 720h\): delete it/m,
    );
  });

  it('UPDATE: a person relabelling an idle claim is told, and admitted', () => {
    const old = bound({ status: 'True', since: '2026-10-27T12:00:00Z' });
    const relabeled = bound({ status: 'True', since: '2026-10-27T12:00:00Z' }, { labels: { team: 'a' } });
    const verdict = judgeAt(relabeled, old);
    assert.equal(verdict.allowed, true);
    assert.deepEqual(rulesOf(verdict.findings), ['cost/idle']);
  });

  it('durations as Go writes them; days are not a unit', () => {
    assert.equal(parseDuration('720h'), 720 * 3_600_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('30d'), undefined);
    assert.equal(parseDuration(''), undefined);
  });

  it('the policy schema accepts exactly the durations the rule parses', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/storage-policy.schema.json'), 'utf8')) as {
      properties: { spec: { properties: { cost: { properties: { idleAfter: { pattern: string } } } } } };
    };
    assert.equal(schema.properties.spec.properties.cost.properties.idleAfter.pattern, DURATION_PATTERN);
  });
});
