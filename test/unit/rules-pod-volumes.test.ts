import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { podVolumesCondition } from '../../src/admission/match-conditions.js';
import { madeByController, WORKLOAD_CONTROLLER_USERS } from '../../src/core/controllers.js';
import type { JsonObject } from '../../src/core/json.js';
import { POD_SPEC_KINDS } from '../../src/core/kinds.js';
import { claimsOf } from '../../src/core/storage.js';
import { judge, policy, pvc, rulesOf } from '../helpers.js';

// Generic ephemeral volumes and CSI inline volumes in Pods and in every workload's pod template: judged as the
// claims the ephemeral-volume controller makes of them, where people write, never written, and never refused to
// the controllers that make objects from a judged template.

const POD_KINDS = [
  'PersistentVolumeClaim',
  'StatefulSet',
  'Pod',
  'Deployment',
  'ReplicaSet',
  'DaemonSet',
  'Job',
  'CronJob',
] as const;
const governing = (overrides: Parameters<typeof policy>[0] = {}) =>
  policy({ storageClasses: { allowed: ['gp3', 'efs'] }, ...overrides, match: { kinds: [...POD_KINDS] } });

const ephemeral = (name: string, spec: JsonObject): JsonObject => ({
  name,
  ephemeral: { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], ...spec } } },
});

const podSpec = (volumes: JsonObject[]): JsonObject => ({ containers: [{ name: 'app', image: 'app:1' }], volumes });

function workload(kind: string, volumes: JsonObject[], extra: JsonObject = {}): JsonObject {
  const template = { metadata: { labels: { app: 'app' } }, spec: podSpec(volumes) };
  const specs: Record<string, JsonObject> = {
    Pod: podSpec(volumes),
    Deployment: { replicas: 3, selector: { matchLabels: { app: 'app' } }, template },
    ReplicaSet: { replicas: 2, selector: { matchLabels: { app: 'app' } }, template },
    DaemonSet: { selector: { matchLabels: { app: 'app' } }, template },
    StatefulSet: { replicas: 2, serviceName: 'app', selector: { matchLabels: { app: 'app' } }, template },
    Job: { parallelism: 4, template },
    CronJob: { schedule: '0 * * * *', jobTemplate: { spec: { parallelism: 2, template } } },
  };
  const apiVersion = kind === 'Pod' ? 'v1' : kind === 'Job' || kind === 'CronJob' ? 'batch/v1' : 'apps/v1';
  return { apiVersion, kind, metadata: { name: 'app', namespace: 'team-a', ...extra }, spec: specs[kind] ?? {} };
}

const forbidden = ephemeral('scratch', { storageClassName: 'io2', resources: { requests: { storage: '10Gi' } } });
const allowed = ephemeral('scratch', { storageClassName: 'gp3', resources: { requests: { storage: '10Gi' } } });

describe('claims in pod specs: generic ephemeral volumes', () => {
  it('every kind with a pod spec reads its ephemeral volumes as claims, at their path, once per pod it runs', () => {
    const expected: Record<string, { root: string; copies: number }> = {
      Pod: { root: 'spec.volumes.1', copies: 1 },
      Deployment: { root: 'spec.template.spec.volumes.1', copies: 3 },
      ReplicaSet: { root: 'spec.template.spec.volumes.1', copies: 2 },
      DaemonSet: { root: 'spec.template.spec.volumes.1', copies: 1 },
      StatefulSet: { root: 'spec.template.spec.volumes.1', copies: 2 },
      Job: { root: 'spec.template.spec.volumes.1', copies: 4 },
      CronJob: { root: 'spec.jobTemplate.spec.template.spec.volumes.1', copies: 2 },
    };
    assert.deepEqual([...POD_SPEC_KINDS].sort(), Object.keys(expected).sort());
    for (const kind of POD_SPEC_KINDS) {
      const object = workload(kind, [{ name: 'config', configMap: { name: 'app' } }, allowed]);
      const claims = claimsOf(kind, object);
      assert.equal(claims.length, 1, kind);
      assert.equal(claims[0]?.root.join('.'), `${expected[kind]?.root}.ephemeral.volumeClaimTemplate`, kind);
      assert.equal(claims[0]?.copies, expected[kind]?.copies, kind);
      assert.equal(claims[0]?.templateName, 'scratch');
      assert.equal(claims[0]?.className, 'gp3');
    }
  });

  it('passes: a Deployment and a CronJob whose templates name an allowed class are admitted and not written', () => {
    for (const kind of ['Deployment', 'CronJob']) {
      const result = judge([governing()], workload(kind, [allowed]));
      assert.deepEqual(rulesOf(result.denials), [], kind);
      assert.deepEqual(result.patch, [], `${kind}: templates are never written`);
    }
  });

  it('fails: a forbidden class in any pod spec is denied at the template field, with the fix', () => {
    for (const kind of POD_SPEC_KINDS) {
      const result = judge([governing()], workload(kind, [forbidden]));
      assert.deepEqual(rulesOf(result.denials), ['storage-class/allowed'], kind);
      assert.match(
        result.denials[0]?.path ?? '',
        /volumes\[0\]\.ephemeral\.volumeClaimTemplate\.spec\.storageClassName$/,
      );
      assert.match(result.denials[0]?.message ?? '', /use one of gp3, efs/);
    }
  });

  it('fails: RWX on an EBS class in a Job template is denied (the claim could never provision)', () => {
    const rwx = ephemeral('work', {
      storageClassName: 'gp3',
      accessModes: ['ReadWriteMany'],
      resources: { requests: { storage: '1Gi' } },
    });
    const result = judge([policy({ accessModes: {}, match: { kinds: ['Job'] } })], workload('Job', [rwx]));
    assert.deepEqual(rulesOf(result.denials), ['access-modes/unsupported']);
  });

  it('UPDATE: what the old template had is warned (existing); a change of the volumes to a forbidden class is denied', () => {
    const old = workload('Deployment', [forbidden]);
    const scaled = judge(
      [governing()],
      { ...old, spec: { ...(old['spec'] as JsonObject), replicas: 5 } },
      {
        operation: 'UPDATE',
        oldObject: old,
      },
    );
    assert.deepEqual(rulesOf(scaled.denials), []);
    assert.deepEqual(rulesOf(scaled.warnings), ['storage-class/allowed']);
    assert.ok(scaled.warnings.every((finding) => finding.preexisting));
    const changed = judge([governing()], workload('Deployment', [forbidden]), {
      operation: 'UPDATE',
      oldObject: workload('Deployment', [allowed]),
    });
    assert.deepEqual(rulesOf(changed.denials), ['storage-class/allowed']);
  });

  it('a policy that does not govern the kind does not judge it', () => {
    const claimsOnly = policy({ storageClasses: { allowed: ['gp3'] }, match: { kinds: ['PersistentVolumeClaim'] } });
    assert.deepEqual(judge([claimsOnly], workload('Deployment', [forbidden])).findings, []);
  });
});

describe('what controllers make from a judged template', () => {
  const controller = (name: string): string => `system:serviceaccount:kube-system:${name}`;
  const owner = (kind: string) => ({
    ownerReferences: [{ apiVersion: 'v1', kind, name: 'app', uid: 'a1b2', controller: true }],
  });
  const ephemeralClaim = (metadata: JsonObject) =>
    pvc(
      { storageClassName: 'io2', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      {
        name: 'app-scratch',
        ...metadata,
      },
    );

  it("the ephemeral-volume controller's claim for a pod: its findings are warned and marked existing", () => {
    const result = judge([governing()], ephemeralClaim(owner('Pod')), {
      requester: controller('ephemeral-volume-controller'),
    });
    assert.deepEqual(rulesOf(result.denials), []);
    assert.deepEqual(rulesOf(result.warnings), ['storage-class/allowed']);
    assert.ok(result.warnings[0]?.preexisting);
  });

  it('gets the default class when it names none (mutated as any claim)', () => {
    const defaults = governing({ storageClasses: { allowed: ['gp3'], defaults: [{ class: 'gp3' }] } });
    const claim = pvc({ accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } }, owner('Pod'));
    const result = judge([defaults], claim, { requester: controller('ephemeral-volume-controller') });
    assert.deepEqual(result.patched['spec'], { ...(claim['spec'] as JsonObject), storageClassName: 'gp3' });
  });

  it('the same claim by a person, by the controller without a Pod owner, or by another controller is denied', () => {
    for (const [metadata, requester] of [
      [owner('Pod'), 'jane@example.com'],
      [{}, controller('ephemeral-volume-controller')],
      [owner('Deployment'), controller('ephemeral-volume-controller')],
      [owner('Pod'), controller('replicaset-controller')],
    ] as const) {
      const result = judge([governing()], ephemeralClaim(metadata), { requester });
      assert.deepEqual(rulesOf(result.denials), ['storage-class/allowed'], `${requester} ${JSON.stringify(metadata)}`);
    }
  });

  it('Pods of a ReplicaSet, a Job, a DaemonSet or a StatefulSet, a Deployment’s ReplicaSet, a CronJob’s Job: warned when made by their controller', () => {
    const cases = [
      ['Pod', 'ReplicaSet', 'replicaset-controller'],
      ['Pod', 'Job', 'job-controller'],
      ['Pod', 'DaemonSet', 'daemon-set-controller'],
      ['Pod', 'StatefulSet', 'statefulset-controller'],
      ['ReplicaSet', 'Deployment', 'deployment-controller'],
      ['Job', 'CronJob', 'cronjob-controller'],
    ] as const;
    for (const [kind, ownerKind, serviceAccount] of cases) {
      const object = workload(kind, [forbidden], owner(ownerKind));
      const made = judge([governing()], object, { requester: controller(serviceAccount) });
      assert.deepEqual(rulesOf(made.denials), [], `${kind} by ${serviceAccount}`);
      assert.deepEqual(rulesOf(made.warnings), ['storage-class/allowed'], `${kind} by ${serviceAccount}`);
      assert.ok(
        madeByController(kind, object, 'system:kube-controller-manager'),
        'without service account credentials',
      );
      const byPerson = judge([governing()], object, { requester: 'jane@example.com' });
      assert.deepEqual(rulesOf(byPerson.denials), ['storage-class/allowed'], `${kind} by a person`);
    }
  });
});

describe('CSI inline volumes (inlineVolumes.csiDrivers)', () => {
  const inline = (driver: string): JsonObject => ({ name: 'inline', csi: { driver } });
  const drivers = (csiDrivers: string[]) => governing({ inlineVolumes: { csiDrivers } });

  it('passes: a listed driver, and any driver without the setting', () => {
    assert.deepEqual(
      judge([drivers(['secrets-store.csi.k8s.io'])], workload('Pod', [inline('secrets-store.csi.k8s.io')])).findings,
      [],
    );
    assert.deepEqual(judge([governing()], workload('Pod', [inline('ebs.csi.aws.com')])).findings, []);
  });

  it('fails: an unlisted driver in a Pod or a template is denied at its driver field; [] allows none', () => {
    const pod = judge([drivers(['secrets-store.csi.k8s.io'])], workload('Pod', [inline('ebs.csi.aws.com')]));
    assert.deepEqual(rulesOf(pod.denials), ['inline-volumes/csi-driver']);
    assert.equal(pod.denials[0]?.path, 'spec.volumes[0].csi.driver');
    assert.match(pod.denials[0]?.message ?? '', /use one of secrets-store\.csi\.k8s\.io/);
    const cron = judge([drivers([])], workload('CronJob', [inline('secrets-store.csi.k8s.io')]));
    assert.equal(cron.denials[0]?.path, 'spec.jobTemplate.spec.template.spec.volumes[0].csi.driver');
    assert.match(cron.denials[0]?.message ?? '', /no driver may serve inline volumes/);
  });

  it('UPDATE: an inline volume the DaemonSet already had is warned; a new one is denied', () => {
    const old = workload('DaemonSet', [inline('ebs.csi.aws.com')]);
    const kept = judge([drivers(['secrets-store.csi.k8s.io'])], old, { operation: 'UPDATE', oldObject: old });
    assert.deepEqual(rulesOf(kept.warnings), ['inline-volumes/csi-driver']);
    const added = judge([drivers(['secrets-store.csi.k8s.io'])], old, {
      operation: 'UPDATE',
      oldObject: workload('DaemonSet', []),
    });
    assert.deepEqual(rulesOf(added.denials), ['inline-volumes/csi-driver']);
  });
});

describe('the matchCondition that keeps ordinary pods and rollouts from the webhook', () => {
  const { expression } = podVolumesCondition();

  it('names every pod-spec kind but StatefulSet (sent for its volumeClaimTemplates), each at its own volumes path', () => {
    for (const resource of ['pods', 'deployments', 'replicasets', 'daemonsets', 'jobs', 'cronjobs'])
      assert.match(expression, new RegExp(`'${resource}'`));
    assert.doesNotMatch(expression, /'statefulsets'/);
    assert.match(expression, /object\.spec\.volumes\.exists\(v, has\(v\.ephemeral\) \|\| has\(v\.csi\)\)/);
    assert.match(expression, /object\.spec\.jobTemplate\.spec\.template\.spec\.volumes\.exists/);
    assert.match(expression, /request\.operation != 'UPDATE' \|\|/);
  });

  it('guards every step with has(), so a missing field is false and never an error failurePolicy decides', () => {
    for (const match of expression.matchAll(/(object|oldObject)((?:\.[a-zA-Z]+)+)\.volumes(?! !=)/g)) {
      const path = `${match[1]}${match[2]}`;
      assert.ok(expression.includes(`has(${path})`), path);
    }
  });

  it("leaves out the workload controllers' requests, never the ephemeral-volume controller's claims", () => {
    for (const user of WORKLOAD_CONTROLLER_USERS) assert.ok(expression.includes(`'${user}'`), user);
    assert.doesNotMatch(expression, /ephemeral-volume-controller/);
  });
});
