import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validatingHandler } from '../../src/admission/handler.js';
import type { AdmissionRequest } from '../../src/admission/protocol.js';
import { Engine } from '../../src/engine/engine.js';
import { NO_CLUSTER } from '../../src/lookup/lookup.js';
import { cluster, policy, statefulSet, template } from '../helpers.js';

// The StatefulSet scale subresource (`kubectl scale`): judged as the cached StatefulSet with its new replicas, so a
// scale-up past a budget is refused where the person scales and what the object had is only warned.

const budget = policy({ name: 'budget', cost: { maxPerNamespace: 150 }, iops: {} });
// io2 at 100 IOPS/GiB in the test cluster: a 10 GiB claim costs 66.25 a month.
const orders = statefulSet(
  [template('data', { storageClassName: 'io2', resources: { requests: { storage: '10Gi' } } })],
  {},
  1,
  { name: 'orders', namespace: 'team-a' },
);

function scale(from: number, to: number, name = 'orders'): AdmissionRequest {
  const scaleOf = (replicas: number) => ({
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name, namespace: 'team-a' },
    spec: { replicas },
  });
  return {
    uid: 'u1',
    kind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
    resource: { group: 'apps', version: 'v1', resource: 'statefulsets' },
    subResource: 'scale',
    name,
    namespace: 'team-a',
    operation: 'UPDATE',
    userInfo: { username: 'jane@example.com' },
    object: scaleOf(to),
    oldObject: scaleOf(from),
  };
}

describe('kubectl scale of a StatefulSet', () => {
  const engine = new Engine({ policies: [budget], lookup: cluster(orders) });

  it('passes: a scale-up within the namespace budget', () => {
    const outcome = validatingHandler(scale(1, 2), engine);
    assert.ok(outcome.valid && outcome.response.allowed && outcome.answered === 'allowed', JSON.stringify(outcome));
  });

  it('fails: a scale-up past the namespace budget is refused with the arithmetic', () => {
    const outcome = validatingHandler(scale(1, 3), engine);
    assert.ok(outcome.valid);
    assert.equal(outcome.response.allowed, false);
    assert.match(
      outcome.response.status?.message ?? '',
      /namespace team-a would cost 198\.75 USD a month \(0\.00 USD existing \+ 198\.75 USD new\), over its budget of 150\.00 USD/,
    );
  });

  it('UPDATE semantics: a StatefulSet already over the budget scales down (warned, existing), and is refused going further up', () => {
    const over = new Engine({
      policies: [budget],
      lookup: cluster({ ...orders, spec: { ...(orders['spec'] as object), replicas: 3 } }),
    });
    const down = validatingHandler(scale(3, 2), over);
    assert.ok(down.valid && down.response.allowed);
    const stillOver = validatingHandler(scale(4, 3), over);
    assert.ok(stillOver.valid && stillOver.response.allowed, 'asking no more than before: the finding is only warned');
    assert.ok(
      stillOver.valid && (stillOver.response.warnings ?? []).some((warning) => /cost\/namespace-budget/.test(warning)),
    );
    const further = validatingHandler(scale(3, 4), over);
    assert.ok(further.valid && !further.response.allowed, 'asking more than the over-budget old object: refused');
  });

  it('a StatefulSet the cache has not seen, or no cache, is admitted and said why', () => {
    for (const [lookup, name, reason] of [
      [cluster(), 'unknown', /the cache has no such StatefulSet yet/],
      [NO_CLUSTER, 'orders', /no cluster cache/],
    ] as const) {
      const outcome = validatingHandler(scale(1, 9, name), new Engine({ policies: [budget], lookup }));
      assert.ok(outcome.valid && outcome.response.allowed && outcome.answered === 'skipped');
      assert.match(outcome.valid ? (outcome.reason ?? '') : '', reason);
    }
  });
});
