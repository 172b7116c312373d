import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Engine } from '../../src/engine/engine.js';
import { LeaseElector } from '../../src/server/leader.js';
import { WebhookMetrics } from '../../src/server/metrics.js';
import { ReportWriter } from '../../src/server/report-writer.js';
import { auditReports, cluster, policy, pvc, storageClass } from '../helpers.js';
import { FakeApiServer } from '../fake-apiserver.js';
import { eventually } from '../loopback.js';

describe('PolicyReports: one writer by Lease, writes only what changed', () => {
  const api = new FakeApiServer();
  const logger = pino({ level: 'silent' });

  let config: KubeConfig;
  before(async () => {
    config = await api.startWithConfig();
  });
  after(() => api.stop());

  it('of two candidates exactly one leads; when it stops, the other takes over without waiting the lease out', async () => {
    const changes: string[] = [];
    const candidate = (identity: string): LeaseElector => {
      const elector = new LeaseElector(
        config,
        { namespace: 'webhook', name: 'audit', identity, leaseDurationSeconds: 30, retryPeriodMs: 50 },
        logger,
      );
      elector.onLeadership((leader) => changes.push(`${identity} ${leader}`));
      return elector;
    };
    const first = candidate('replica-1');
    const second = candidate('replica-2');
    first.start();
    second.start();
    try {
      await eventually('one leader', () => first.isLeader || second.isLeader, 10_000, 20);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(Number(first.isLeader) + Number(second.isLeader), 1, 'never two leaders');
      const [leader, other] = first.isLeader ? [first, second] : [second, first];
      await leader.stop();
      // Well under the 30 s lease: the release, not its expiry, hands over.
      await eventually('the other replica to lead', () => other.isLeader, 10_000, 20);
      await other.stop();
      assert.equal(leader.isLeader, false);
    } finally {
      await first.stop();
      await second.stop();
    }
    assert.equal(changes.length, 4, `each won and gave up the lease once: ${changes.join(', ')}`);
  });

  it('writes a changed report once, skips unchanged ones (also for a new leader), deletes what is gone', async () => {
    const engine = new Engine({
      policies: [policy({ name: 'platform', storageClasses: { allowed: ['gp3'] } })],
      lookup: cluster(),
    });
    const objects = [
      pvc({ storageClassName: 'efs' }, { name: 'bad' }),
      pvc({ storageClassName: 'gp3' }, { name: 'ok', namespace: 'team-b' }),
    ];
    const writer = new ReportWriter(config, new WebhookMetrics({ processMetrics: false }), logger, {
      writesPerSecond: 1000,
    });
    api.writes = [];
    await writer.sync(auditReports(engine, objects, new Date(0)));
    assert.deepEqual(api.writes, [
      'apply /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/storage-policy-webhook',
      'apply /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-b/policyreports/storage-policy-webhook',
    ]);
    api.writes = [];
    await writer.sync(auditReports(engine, objects, new Date(60_000)));
    assert.deepEqual(api.writes, [], 'same content, a later audit: nothing written');
    const successor = new ReportWriter(config, new WebhookMetrics({ processMetrics: false }), logger, {
      writesPerSecond: 1000,
    });
    await successor.sync(auditReports(engine, objects, new Date(120_000)));
    assert.deepEqual(api.writes, [], 'a new leader reads the stored digests first');
    await successor.sync(auditReports(engine, [pvc({ storageClassName: 'gp3' }, { name: 'bad' })], new Date(180_000)));
    assert.deepEqual(api.writes, [
      'apply /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/storage-policy-webhook',
      'delete /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-b/policyreports/storage-policy-webhook',
    ]);
    const stored = api.objects.get(
      '/apis/wgpolicyk8s.io/v1alpha2/namespaces/team-a/policyreports/storage-policy-webhook',
    );
    assert.deepEqual(stored?.['summary'], { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 });
  });

  it('refused writes (a CRD still initializing) are retried with backoff, without waiting for the next change', async () => {
    const writer = new ReportWriter(config, new WebhookMetrics({ processMetrics: false }), logger, {
      writesPerSecond: 1000,
      initialRetryDelayMs: 50,
    });
    api.writes = [];
    api.refuse = 3;
    const engine = new Engine({ policies: [policy({ storageClasses: { allowed: ['gp3'] } })], lookup: cluster() });
    await writer.sync(auditReports(engine, [pvc({ storageClassName: 'efs' }, { name: 'x', namespace: 'team-d' })]));
    await eventually(
      'the report written after the refusals',
      () =>
        api.writes.includes(
          'apply /apis/wgpolicyk8s.io/v1alpha2/namespaces/team-d/policyreports/storage-policy-webhook',
        ),
      5000,
      20,
    );
    // Its pass also deletes the reports of earlier tests; stop waits for that, so nothing lands in the next test.
    await writer.stop();
  });

  it('openreports.io/v1alpha1: the same results as Report and ClusterReport, with the source at the top', async () => {
    const writer = new ReportWriter(config, new WebhookMetrics({ processMetrics: false }), logger, {
      writesPerSecond: 1000,
      api: 'openreports.io/v1alpha1',
    });
    api.writes = [];
    const engine = new Engine({
      policies: [
        policy({ match: { kinds: ['PersistentVolumeClaim', 'StorageClass'] }, storageClasses: { allowed: ['gp3'] } }),
      ],
      lookup: cluster(),
    });
    await writer.sync(
      auditReports(engine, [
        pvc({ storageClassName: 'efs' }, { name: 'x', namespace: 'team-e' }),
        storageClass('slow', 'ebs.csi.aws.com'),
      ]),
    );
    assert.deepEqual(api.writes, [
      'apply /apis/openreports.io/v1alpha1/clusterreports/storage-policy-webhook',
      'apply /apis/openreports.io/v1alpha1/namespaces/team-e/reports/storage-policy-webhook',
    ]);
    const stored = api.objects.get('/apis/openreports.io/v1alpha1/namespaces/team-e/reports/storage-policy-webhook');
    assert.deepEqual(
      [stored?.['apiVersion'], stored?.['kind'], stored?.['source'], stored?.['summary']],
      ['openreports.io/v1alpha1', 'Report', 'storage-policy-webhook', { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 }],
    );
    assert.equal(
      api.objects.get('/apis/openreports.io/v1alpha1/clusterreports/storage-policy-webhook')?.['kind'],
      'ClusterReport',
    );
    await writer.stop();
  });

  it('a writer that may no longer write stops before the next write', async () => {
    const writer = new ReportWriter(config, new WebhookMetrics({ processMetrics: false }), logger, {
      writesPerSecond: 1000,
      mayWrite: () => false,
    });
    api.writes = [];
    await writer.sync(
      auditReports(new Engine({ policies: [policy({ storageClasses: { allowed: ['gp3'] } })], lookup: cluster() }), [
        pvc({ storageClassName: 'efs' }, { name: 'x', namespace: 'team-c' }),
      ]),
    );
    assert.deepEqual(api.writes, []);
  });
});
