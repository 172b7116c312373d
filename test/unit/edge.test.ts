import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { JsonObject } from '../../src/core/json.js';
import { MAX_WARNINGS_TOTAL, warningsFor } from '../../src/engine/report.js';
import type { ClusterLookup } from '../../src/lookup/lookup.js';
import type { Policy } from '../../src/policy/model.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookMetrics } from '../../src/server/metrics.js';
import { WebhookState } from '../../src/server/state.js';
import { cluster, judge, policy, pvc, statefulSet, storageClass, template } from '../helpers.js';

function reviewOf(object: JsonObject, uid = 'edge-1'): string {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const group = kind === 'StatefulSet' ? 'apps' : kind === 'StorageClass' ? 'storage.k8s.io' : '';
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: { uid, kind: { group, version: 'v1', kind }, namespace: 'team-a', operation: 'CREATE', object },
  });
}

function serverWith(policies: Policy[], lookup: ClusterLookup = cluster()) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const state = new WebhookState(lookup);
  state.swap({ policies, exceptions: [], files: [], locate: () => undefined });
  const metrics = new WebhookMetrics({ processMetrics: false });
  const app = buildServer({ state, logger, metrics, bodyLimit: 4096 });
  const post = (url: string, payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
  return { app, post, lines, metrics };
}

describe('HTTP edge: every exit logged and counted once', () => {
  it('answered, 400, 413, 415 and 503 each give one admission log line and one histogram count', async () => {
    const { app, post, lines, metrics } = serverWith([policy({ storageClasses: { allowed: ['gp3'] } })]);
    assert.equal((await post('/validate', reviewOf(pvc({ storageClassName: 'gp3' })))).statusCode, 200);
    assert.equal((await post('/validate', '{"apiVersion":"admission.k8s.io/v1"}')).statusCode, 400);
    assert.equal((await post('/validate', reviewOf(pvc({ storageClassName: 'x'.repeat(5000) })))).statusCode, 413);
    assert.equal((await post('/mutate', 'hello', 'text/plain')).statusCode, 415);
    const admissions = lines.filter((line) => line['msg'] === 'admission');
    assert.deepEqual(
      admissions.map((line) => [line['webhook'], line['status'], line['decision']]),
      [
        ['validate', 200, 'allowed'],
        ['validate', 400, 'rejected'],
        ['validate', 413, 'too_large'],
        ['mutate', 415, 'rejected'],
      ],
    );
    assert.equal(lines.length, admissions.length, 'no second line for the same request');
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /storage_policy_admission_duration_seconds_count\{webhook="validate",kind="unknown",operation="unknown",decision="too_large"\} 1/,
    );
    assert.match(text, /storage_policy_bad_requests_total\{status="400"\} 1/);
    assert.match(text, /storage_policy_bad_requests_total\{status="415"\} 1/);
    await app.close();

    const empty = new WebhookState(cluster());
    const unready = buildServer({ state: empty, logger: pino({ level: 'silent' }), metrics });
    assert.equal(
      (
        await unready.inject({
          method: 'POST',
          url: '/mutate',
          headers: { 'content-type': 'application/json' },
          payload: reviewOf(pvc({})),
        })
      ).statusCode,
      503,
    );
    assert.match(await metrics.registry.metrics(), /decision="unavailable"\} 1/);
    await unready.close();
  });

  it('a rule that throws is answered in the protocol: allowed false, code 500, the family named; logged as an error', async () => {
    const broken: ClusterLookup = {
      ...cluster(),
      nodeZones: () => {
        throw new TypeError('boom');
      },
      storageClass: (name) => cluster().storageClass(name),
      storageClasses: () => cluster().storageClasses(),
      attributesClass: (name) => cluster().attributesClass(name),
      namespaceLabels: () => ({ known: true, value: {} }),
      namespaceTotal: () => ({ known: true, value: 0 }),
      statefulSet: () => ({ known: true, value: undefined }),
      volume: () => ({ known: true, value: undefined }),
      snapshot: () => ({ known: true, value: undefined }),
      statefulSetTemplates: () => ({ known: true, value: undefined }),
      claim: () => ({ known: true, value: undefined }),
    };
    const { app, post, lines, metrics } = serverWith([policy({ zones: { allowed: ['us-east-1a'] } })], broken);
    const response = await post('/validate', reviewOf(statefulSet([template('data', { storageClassName: 'gp3' })])));
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.deepEqual(body.response, {
      uid: 'edge-1',
      allowed: false,
      status: {
        code: 500,
        reason: 'InternalError',
        message: 'storage policy webhook error: rule family zones failed: boom',
      },
    });
    const line = lines.find((entry) => entry['msg'] === 'admission');
    assert.equal(line?.['decision'], 'error');
    assert.equal(line?.['level'], 50);
    assert.match(await metrics.registry.metrics(), /decision="error"\} 1/);
    await app.close();
  });

  it('the response carries only what AdmissionReview v1 defines (response schema)', async () => {
    const { app, post } = serverWith([policy({ storageClasses: { allowed: ['gp3'] } })]);
    const body = (await post('/validate', reviewOf(pvc({ storageClassName: 'io2' })))).json();
    assert.deepEqual(Object.keys(body).sort(), ['apiVersion', 'kind', 'response']);
    assert.deepEqual(Object.keys(body.response).sort(), ['allowed', 'status', 'uid']);
    await app.close();
  });
});

describe('reports reach the API server', () => {
  it('audit findings reach the HTTP response as auditAnnotations', async () => {
    const { app, post } = serverWith([policy({ action: 'audit', storageClasses: { allowed: ['gp3'] } })]);
    const body = (await post('/validate', reviewOf(pvc({ storageClassName: 'io2' })))).json();
    assert.equal(body.response.allowed, true);
    assert.match(body.response.auditAnnotations?.['storage-class.allowed'] ?? '', /class io2 is not allowed here/);
    await app.close();
  });

  it('warnings stay within the API server budget: 4000 characters in total, later ones dropped', () => {
    const many = policy({ action: 'warn', storageClasses: { allowed: ['gp3'] } });
    const templates = Array.from({ length: 60 }, (_, index) =>
      template(`data-${index}-${'x'.repeat(40)}`, { storageClassName: 'io2' }),
    );
    const findings = judge([many], statefulSet(templates)).warnings;
    assert.equal(findings.length, 60);
    const warnings = warningsFor(findings);
    const total = warnings.reduce((sum, warning) => sum + [...warning].length, 0);
    assert.ok(total <= MAX_WARNINGS_TOTAL, `${total} characters`);
    assert.ok(total > MAX_WARNINGS_TOTAL - 120, 'filled up to the budget');
    assert.ok(warnings.length < findings.length);
  });

  it('access-modes/caution: a mode served only with care is allowed with a warning', () => {
    const careful = policy({
      accessModes: {
        capabilities: [
          {
            provisioner: 'example.com/shared-disk',
            modes: ['ReadWriteOnce'],
            conditional: [
              {
                mode: 'ReadWriteMany',
                condition: 'only works when all pods using it run on the same node',
                caution: true,
              },
            ],
          },
        ],
      },
    });
    const lookup = cluster(
      storageClass('shared', 'example.com/shared-disk', { volumeBindingMode: 'WaitForFirstConsumer' }),
    );
    const result = judge([careful], pvc({ storageClassName: 'shared', accessModes: ['ReadWriteMany'] }), { lookup });
    assert.deepEqual(result.denials, []);
    assert.deepEqual(
      result.warnings.map((finding) => finding.rule),
      ['access-modes/caution'],
    );
    assert.ok(
      result.verdict.warnings.some((warning) =>
        warning.startsWith('access-modes/caution: spec.accessModes[0]: ReadWriteMany on example.com/shared-disk'),
      ),
    );
  });
});
