import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { stringAt, type JsonObject } from '../../src/core/json.js';
import type { PolicySet } from '../../src/policy/load.js';
import type { Policy, PolicyException } from '../../src/policy/model.js';
import { FloorSync } from '../../src/server/floor-sync.js';
import { LeaseElector } from '../../src/server/leader.js';
import { WebhookMetrics } from '../../src/server/metrics.js';
import { WebhookState } from '../../src/server/state.js';
import { cluster, policy } from '../helpers.js';
import { FakeApiServer } from '../fake-apiserver.js';
import { eventually } from '../loopback.js';

// --admission-policies managed: the Lease holder applies the compiled floor with the webhook configuration as owner,
// prunes what it made that the policies no longer produce, never touches what it did not make, and compiles again
// when a policy set is swapped in and when an exception expires.

const GROUP = '/apis/admissionregistration.k8s.io/v1';
const OWNER_UID = 'uid-of-the-webhook-configuration';

const policySet = (policies: Policy[], exceptions: PolicyException[]): PolicySet => ({
  policies,
  exceptions,
  files: [],
  locate: () => undefined,
});

describe('the managed floor (FloorSync)', () => {
  const api = new FakeApiServer();
  const logger = pino({ level: 'silent' });
  let config: KubeConfig;
  before(async () => {
    config = await api.startWithConfig();
  });
  after(() => api.stop());

  const stored = (resource: string): Map<string, JsonObject> =>
    new Map(
      [...api.objects.entries()]
        .filter(([path]) => path.startsWith(`${GROUP}/${resource}/`))
        .map(([path, object]) => [path.split('/').pop() ?? '', object]),
    );
  const matchConditionNames = (resource: string, name: string): string[] =>
    (((stored(resource).get(name)?.['spec'] as JsonObject | undefined)?.['matchConditions'] ?? []) as JsonObject[]).map(
      (condition) => stringAt(condition, 'name') ?? '',
    );

  it('applies the floor owned by the webhook configuration, prunes its stale objects only, follows a reload and an expiring exception', async () => {
    api.objects.set(`${GROUP}/validatingwebhookconfigurations/storage-policy-webhook`, {
      metadata: { name: 'storage-policy-webhook', uid: OWNER_UID },
    });
    const labelled = { 'app.kubernetes.io/managed-by': 'storage-policy-webhook' };
    api.objects.set(`${GROUP}/validatingadmissionpolicies/storage-policy-retired`, {
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'storage-policy-retired', labels: labelled },
    });
    api.objects.set(`${GROUP}/validatingadmissionpolicies/someone-elses`, {
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'someone-elses' },
    });

    const platform = policy({ name: 'platform', storageClasses: { allowed: ['gp3'], defaults: [{ class: 'gp3' }] } });
    const capacity = policy({ name: 'capacity', capacity: { max: '1Ti' } });
    const exception: PolicyException = {
      name: 'migration',
      file: 'migration.yaml',
      policies: [{ name: 'platform' }],
      match: { namespaces: ['legacy'] },
      owner: 'platform-team',
      reason: 'moving off io1',
      expiresAt: new Date(Date.now() + 1_500).toISOString(),
      permanent: false,
    };
    const state = new WebhookState(cluster());
    state.swap(policySet([platform, capacity], [exception]));
    const elector = new LeaseElector(
      config,
      { namespace: 'webhook', name: 'floor', identity: 'replica-1', leaseDurationSeconds: 30, retryPeriodMs: 50 },
      logger,
    );
    const metrics = new WebhookMetrics({ processMetrics: false });
    const floor = new FloorSync(config, state, elector, metrics, logger, {
      owner: 'storage-policy-webhook',
      excludedNamespaces: ['kube-system', 'storage-policy-webhook'],
      initialRetryDelayMs: 50,
    });
    floor.start();
    try {
      await eventually('the floor applied', () => stored('validatingadmissionpolicies').size >= 3, 10_000, 20);
      await floor.settled();
      const policies = stored('validatingadmissionpolicies');
      assert.ok(policies.has('someone-elses'), 'an object it did not make is never touched');
      assert.ok(!policies.has('storage-policy-retired'), 'a stale object it made is pruned');
      const names = [...policies.keys()].filter((name) => name !== 'someone-elses').sort();
      assert.ok(names.length >= 2 && names.every((name) => name.startsWith('storage-policy.')), names.join(', '));
      for (const name of names) {
        const owners = (policies.get(name)?.['metadata'] as JsonObject)['ownerReferences'];
        assert.deepEqual(owners, [
          {
            apiVersion: 'admissionregistration.k8s.io/v1',
            kind: 'ValidatingWebhookConfiguration',
            name: 'storage-policy-webhook',
            uid: OWNER_UID,
          },
        ]);
      }
      assert.equal(stored('validatingadmissionpolicybindings').size, names.length, 'a binding for each policy');
      assert.ok(stored('mutatingadmissionpolicies').size >= 1, 'the default class as a MutatingAdmissionPolicy (1.37)');
      const platformClaims = names.find((name) => name.includes('platform')) ?? assert.fail(names.join(', '));
      assert.ok(
        matchConditionNames('validatingadmissionpolicies', platformClaims).some((name) => name === 'not-exempted'),
        'the active exception is compiled in',
      );

      // The exception expires: compiled again with no reload.
      await eventually(
        'the expired exception to leave the floor',
        () =>
          !matchConditionNames('validatingadmissionpolicies', platformClaims).some((name) => name === 'not-exempted'),
        10_000,
        50,
      );

      // A reload without the capacity policy: its objects go, the platform's stay.
      state.swap(policySet([platform], []));
      await eventually(
        'the capacity policy objects pruned',
        () => ![...stored('validatingadmissionpolicies').keys()].some((name) => name.includes('capacity')),
        10_000,
        20,
      );
      await floor.settled();
      assert.ok(stored('validatingadmissionpolicies').has(platformClaims));
      assert.ok(
        ![...stored('validatingadmissionpolicybindings').keys()].some((name) => name.includes('capacity')),
        'with its binding',
      );
      assert.equal((await metrics.registry.getSingleMetric('storage_policy_floor_leader')?.get())?.values[0]?.value, 1);
    } finally {
      await floor.stop();
    }
  });

  it('where the API server serves no MutatingAdmissionPolicy (1.35), the floor is validating only', async () => {
    const old = new FakeApiServer();
    old.minor = '35';
    const oldConfig = await old.startWithConfig();
    const state = new WebhookState(cluster());
    state.swap(
      policySet([policy({ name: 'platform', storageClasses: { allowed: ['gp3'], defaults: [{ class: 'gp3' }] } })], []),
    );
    const elector = new LeaseElector(
      oldConfig,
      { namespace: 'webhook', name: 'floor', identity: 'replica-1', leaseDurationSeconds: 30, retryPeriodMs: 50 },
      logger,
    );
    const floor = new FloorSync(oldConfig, state, elector, new WebhookMetrics({ processMetrics: false }), logger, {
      owner: 'storage-policy-webhook',
      excludedNamespaces: ['kube-system'],
    });
    floor.start();
    try {
      const paths = (resource: string) => [...old.objects.keys()].filter((path) => path.includes(`/${resource}/`));
      await eventually('the floor applied', () => paths('validatingadmissionpolicies').length > 0, 10_000, 20);
      await floor.settled();
      assert.deepEqual(paths('mutatingadmissionpolicies'), []);
      assert.ok(!old.writes.some((write) => write.includes('mutating')), old.writes.join(', '));
    } finally {
      await floor.stop();
      await old.stop();
    }
  });
});
