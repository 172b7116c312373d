import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { eventually, freePort } from '../loopback.js';
import { editFile, generateFloor, LocalCluster, ROOT, type CommandResult } from './harness.js';

const VALIDATING = 'admission webhook "validate.storage-policy-webhook.io" denied the request';
const QUOTE = 'storage-policy-webhook.io/provisioned-iops';

const claim = (name: string, namespace: string, spec: string) => `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${spec
  .trim()
  .split('\n')
  .map((line) => `  ${line}`)
  .join('\n')}
`;

function explain(result: CommandResult): string {
  return `exit ${result.status}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

const statefulSet = (
  name: string,
  namespace: string,
  replicas: number,
  image: string,
  templates: string,
) => `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  serviceName: ${name}
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: app, image: ${image}}]
  volumeClaimTemplates:
${templates}`;

const TWO_TEMPLATES = `    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Gi}}}
    - metadata: {name: shared}
      spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 10Gi}}}
`;
const GP3_TEMPLATE = `    - metadata: {name: data}
      spec: {storageClassName: gp3, accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Gi}}}
`;

for (const version of await LocalCluster.versions()) {
  describe(
    `end to end on Kubernetes ${version}: real kube-apiserver + etcd + controllers, webhook registered from deploy/, driven by kubectl ${version}`,
    { timeout: 45 * 60 * 1000 },
    () => {
      const cluster = new LocalCluster();
      const apply = (manifest: string, ...flags: string[]) =>
        cluster.kubectlWithInput(manifest, 'apply', '-f', '-', ...flags);
      const dryRun = (manifest: string) => apply(manifest, '--dry-run=server', '-o', 'yaml');
      const get = (...args: string[]) => parse(cluster.kubectl('get', ...args, '-o', 'yaml').stdout);
      /** When the first webhook process started: the quiet-watch test needs it to have run longer than 30 s. */
      let webhookStartedAt = 0;
      /** The sum of a metric's series (every line starting with `name`) on a webhook's ops port. */
      const metric = async (ops: number, name: string): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${ops}/metrics`)).text();
        return text
          .split('\n')
          .filter((line) => line.startsWith(name))
          .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
      };
      /** The images of a Deployment's pods (label app=NAME), as one string: has a rollout made a pod of the new template? */
      const podImages = (namespace: string, app: string): string =>
        cluster.kubectl(
          'get',
          'pods',
          '-n',
          namespace,
          '-l',
          `app=${app}`,
          '-o',
          'jsonpath={.items[*].spec.containers[0].image}',
        ).stdout;
      /** A policy change to reload: io1-slow joins the allowed classes of platform-storage.yaml in a copy of policies/. */
      const allowIo1Slow = (policies: string): Promise<void> =>
        editFile(
          join(policies, 'platform-storage.yaml'),
          'allowed: [gp3, io2-high-iops, efs]',
          'allowed: [gp3, io2-high-iops, efs, io1-slow]',
        );
      /** A dry-run the API server refuses, its message matching `message`. */
      const refused = (manifest: string, message: RegExp): CommandResult => {
        const result = dryRun(manifest);
        assert.notEqual(result.status, 0, explain(result));
        assert.match(result.stderr, message, explain(result));
        return result;
      };
      const applyOk = (manifest: string, ...flags: string[]) => {
        const result = apply(manifest, ...flags);
        assert.equal(result.status, 0, `kubectl apply ${flags.join(' ')}: ${explain(result)}`);
        return result;
      };
      /** Waits for a claim the StatefulSet controller creates, and returns it as stored. */
      const claimOf = async (name: string, namespace: string) => {
        let stored:
          { spec: { storageClassName?: string }; metadata: { annotations?: Record<string, string> } } | undefined;
        await eventually(
          `claim ${namespace}/${name} created by the StatefulSet controller`,
          () => {
            const result = cluster.kubectl('get', 'pvc', name, '-n', namespace, '-o', 'yaml');
            if (result.status === 0) stored = parse(result.stdout);
            return result.status === 0;
          },
          60_000,
          250,
        );
        return stored ?? assert.fail('unreachable');
      };

      before(async () => {
        const { bin, seconds } = LocalCluster.build(version);
        process.stdout.write(
          `# e2e ${version}: kube-apiserver, kube-controller-manager, kubectl and etcd ready in ${seconds}s (build or cache)\n`,
        );
        const started = Date.now();
        await cluster.startControlPlane(bin);
        const fixtures = cluster.kubectl('apply', '-f', join(ROOT, 'test/e2e/fixtures/cluster.yaml'));
        assert.equal(fixtures.status, 0, explain(fixtures));
        await cluster.startWebhook();
        webhookStartedAt = Date.now();
        const registered = cluster.registerWebhook();
        assert.equal(registered.status, 0, explain(registered));
        // The API server picks up new webhook configurations through an informer: wait until it calls us.
        const deadline = Date.now() + 30_000;
        while (
          Date.now() < deadline &&
          !dryRun(
            claim('probe', 'payments', 'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 1Gi}}'),
          ).stdout.includes(QUOTE)
        ) {
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        process.stdout.write(
          `# e2e: control plane, webhook and registration up in ${Math.round((Date.now() - started) / 1000)}s\n`,
        );
      });

      after(async () => {
        if (process.exitCode)
          process.stdout.write(`# webhook log tail:\n${(await cluster.log('webhook')).slice(-3000)}\n`);
        await cluster.stop();
      });

      it('dry-run of a PVC with no class: the defaulted class and the IOPS quote', () => {
        const result = dryRun(
          claim('orders', 'payments', 'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 100Gi}}'),
        );
        assert.equal(result.status, 0, explain(result));
        const object = parse(result.stdout);
        assert.equal(object.spec.storageClassName, 'gp3');
        assert.equal(object.metadata.annotations[QUOTE], '5000');
        assert.match(result.stderr, /Warning: mutated: spec\.storageClassName set to gp3 \(default\)/);
      });

      it('dry-run of an RWX claim with no class: the access-mode default (efs)', () => {
        const result = dryRun(
          claim('shared', 'analytics', 'accessModes: [ReadWriteMany]\nresources: {requests: {storage: 5Gi}}'),
        );
        assert.equal(result.status, 0, explain(result));
        assert.equal(parse(result.stdout).spec.storageClassName, 'efs');
      });

      it('RWX on an EBS class is denied with the field path and the supported modes', () => {
        const result = dryRun(
          claim(
            'rwx',
            'payments',
            'storageClassName: gp3\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 5Gi}}',
          ),
        );
        assert.notEqual(result.status, 0);
        assert.ok(result.stderr.includes(VALIDATING), explain(result));
        assert.match(
          result.stderr,
          /spec\.accessModes\[0\]: ReadWriteMany on ebs\.csi\.aws\.com needs volumeMode: Block on an io2 class .*supports ReadWriteOnce, ReadWriteOncePod.*rule access-modes\/unsupported/,
        );
      });

      it('an io1 class with iopsPerGB "60" is denied', () => {
        refused(
          'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: io1-fast}\nprovisioner: ebs.csi.aws.com\nvolumeBindingMode: WaitForFirstConsumer\nparameters: {type: io1, iopsPerGB: "60"}\n',
          /parameters\.iopsPerGB: 60 exceeds the io1 maximum of 50 IOPS per GiB/,
        );
      });

      it('a claim below the io1 minimum IOPS is denied (the driver would leave it Pending)', () => {
        refused(
          claim(
            'tiny',
            'payments',
            'storageClassName: io1-slow\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
          ),
          /10Gi x iopsPerGB 5 = 50 IOPS is below the io1 minimum of 100.*request at least 20Gi/,
        );
      });

      it('a StatefulSet: templates stay as written, the pod template is pinned to the zones', () => {
        const result = dryRun(statefulSet('kafka', 'analytics', 3, 'registry.example.com/kafka:3.7', TWO_TEMPLATES));
        assert.equal(result.status, 0, explain(result));
        const sts = parse(result.stdout);
        assert.deepEqual(
          sts.spec.volumeClaimTemplates.map(
            (template: { spec: { storageClassName?: string }; metadata: { annotations?: object } }) => [
              template.spec.storageClassName,
              template.metadata.annotations,
            ],
          ),
          [
            [undefined, undefined],
            [undefined, undefined],
          ],
        );
        assert.deepEqual(
          sts.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
          [
            {
              matchExpressions: [
                { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['us-east-1a', 'us-east-1b'] },
              ],
            },
          ],
        );
      });

      it('re-apply, client-side: a StatefulSet with a template without a class, applied twice, scaled and changed by re-apply, then replaced', async () => {
        const manifest = statefulSet('orders', 'analytics', 1, 'nginx:1.27', TWO_TEMPLATES);
        applyOk(manifest);
        applyOk(manifest);
        applyOk(manifest.replace('replicas: 1', 'replicas: 2'));
        applyOk(manifest.replace('replicas: 1', 'replicas: 2').replace('nginx:1.27', 'nginx:1.28'));
        const replaced = cluster.kubectlWithInput(
          manifest.replace('replicas: 1', 'replicas: 2').replace('nginx:1.27', 'nginx:1.28'),
          'replace',
          '-f',
          '-',
        );
        assert.equal(replaced.status, 0, `kubectl replace: ${explain(replaced)}`);
        const stored = get('statefulset', 'orders', '-n', 'analytics');
        assert.equal(stored.spec.replicas, 2);
        assert.equal(stored.spec.template.spec.containers[0].image, 'nginx:1.28');
        assert.equal(
          stored.spec.volumeClaimTemplates[0].spec.storageClassName,
          undefined,
          'the template is as its owner wrote it',
        );
        assert.ok(stored.spec.template.spec.affinity, 'pods stay pinned to the allowed zones');
        // The claims the controller created went through the webhook: approved class and quote.
        const data = await claimOf('data-orders-0', 'analytics');
        assert.equal(data.spec.storageClassName, 'gp3');
        assert.equal(data.metadata.annotations?.[QUOTE], '5000');
        assert.equal((await claimOf('shared-orders-0', 'analytics')).spec.storageClassName, 'efs');
      });

      it('re-apply, server-side: applied twice, scaled by re-apply, then taken over by a second field manager (as a GitOps controller)', async () => {
        const manifest = statefulSet('events', 'analytics', 1, 'nginx:1.27', TWO_TEMPLATES);
        applyOk(manifest, '--server-side');
        applyOk(manifest, '--server-side');
        applyOk(manifest.replace('replicas: 1', 'replicas: 2'), '--server-side');
        applyOk(
          manifest.replace('replicas: 1', 'replicas: 2'),
          '--server-side',
          '--field-manager=argocd-controller',
          '--force-conflicts',
        );
        applyOk(
          manifest.replace('replicas: 1', 'replicas: 3').replace('nginx:1.27', 'nginx:1.28'),
          '--server-side',
          '--field-manager=argocd-controller',
          '--force-conflicts',
        );
        applyOk(
          manifest.replace('replicas: 1', 'replicas: 3').replace('nginx:1.27', 'nginx:1.28'),
          '--server-side',
          '--field-manager=argocd-controller',
        );
        const stored = get('statefulset', 'events', '-n', 'analytics');
        assert.equal(stored.spec.replicas, 3);
        assert.equal(stored.spec.template.spec.containers[0].image, 'nginx:1.28');
        assert.ok(stored.spec.template.spec.affinity, 'the pin survives a re-apply that does not carry it');
        assert.equal((await claimOf('data-events-0', 'analytics')).spec.storageClassName, 'gp3');
      });

      it('re-apply: a StatefulSet whose template names gp3, client-side and server-side', async () => {
        const manifest = statefulSet('cache', 'analytics', 1, 'redis:7', GP3_TEMPLATE);
        applyOk(manifest);
        applyOk(manifest);
        applyOk(manifest.replace('replicas: 1', 'replicas: 2'));
        applyOk(manifest.replace('replicas: 1', 'replicas: 2'), '--server-side', '--force-conflicts');
        applyOk(manifest.replace('replicas: 1', 'replicas: 2'), '--server-side');
        applyOk(
          manifest.replace('replicas: 1', 'replicas: 2').replace('redis:7', 'redis:7.4'),
          '--server-side',
          '--field-manager=flux',
          '--force-conflicts',
        );
        const stored = get('statefulset', 'cache', '-n', 'analytics');
        assert.equal(
          stored.spec.volumeClaimTemplates[0].metadata.annotations,
          undefined,
          'no quote written into the template',
        );
        assert.equal((await claimOf('data-cache-0', 'analytics')).metadata.annotations?.[QUOTE], '5000');
      });

      it('re-apply: a claim without a class, client-side, server-side and a second manager; its storage request grows by re-apply once bound', async () => {
        const manifest = claim(
          'reports',
          'analytics',
          'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
        );
        applyOk(manifest);
        applyOk(manifest);
        applyOk(manifest, '--server-side', '--force-conflicts');
        applyOk(manifest, '--server-side');
        applyOk(manifest, '--server-side', '--field-manager=argocd-controller', '--force-conflicts');
        const replaced = cluster.kubectlWithInput(manifest, 'replace', '-f', '-');
        assert.equal(replaced.status, 0, `kubectl replace: ${explain(replaced)}`);
        let stored = get('pvc', 'reports', '-n', 'analytics');
        assert.equal(stored.spec.storageClassName, 'gp3');
        assert.equal(stored.metadata.annotations[QUOTE], '3000');
        // A statically provisioned volume pre-bound to the claim; the binder binds them, and a bound claim may grow.
        const volume =
          'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: reports-volume}\nspec:\n  capacity: {storage: 10Gi}\n  accessModes: [ReadWriteOnce]\n  storageClassName: gp3\n  claimRef: {namespace: analytics, name: reports}\n  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-0e2e}\n';
        applyOk(volume);
        await eventually(
          'claim reports bound',
          () => get('pvc', 'reports', '-n', 'analytics').status?.phase === 'Bound',
          60_000,
          250,
        );
        const grown = manifest.replace('storage: 10Gi', 'storage: 200Gi');
        applyOk(grown);
        applyOk(grown, '--server-side', '--force-conflicts');
        stored = get('pvc', 'reports', '-n', 'analytics');
        assert.equal(stored.spec.resources.requests.storage, '200Gi');
        assert.equal(stored.metadata.annotations[QUOTE], '10000', 'the quote follows the new size');
      });

      it('re-apply: a StorageClass that got allowedTopologies from the webhook keeps them', () => {
        const manifest =
          'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: scratch}\nprovisioner: ebs.csi.aws.com\nparameters: {type: gp3}\nallowVolumeExpansion: false\n';
        applyOk(manifest);
        applyOk(manifest);
        applyOk(manifest, '--server-side', '--force-conflicts');
        applyOk(
          manifest.replace('allowVolumeExpansion: false', 'allowVolumeExpansion: true'),
          '--server-side',
          '--field-manager=argocd-controller',
          '--force-conflicts',
        );
        const stored = get('storageclass', 'scratch');
        assert.equal(stored.allowVolumeExpansion, true);
        assert.deepEqual(stored.allowedTopologies?.[0]?.matchLabelExpressions?.[0]?.values, [
          'us-east-1a',
          'us-east-1b',
        ]);
      });

      it('VolumeAttributesClasses: a VAC EC2 would refuse is denied; a claim is quoted with its VAC; switching a bound claim to a VAC over budget is denied', () => {
        const vacYaml = (name: string, parameters: string) =>
          `apiVersion: storage.k8s.io/v1\nkind: VolumeAttributesClass\nmetadata: {name: ${name}}\ndriverName: ebs.csi.aws.com\nparameters: {${parameters}}\n`;
        refused(
          vacYaml('io2-too-fast', 'type: io2, iops: "300000"'),
          /parameters\.iops: 300000 IOPS is outside io2's 100-256000.*rule attributes-class\/limits/,
        );
        applyOk(vacYaml('gp3-fast', 'type: gp3, iops: "6000", throughput: "500"'));
        applyOk(vacYaml('io2-huge', 'type: io2, iops: "50000"'));
        const quoted = dryRun(
          claim(
            'tuned',
            'analytics',
            'storageClassName: gp3\nvolumeAttributesClassName: gp3-fast\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 20Gi}}',
          ),
        );
        assert.equal(quoted.status, 0, explain(quoted));
        assert.equal(parse(quoted.stdout).metadata.annotations[QUOTE], '6000', 'the VAC iops, not the class iopsPerGB');
        // The claim "reports" was bound to a volume by the re-apply test above.
        const manifest = claim(
          'reports',
          'analytics',
          'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 200Gi}}',
        );
        const overBudget = apply(
          manifest.replace('accessModes:', 'volumeAttributesClassName: io2-huge\n  accessModes:'),
        );
        assert.notEqual(overBudget.status, 0);
        assert.match(
          overBudget.stderr,
          /50000 provisioned IOPS exceed the per-volume budget of 32000/,
          explain(overBudget),
        );
        applyOk(manifest.replace('accessModes:', 'volumeAttributesClassName: gp3-fast\n  accessModes:'));
        const stored = get('pvc', 'reports', '-n', 'analytics');
        assert.equal(stored.spec.volumeAttributesClassName, 'gp3-fast');
        assert.equal(stored.metadata.annotations[QUOTE], '6000');
      });

      it('scaling an old non-compliant StatefulSet (UPDATE of replicas) is allowed, with warnings', () => {
        const result = cluster.kubectl(
          'patch',
          'statefulset',
          'legacy-db',
          '-n',
          'payments',
          '--type=merge',
          '-p',
          '{"spec":{"replicas":3}}',
        );
        assert.equal(result.status, 0, explain(result));
        assert.match(
          result.stderr,
          /Warning: storage-class\/allowed: spec\.volumeClaimTemplates\[0\]\.spec\.storageClassName: \(existing\) class io1-slow is not allowed/,
        );
        const scaled = cluster.kubectl('scale', 'statefulset', 'legacy-db', '-n', 'payments', '--replicas=2');
        assert.equal(scaled.status, 0, explain(scaled));
        const stored = parse(cluster.kubectl('get', 'statefulset', 'legacy-db', '-n', 'payments', '-o', 'yaml').stdout);
        assert.equal(stored.spec.replicas, 2);
        assert.equal(
          stored.spec.template.spec.affinity,
          undefined,
          'a scale must not patch the pod template (it would roll every pod)',
        );
      });

      it('a StatefulSet that predates the policy, scaled by kubectl scale: the controller creates the new ordinal claim (warned, existing); the same claim by a user is denied', async () => {
        const scaled = cluster.kubectl('scale', 'statefulset', 'legacy-cache', '-n', 'payments', '--replicas=2');
        assert.equal(scaled.status, 0, explain(scaled));
        const created = await claimOf('data-legacy-cache-1', 'payments');
        assert.equal(created.spec.storageClassName, 'io1-slow');
        await eventually(
          'pod legacy-cache-1, Pending for lack of nodes only',
          () => cluster.kubectl('get', 'pod', 'legacy-cache-1', '-n', 'payments').status === 0,
          60_000,
          250,
        );
        const events = cluster.kubectl(
          'get',
          'events',
          '-n',
          'payments',
          '--field-selector',
          'involvedObject.name=legacy-cache',
          '-o',
          'jsonpath={.items[*].message}',
        );
        assert.doesNotMatch(events.stdout, /denied/, 'the StatefulSet controller had no claim refused');
        const byHand = apply(
          claim(
            'data-legacy-cache-5',
            'payments',
            'storageClassName: io1-slow\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 100Gi}}',
          ),
        );
        assert.notEqual(byHand.status, 0, 'a user creating the template claim is judged as any user');
        assert.match(byHand.stderr, /class io1-slow is not allowed here.*rule storage-class\/allowed/, explain(byHand));
      });

      it("generic ephemeral volumes: a Deployment and a CronJob whose template names a forbidden class are refused at dry-run; a Pod's claim without a class gets the default when the ephemeral-volume controller creates it; re-apply of a Deployment with one is a no-op", async () => {
        const template = (className: string) =>
          `      volumes:\n        - name: scratch\n          ephemeral:\n            volumeClaimTemplate:\n              spec: {${className}accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n`;
        const deployment = (name: string, className: string) =>
          `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}, namespace: analytics}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers: [{name: app, image: registry.example.com/app:1}]\n${template(className)}`;
        refused(
          deployment('render', 'storageClassName: io1-slow, '),
          /spec\.template\.spec\.volumes\[0\]\.ephemeral\.volumeClaimTemplate\.spec\.storageClassName: class io1-slow is not allowed here; use one of gp3, io2-high-iops, efs .*rule storage-class\/allowed/,
        );
        const cronJob = `apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: analytics}\nspec:\n  schedule: "0 2 * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: export, image: registry.example.com/export:1}]\n          volumes:\n            - name: work\n              ephemeral:\n                volumeClaimTemplate:\n                  spec: {storageClassName: io1-slow, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n`;
        refused(
          cronJob,
          /spec\.jobTemplate\.spec\.template\.spec\.volumes\[0\]\.ephemeral\.volumeClaimTemplate\.spec\.storageClassName: class io1-slow is not allowed here/,
        );
        refused(
          'apiVersion: v1\nkind: Pod\nmetadata: {name: inline, namespace: analytics}\nspec:\n  containers: [{name: app, image: registry.example.com/app:1}]\n  volumes: [{name: data, csi: {driver: ebs.csi.aws.com}}]\n',
          /spec\.volumes\[0\]\.csi\.driver: CSI inline volume data uses driver ebs\.csi\.aws\.com, not allowed here/,
        );

        // A Pod whose template names no class: admitted as written; the controller's claim gets gp3 and the quote.
        const pod = `apiVersion: v1\nkind: Pod\nmetadata: {name: build, namespace: analytics}\nspec:\n  containers: [{name: build, image: registry.example.com/build:1}]\n${template('').replace(/^ {4}/gm, '')}`;
        applyOk(pod);
        const created = await claimOf('build-scratch', 'analytics');
        assert.equal(
          created.spec.storageClassName,
          'gp3',
          'the default, set when the ephemeral-volume controller created it',
        );
        assert.ok(created.metadata.annotations?.[QUOTE], 'quoted as any claim');
        assert.equal(
          get('pod', 'build', '-n', 'analytics').spec.volumes[0].ephemeral.volumeClaimTemplate.spec.storageClassName,
          undefined,
          'the template is never written',
        );

        // Re-apply: client-side twice, server-side twice, then a second field manager: nothing to write, nothing
        // denied, no change. (The switch from client-side to server-side apply itself bumps the generation once, with
        // or without any webhook; each re-apply in one mode changes nothing.)
        const manifest = deployment('render', '');
        const generation = () => get('deployment', 'render', '-n', 'analytics').metadata.generation as number;
        applyOk(manifest);
        const clientSide = generation();
        assert.match(applyOk(manifest).stdout, /unchanged/);
        assert.equal(generation(), clientSide, 'a client-side re-apply changes nothing');
        applyOk(manifest, '--server-side', '--force-conflicts');
        const serverSide = generation();
        applyOk(manifest, '--server-side');
        applyOk(manifest, '--server-side', '--field-manager=argocd-controller', '--force-conflicts');
        assert.equal(generation(), serverSide, 'server-side re-applies, a second manager included, change nothing');
        const stored = get('deployment', 'render', '-n', 'analytics');
        assert.equal(
          stored.spec.template.spec.volumes[0].ephemeral.volumeClaimTemplate.spec.storageClassName,
          undefined,
        );
      });

      it('a Deployment that predates a tighter policy still rolls: its new pods and their ephemeral claims are created (warned), and no controller is refused', async () => {
        const rolled = cluster.kubectl(
          'set',
          'image',
          'deployment/legacy-render',
          '-n',
          'analytics',
          'render=registry.example.com/render:2',
        );
        assert.equal(rolled.status, 0, `an image change is not even sent: ${explain(rolled)}`);
        let newPod = '';
        await eventually(
          'a pod of the new ReplicaSet with its ephemeral claim',
          () => {
            const pods = cluster.kubectl('get', 'pods', '-n', 'analytics', '-l', 'app=legacy-render', '-o', 'json');
            const items = (
              JSON.parse(pods.stdout || '{"items":[]}') as {
                items: Array<{ metadata: { name: string }; spec: { containers: Array<{ image: string }> } }>;
              }
            ).items;
            newPod = items.find((item) => item.spec.containers[0]?.image.endsWith('render:2'))?.metadata.name ?? '';
            return newPod !== '' && cluster.kubectl('get', 'pvc', `${newPod}-scratch`, '-n', 'analytics').status === 0;
          },
          60_000,
          250,
        );
        const claimOfNewPod = get('pvc', `${newPod}-scratch`, '-n', 'analytics');
        assert.equal(claimOfNewPod.spec.storageClassName, 'io1-slow', 'created as the template says, not refused');
        const events = cluster.kubectl('get', 'events', '-n', 'analytics', '-o', 'jsonpath={.items[*].message}');
        assert.doesNotMatch(events.stdout, /denied the request/, 'no controller had a write refused');
      });

      it('in-tree EBS classes with zone or zones inside the allowed zones are admitted, without allowedTopologies added', () => {
        for (const [name, parameters] of [
          ['intree-zone-ok', 'type: gp2, zone: us-east-1a'],
          ['intree-zones-ok', 'type: gp2, zones: "us-east-1a,us-east-1b"'],
        ]) {
          const result = dryRun(
            `apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: ${name}}\nprovisioner: kubernetes.io/aws-ebs\nparameters: {${parameters}}\n`,
          );
          assert.equal(result.status, 0, explain(result));
          assert.equal(parse(result.stdout).allowedTopologies, undefined, name);
        }
      });

      it('an EBS VolumeAttributesClass on an EFS claim is denied (external-provisioner would leave it Pending)', () => {
        refused(
          claim(
            'efs-with-ebs-vac',
            'analytics',
            'storageClassName: efs\nvolumeAttributesClassName: gp3-fast\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 5Gi}}',
          ),
          /VolumeAttributesClass gp3-fast is for ebs\.csi\.aws\.com, but class efs .*provisioned by efs\.csi\.aws\.com.*rule attributes-class\/driver/,
        );
      });

      it('real creates are stored as mutated', () => {
        const created = apply(
          claim('ledger', 'payments', 'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 40Gi}}'),
        );
        assert.equal(created.status, 0, explain(created));
        const stored = parse(cluster.kubectl('get', 'pvc', 'ledger', '-n', 'payments', '-o', 'yaml').stdout);
        assert.equal(stored.spec.storageClassName, 'gp3');
        assert.equal(stored.metadata.annotations[QUOTE], '3000');
        assert.equal(
          stored.metadata.annotations['storage-policy-webhook.io/provisioned-throughput'],
          '125',
          'gp3 baseline throughput',
        );
      });

      it('storage facts of 2026: an io2 class at 800 IOPS/GiB is admitted (driver v1.44+); one at 1001 and a gp3 throughput EC2 refuses are denied', () => {
        const io2 = applyOk(
          'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: io2-ultra}\nprovisioner: ebs.csi.aws.com\nvolumeBindingMode: WaitForFirstConsumer\nparameters: {type: io2, iopsPerGB: "800"}\n',
        );
        assert.doesNotMatch(io2.stderr, /denied/);
        const over = dryRun(
          'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: io2-over}\nprovisioner: ebs.csi.aws.com\nvolumeBindingMode: WaitForFirstConsumer\nparameters: {type: io2, iopsPerGB: "1001"}\n',
        );
        assert.match(
          over.stderr,
          /parameters\.iopsPerGB: 1001 exceeds the io2 maximum of 1000 IOPS per GiB/,
          explain(over),
        );
        const throughput = dryRun(
          'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: gp3-tp}\nprovisioner: ebs.csi.aws.com\nvolumeBindingMode: WaitForFirstConsumer\nparameters: {type: gp3, iops: "3000", throughput: "1000"}\n',
        );
        assert.match(
          throughput.stderr,
          /throughput 1000 MiB\/s exceeds 750 MiB\/s, the most 0.25 MiB\/s per provisioned IOPS allows.*rule iops\/throughput-limits/,
          explain(throughput),
        );
      });

      it('the namespace IOPS budget counts claims the cache has seen', async () => {
        const big = claim(
          'big',
          'payments',
          'storageClassName: io2-high-iops\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 300Gi}}',
        );
        for (const name of ['big-1', 'big-2', 'big-3']) {
          const created = apply(big.replace('name: big', `name: ${name}`));
          assert.equal(created.status, 0, explain(created));
        }
        // 3 x 30000 stored + 3000 (ledger); another 30000 exceeds the 100000 budget once the watch has delivered them.
        let result: CommandResult = { status: 0, stdout: '', stderr: '' };
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          result = dryRun(big.replace('name: big', 'name: big-4'));
          if (result.status !== 0) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        // 1500 more: legacy-db's first claim and legacy-cache's two (io1-slow, 100Gi x 5 each), created by the StatefulSet controller.
        assert.match(
          result.stderr,
          /namespace payments would provision 124500 IOPS \(94500 existing \+ 30000 new\), over its budget of 100000/,
          explain(result),
        );
      });

      it('the built-in DefaultStorageClass plugin runs before the webhook: with a cluster default, the webhook sees that class', () => {
        const annotate = cluster.kubectl(
          'annotate',
          'storageclass',
          'gp3',
          'storageclass.kubernetes.io/is-default-class=true',
        );
        assert.equal(annotate.status, 0, explain(annotate));
        const rwx = dryRun(
          claim('shared2', 'analytics', 'accessModes: [ReadWriteMany]\nresources: {requests: {storage: 5Gi}}'),
        );
        assert.notEqual(rwx.status, 0, 'the API server set gp3 before the webhook could default to efs');
        assert.match(rwx.stderr, /spec\.accessModes\[0\]: ReadWriteMany on ebs\.csi\.aws\.com/, explain(rwx));
        assert.doesNotMatch(rwx.stderr, /Warning: mutated: spec\.storageClassName/);
      });

      it('a second default StorageClass is denied', () => {
        refused(
          'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: gp3-copy\n  annotations: {storageclass.kubernetes.io/is-default-class: "true"}\nprovisioner: ebs.csi.aws.com\nvolumeBindingMode: WaitForFirstConsumer\nparameters: {type: gp3}\n',
          /gp3 is already the cluster default; set storageclass\.kubernetes\.io\/is-default-class to "false" on it first/,
        );
        const undo = cluster.kubectl('annotate', 'storageclass', 'gp3', 'storageclass.kubernetes.io/is-default-class-');
        assert.equal(undo.status, 0, explain(undo));
      });

      it('static PersistentVolumes: a hostPath volume offering ReadWriteMany and a Recycle volume are refused with the rule and the fix; an NFS volume is admitted, applied twice; a claim pre-bound to it that it can never satisfy is refused', async () => {
        const volume = (name: string, spec: string): string =>
          `apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: ${name}}\nspec:\n  capacity: {storage: 10Gi}\n${spec}`;
        const hostPath = dryRun(
          volume('scratch', '  accessModes: [ReadWriteMany]\n  hostPath: {path: /mnt/scratch}\n'),
        );
        assert.notEqual(hostPath.status, 0);
        assert.ok(hostPath.stderr.includes(VALIDATING), explain(hostPath));
        assert.match(
          hostPath.stderr,
          /spec\.accessModes\[0\]: ReadWriteMany is not served by a hostPath volume \(serves ReadWriteOnce\).*rule persistent-volumes\/access-modes/,
        );
        refused(
          volume(
            'recycled',
            '  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Recycle\n  nfs: {server: nfs.example.com, path: /exports/old}\n',
          ),
          /spec\.persistentVolumeReclaimPolicy: reclaim policy Recycle is not allowed here \(Recycle is deprecated.*use Delete, Retain.*rule persistent-volumes\/reclaim-policy/,
        );
        const shared = volume(
          'shared-media',
          '  accessModes: [ReadWriteMany]\n  persistentVolumeReclaimPolicy: Retain\n  nfs: {server: nfs.example.com, path: /exports/media}\n',
        );
        for (const flags of [[], ['--server-side']]) {
          const created = apply(shared, ...flags);
          assert.equal(created.status, 0, explain(created));
        }
        // A claim pre-bound to it that it can never satisfy, once the cache has the volume: refused.
        const preBound = claim(
          'media-too-big',
          'analytics',
          'volumeName: shared-media\nstorageClassName: ""\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 1Ti}}',
        );
        let tooBig = dryRun(preBound);
        for (let tries = 0; tooBig.status === 0 && tries < 40; tries += 1) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          tooBig = dryRun(preBound);
        }
        assert.notEqual(tooBig.status, 0);
        assert.match(
          tooBig.stderr,
          /spec\.volumeName: volume shared-media can never bind this claim: it offers 10Gi, less than the 1Ti requested.*rule persistent-volumes\/pre-bound/,
          explain(tooBig),
        );
      });

      it('clones: a clone of the stored claim ledger smaller than it, or in Block mode, is refused with the size to ask for; one as large is admitted', async () => {
        const clone = (name: string, spec: string): string =>
          claim(
            name,
            'payments',
            `${spec}\naccessModes: [ReadWriteOnce]\ndataSourceRef: {kind: PersistentVolumeClaim, name: ledger}`,
          );
        // The cache learns of ledger through its watch; until then lookupFailure (warn) admits with a warning.
        let small = dryRun(clone('ledger-small', 'storageClassName: gp3\nresources: {requests: {storage: 10Gi}}'));
        for (let tries = 0; small.status === 0 && tries < 40; tries += 1) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          small = dryRun(clone('ledger-small', 'storageClassName: gp3\nresources: {requests: {storage: 10Gi}}'));
        }
        assert.notEqual(small.status, 0);
        assert.match(
          small.stderr,
          /spec\.resources\.requests\.storage: 10Gi is smaller than the source claim ledger \(40Gi\).*request at least 40Gi.*rule data-sources\/clone-size/,
          explain(small),
        );
        refused(
          clone('ledger-block', 'storageClassName: gp3\nvolumeMode: Block\nresources: {requests: {storage: 40Gi}}'),
          /rule data-sources\/clone-volume-mode/,
        );
        const copy = dryRun(clone('ledger-copy', 'storageClassName: gp3\nresources: {requests: {storage: 40Gi}}'));
        assert.equal(copy.status, 0, explain(copy));
      });

      it("restores: without the snapshot CRDs a restore follows lookupFailure (warned); with them applied, a restore smaller than the snapshot's restoreSize or on another driver is refused", async () => {
        const restore = (name: string, spec: string): string =>
          claim(
            name,
            'payments',
            `${spec}\naccessModes: [ReadWriteOnce]\ndataSourceRef: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: nightly}`,
          );
        const small = restore('restored-small', 'storageClassName: gp3\nresources: {requests: {storage: 10Gi}}');
        const unknown = dryRun(small);
        assert.equal(unknown.status, 0, explain(unknown));
        assert.match(
          unknown.stderr,
          /lookup\/unavailable: spec\.dataSourceRef: the restore from snapshot nightly not checked/,
          explain(unknown),
        );
        const crds = cluster.kubectl('apply', '-f', join(ROOT, 'test/e2e/fixtures/snapshot-crds.yaml'));
        assert.equal(crds.status, 0, explain(crds));
        await eventually(
          'the snapshot CRDs established',
          () => cluster.kubectl('get', 'volumesnapshots', '-A').status === 0,
          30_000,
          250,
        );
        const objects = applyOk(
          'apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotContent\nmetadata: {name: snapcontent-nightly}\nspec: {driver: ebs.csi.aws.com, deletionPolicy: Delete, source: {snapshotHandle: snap-0123}, volumeSnapshotRef: {name: nightly, namespace: payments}}\n---\napiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata: {name: nightly, namespace: payments}\nspec: {source: {volumeSnapshotContentName: snapcontent-nightly}}\nstatus: {boundVolumeSnapshotContentName: snapcontent-nightly, restoreSize: 40Gi, readyToUse: true}\n',
        );
        assert.match(objects.stdout, /volumesnapshot/);
        // The cache finds the CRDs at its next check (at most 30 s after it found none), then watches them.
        let late = dryRun(small);
        const deadline = Date.now() + 60_000;
        while (late.status === 0 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          late = dryRun(small);
        }
        assert.notEqual(late.status, 0);
        assert.match(
          late.stderr,
          /spec\.resources\.requests\.storage: 10Gi is smaller than the restoreSize of snapshot nightly \(40Gi\).*request at least 40Gi.*rule data-sources\/restore-size/,
          explain(late),
        );
        refused(
          restore('restored-efs', 'storageClassName: efs\nresources: {requests: {storage: 40Gi}}'),
          /taken by ebs\.csi\.aws\.com.*rule data-sources\/restore-driver/,
        );
        const restored = dryRun(restore('restored', 'storageClassName: gp3\nresources: {requests: {storage: 40Gi}}'));
        assert.equal(restored.status, 0, explain(restored));
      });

      it('the live cache watches Nodes: pinning to zones where no node runs is denied', async () => {
        const node = cluster.kubectlWithInput(
          'apiVersion: v1\nkind: Node\nmetadata:\n  name: e2e-node-west\n  labels: {topology.kubernetes.io/zone: us-west-2a}\n',
          'apply',
          '-f',
          '-',
        );
        assert.equal(node.status, 0, explain(node));
        const sts =
          'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: web, namespace: payments}\nspec:\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n';
        let result: CommandResult = { status: 0, stdout: '', stderr: '' };
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          result = dryRun(sts);
          if (result.status !== 0) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        assert.match(
          result.stderr,
          /no node is in the allowed zones us-east-1a, us-east-1b \(nodes are in us-west-2a\)/,
          explain(result),
        );
        assert.equal(cluster.kubectl('delete', 'node', 'e2e-node-west').status, 0);
      });

      it("ordinary pods and workloads never reach the webhook: the API server's own count of calls to it does not move for 20 Pods, a Deployment and its rollout; a Pod with an ephemeral volume moves it", async () => {
        // kube-apiserver counts every call to a webhook (k8s.io/apiserver pkg/admission/metrics): the matchConditions
        // keep ordinary pods from the webhook, not a filter in the webhook itself.
        const calls = (): number =>
          cluster
            .kubectl('get', '--raw', '/metrics')
            .stdout.split('\n')
            .filter(
              (line) =>
                line.startsWith('apiserver_admission_webhook_admission_duration_seconds_count{') &&
                line.includes('storage-policy'),
            )
            .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
        const before = calls();
        const pods = Array.from(
          { length: 20 },
          (_, index) =>
            `apiVersion: v1\nkind: Pod\nmetadata: {name: ordinary-${index}, namespace: payments}\nspec:\n  containers: [{name: app, image: registry.example.com/app:1}]\n  volumes: [{name: config, emptyDir: {}}]\n`,
        ).join('---\n');
        applyOk(pods);
        applyOk(
          'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ordinary, namespace: payments}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: ordinary}}\n  template:\n    metadata: {labels: {app: ordinary}}\n    spec:\n      containers: [{name: app, image: registry.example.com/app:1}]\n',
        );
        const rolled = cluster.kubectl(
          'set',
          'image',
          'deployment/ordinary',
          '-n',
          'payments',
          'app=registry.example.com/app:2',
        );
        assert.equal(rolled.status, 0, explain(rolled));
        // No kubelet runs here, so the old pods never go away: the rollout's first new pod is what it creates.
        await eventually(
          'the rollout to create a pod of the new template',
          () => podImages('payments', 'ordinary').includes('app:2'),
          60_000,
          250,
        );
        const after = calls();
        process.stdout.write(
          `# e2e ${version}: webhook calls for 20 Pods, a Deployment and its rollout: ${after - before}\n`,
        );
        assert.equal(after, before, 'no call to the webhook');
        const ephemeral = dryRun(
          'apiVersion: v1\nkind: Pod\nmetadata: {name: with-scratch, namespace: payments}\nspec:\n  containers: [{name: app, image: registry.example.com/app:1}]\n  volumes: [{name: scratch, ephemeral: {volumeClaimTemplate: {spec: {storageClassName: gp3, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}}]\n',
        );
        assert.equal(ephemeral.status, 0, explain(ephemeral));
        assert.ok(calls() > after, 'a Pod that carries an ephemeral volume is sent');
        cluster.kubectl('delete', 'deployment', 'ordinary', '-n', 'payments', '--wait=false');
        cluster.kubectl(
          'delete',
          'pods',
          '-n',
          'payments',
          ...Array.from({ length: 20 }, (_, index) => `ordinary-${index}`),
          '--wait=false',
        );
      });

      it('audit: objects that predate the webhook appear as fail in PolicyReports, written once by the Lease holder of two replicas running as the ServiceAccount; fixing, deleting (after a failover) and a policy reload change them', async () => {
        // CRDs and RBAC exactly as deploy/ plus deploy/components/policy-reports render them, from an overlay outside deploy/.
        const overlay = join(cluster.dir, 'policy-reports-overlay');
        await mkdir(overlay, { recursive: true });
        await writeFile(
          join(overlay, 'kustomization.yaml'),
          `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${relative(overlay, join(ROOT, 'deploy'))}]\ncomponents: [${relative(overlay, join(ROOT, 'deploy/components/policy-reports'))}]\n`,
        );
        const rendered = cluster.kubectl('kustomize', overlay);
        assert.equal(rendered.status, 0, explain(rendered));
        const objects = parseAllDocuments(rendered.stdout).map(
          (document) =>
            document.toJS() as {
              kind: string;
              spec?: { template?: { spec?: { containers?: Array<{ args?: string[] }> } } };
            },
        );
        assert.ok(
          objects
            .find((object) => object.kind === 'Deployment')
            ?.spec?.template?.spec?.containers?.[0]?.args?.includes('--policy-reports=true'),
        );
        const access = objects.filter((object) =>
          [
            'CustomResourceDefinition',
            'Namespace',
            'ServiceAccount',
            'ClusterRole',
            'ClusterRoleBinding',
            'Role',
            'RoleBinding',
          ].includes(object.kind),
        );
        const accessYaml = access.map((object) => stringify(object)).join('---\n');
        const installed = cluster.kubectlWithInput(accessYaml, 'apply', '-f', '-');
        assert.equal(installed.status, 0, explain(installed));
        assert.equal(
          cluster.kubectl(
            'wait',
            '--for=condition=established',
            '--timeout=60s',
            'crd/policyreports.wgpolicyk8s.io',
            'crd/clusterpolicyreports.wgpolicyk8s.io',
          ).status,
          0,
        );

        // Objects written while no webhook was registered.
        for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'])
          assert.equal(cluster.kubectl('delete', kind, 'storage-policy-webhook').status, 0);
        const zoned = (zone: string) =>
          statefulSet('audit-zoned', 'payments', 0, 'nginx:1.27', GP3_TEMPLATE).replace(
            'containers: [{name: app, image: nginx:1.27}]',
            `containers: [{name: app, image: nginx:1.27}]\n      nodeSelector: {topology.kubernetes.io/zone: ${zone}}`,
          );
        applyOk(zoned('eu-west-1a'));
        applyOk(
          statefulSet(
            'audit-legacy',
            'analytics',
            0,
            'nginx:1.27',
            `    - metadata: {name: data}\n      spec: {storageClassName: io1-slow, accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Gi}}}\n`,
          ),
        );
        applyOk(
          claim(
            'audit-slow',
            'analytics',
            'storageClassName: io1-slow\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 100Gi}}',
          ),
        );
        assert.equal(cluster.registerWebhook().status, 0);

        const policies = join(cluster.dir, 'audit-policies');
        await cp(join(ROOT, 'policies'), policies, { recursive: true });
        // Idle claims priced: the claim "reports" (bound by the re-apply test, used by no pod) is idle after 2s.
        await editFile(
          join(policies, 'platform-storage.yaml'),
          '    annotateQuote: true\n',
          '    annotateQuote: true\n  cost:\n    maxPerNamespace: 1000000\n    idleAfter: 2s\n',
        );
        const reportsUnused = Number(version.split('.')[1]) >= 37;
        const replicas = [
          { name: 'audit-a', port: await freePort(), ops: await freePort() },
          { name: 'audit-b', port: await freePort(), ops: await freePort() },
        ];
        type Report = {
          metadata: { resourceVersion: string };
          results: Array<{
            result: string;
            rule: string;
            message: string;
            resources: Array<{ kind: string; name: string }>;
            properties?: Record<string, string>;
          }>;
        };
        const report = (namespace: string): Report | undefined => {
          const result = cluster.kubectl(
            'get',
            'policyreports.wgpolicyk8s.io',
            'storage-policy-webhook',
            '-n',
            namespace,
            '-o',
            'json',
          );
          return result.status === 0 ? (JSON.parse(result.stdout) as Report) : undefined;
        };
        const failing = (namespace: string): string[] =>
          (report(namespace)?.results ?? [])
            .filter((entry) => entry.result === 'fail')
            .map((entry) => `${entry.resources[0]?.kind}/${entry.resources[0]?.name} ${entry.rule}`);
        try {
          for (const replica of replicas) {
            await cluster.startWebhookProcess(replica.name, replica.port, 1, {
              kubeconfig: cluster.serviceAccountKubeconfig,
              policies,
              args: [
                `--ops-port=${replica.ops}`,
                '--policy-reports=true',
                '--lease-namespace=storage-policy-webhook',
                '--log-level=debug',
              ],
              env: { POD_NAME: replica.name },
            });
          }
          await eventually(
            'the pre-existing objects to fail in the reports',
            () =>
              failing('payments').some((entry) => entry.startsWith('StatefulSet/audit-zoned zones/')) &&
              failing('analytics').length >= 2,
            60_000,
            500,
          );
          for (const expected of [
            'PersistentVolumeClaim/audit-slow storage-class/allowed',
            'StatefulSet/audit-legacy storage-class/allowed',
            // Workloads are audited for the claims their pod templates make: the Deployment whose ephemeral
            // template names io1-slow (it predates the policy, and still rolls) is reported, not refused.
            'Deployment/legacy-render storage-class/allowed',
          ])
            assert.ok(failing('analytics').includes(expected), expected);
          // 1.37: kube-controller-manager's PVC-protection controller marks the bound claim no pod uses (Unused=True),
          // and once idleAfter has passed the report warns with its monthly cost. Before 1.37 the condition is not
          // set: the webhook says so once in its log and reports no idle claim.
          const idleReports = () =>
            (report('analytics')?.results ?? []).filter(
              (entry) => entry.rule === 'cost/idle' && entry.resources[0]?.name === 'reports',
            );
          if (reportsUnused) {
            await eventually('the unused bound claim to be reported idle', () => idleReports().length > 0, 60_000, 500);
            const [idle] = idleReports();
            assert.equal(idle?.result, 'warn');
            assert.match(
              idle?.message ?? '',
              /^status\.conditions\[Unused\]: idle since \d{4}-\d\d-\d\d at \d+\.\d\d USD a month \(idleAfter 2s\): delete it/,
            );
            assert.equal(idle?.properties?.['monthlyCost'], idle?.message.match(/at (\d+\.\d\d USD)/)?.[1]);
          } else {
            await eventually(
              'the webhook to say the cluster sets no Unused condition',
              async () =>
                (await Promise.all(replicas.map((replica) => cluster.log(replica.name)))).some((log) =>
                  log.includes('no bound claim carries the Unused condition'),
                ),
              30_000,
              500,
            );
            assert.deepEqual(idleReports(), []);
          }
          // The CLI reads the same cluster (as the webhook's ServiceAccount) and prints the same failures.
          const cli = spawnSync(
            process.execPath,
            [
              join(ROOT, 'dist/src/cli/main.js'),
              'audit',
              '--kubeconfig',
              cluster.serviceAccountKubeconfig,
              '--policies',
              policies,
              '-n',
              'analytics',
            ],
            {
              encoding: 'utf8',
              timeout: 60_000,
            },
          );
          assert.equal(cli.status, 1, cli.stderr);
          assert.match(
            cli.stdout,
            /fail {2}PersistentVolumeClaim\/audit-slow {2}platform-storage storage-class\/allowed/,
          );
          if (reportsUnused)
            assert.match(
              cli.stdout,
              /Monthly cost of the idle claims \(unused longer than cost\.idleAfter\):\n {2}analytics: \d+\.\d\d USD/,
            );
          else assert.match(cli.stderr, /no bound claim carries the Unused condition/);

          const leaders = await Promise.all(
            replicas.map((replica) => metric(replica.ops, 'storage_policy_audit_leader')),
          );
          assert.deepEqual([...leaders].sort(), [0, 1], 'one Lease holder');
          const leader = replicas[leaders.indexOf(1)] ?? assert.fail('no leader');
          // Every replica audits: the money metrics are on each, the budget as the policy sets it.
          assert.equal(
            await metric(leader.ops, 'storage_policy_namespace_cost_budget{namespace="analytics",currency="USD"}'),
            1000000,
          );
          assert.ok((await metric(leader.ops, 'storage_policy_namespace_monthly_cost{namespace="analytics"')) > 0);
          const idleCost = await metric(leader.ops, 'storage_policy_namespace_idle_monthly_cost{namespace="analytics"');
          if (reportsUnused) assert.ok(idleCost > 0, `idle cost ${idleCost}`);
          else assert.equal(idleCost, 0);
          const follower = replicas[leaders.indexOf(0)] ?? assert.fail('no follower');
          assert.equal(
            await metric(follower.ops, 'storage_policy_report_writes_total'),
            0,
            'the follower writes nothing',
          );
          assert.ok((await metric(leader.ops, 'storage_policy_audit_violations')) >= 3);

          // A full audit with nothing changed (SIGHUP reloads the policies) rewrites nothing.
          const before = report('payments')?.metadata.resourceVersion;
          const lastRun = await metric(leader.ops, 'storage_policy_audit_last_run_timestamp_seconds');
          const writes = await metric(leader.ops, 'storage_policy_report_writes_total');
          for (const replica of replicas) cluster.processes.get(replica.name)?.kill('SIGHUP');
          await eventually(
            'a full audit after the reload',
            async () => (await metric(leader.ops, 'storage_policy_audit_last_run_timestamp_seconds')) > lastRun,
            20_000,
            250,
          );
          await new Promise((resolve) => setTimeout(resolve, 1000));
          assert.equal(
            report('payments')?.metadata.resourceVersion,
            before,
            'an unchanged report is not written again',
          );
          assert.equal(await metric(leader.ops, 'storage_policy_report_writes_total'), writes);

          // Fixing an object removes its failure.
          applyOk(zoned('us-east-1a'));
          await eventually(
            'the fixed StatefulSet to leave the failures',
            () => !failing('payments').some((entry) => entry.startsWith('StatefulSet/audit-zoned')),
            30_000,
            500,
          );

          // The leader stops (releasing the Lease); the other replica takes over and a deleted object leaves its report.
          assert.equal(await cluster.stopProcess(leader.name), 0);
          // Within 10 s, under the 15 s lease: the stopping leader released it rather than letting it expire.
          await eventually(
            'the other replica to hold the Lease',
            async () => (await metric(follower.ops, 'storage_policy_audit_leader')) === 1,
            10_000,
            250,
          );
          assert.equal(cluster.kubectl('delete', 'statefulset', 'audit-legacy', '-n', 'analytics').status, 0);
          await eventually(
            'the deleted StatefulSet to leave the report',
            () => !JSON.stringify(report('analytics')?.results ?? []).includes('audit-legacy'),
            30_000,
            500,
          );

          // A policy reload changes the verdict: io1-slow becomes an allowed class.
          await allowIo1Slow(policies);
          await eventually(
            'the reloaded policies to pass the io1-slow claim',
            () => !failing('analytics').includes('PersistentVolumeClaim/audit-slow storage-class/allowed'),
            30_000,
            500,
          );
        } catch (error) {
          for (const replica of replicas)
            process.stdout.write(`# ${replica.name} log tail:\n${(await cluster.log(replica.name)).slice(-3000)}\n`);
          throw error;
        } finally {
          for (const replica of replicas) await cluster.stopProcess(replica.name);
          cluster.kubectl('delete', 'statefulset', 'audit-zoned', '-n', 'payments', '--ignore-not-found');
          cluster.kubectl('delete', 'statefulset', 'audit-legacy', '-n', 'analytics', '--ignore-not-found');
          // The chart test installs the same names with Helm, which refuses objects it does not own.
          const removable = access.filter(
            (object) => object.kind !== 'Namespace' && object.kind !== 'CustomResourceDefinition',
          );
          cluster.kubectlWithInput(
            removable.map((object) => stringify(object)).join('---\n'),
            'delete',
            '-f',
            '-',
            '--ignore-not-found',
          );
        }
      });

      it("the live cache's watches outlast a quiet minute: no watch ends in an error and no kind is listed twice (client-node's 30 s idle limit re-listed every quiet kind)", async () => {
        // The API server sends a quiet watch a bookmark about once a minute; 40 s covers client-node's 30 s limit.
        const waited = Math.max(0, webhookStartedAt + 40_000 - Date.now());
        await new Promise((resolve) => setTimeout(resolve, waited));
        const log = (await cluster.log('webhook')).split('\n');
        assert.deepEqual(
          log.filter((line) => line.includes('watch ended with an error')).map((line) => line.slice(0, 300)),
          [],
        );
        const listed = (kind: string) =>
          log.filter((line) => line.includes('cluster cache synced') && line.includes(`"kind":"${kind}"`)).length;
        for (const kind of ['PersistentVolumeClaim', 'StorageClass', 'StatefulSet', 'Namespace'])
          assert.equal(listed(kind), 1, `${kind} was listed ${listed(kind)} times`);
      });

      it('a StoragePolicyException in the policy folder: exempted until a few seconds ahead (warning, report skip), then, with no reload, denied and reported fail', async () => {
        for (const crd of ['policyreports', 'clusterpolicyreports'])
          assert.equal(
            cluster.kubectl('apply', '-f', join(ROOT, `deploy/components/policy-reports/wgpolicyk8s.io_${crd}.yaml`))
              .status,
            0,
          );
        assert.equal(
          cluster.kubectl('wait', '--for=condition=established', '--timeout=60s', 'crd/policyreports.wgpolicyk8s.io')
            .status,
          0,
        );
        if (cluster.kubectl('get', 'namespace', 'storage-policy-webhook').status !== 0)
          assert.equal(cluster.kubectl('create', 'namespace', 'storage-policy-webhook').status, 0);
        const policies = join(cluster.dir, 'exception-policies');
        await cp(join(ROOT, 'policies'), policies, { recursive: true });
        const expiresAt = new Date(Date.now() + 15_000).toISOString().replace(/\.\d+Z$/, 'Z');
        await writeFile(
          join(policies, 'exceptions.yaml'),
          `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicyException
metadata: {name: legacy-io1}
spec:
  owner: payments-dba@example.com
  reason: "DBA-1234: io1 until the migration"
  expiresAt: "${expiresAt}"
  policies: [{name: platform-storage, rules: [storage-class/allowed]}]
  match: {kinds: [StatefulSet], namespaces: [payments], names: [legacy-db, exempt-ledger]}
`,
        );
        type Report = {
          results: Array<{
            result: string;
            rule: string;
            resources: Array<{ name: string }>;
            properties?: Record<string, string>;
          }>;
        };
        const legacyResult = (): string | undefined => {
          const fetched = cluster.kubectl(
            'get',
            'policyreports.wgpolicyk8s.io',
            'storage-policy-webhook',
            '-n',
            'payments',
            '-o',
            'json',
          );
          if (fetched.status !== 0) return undefined;
          const entry = (JSON.parse(fetched.stdout) as Report).results.find(
            (result) => result.resources[0]?.name === 'legacy-db' && result.rule === 'storage-class/allowed',
          );
          return entry
            ? `${entry.result}${entry.properties?.['exception'] ? ` ${entry.properties['exception']}` : ''}`
            : undefined;
        };
        const ledger = statefulSet(
          'exempt-ledger',
          'payments',
          1,
          'registry.example.com/postgres:16',
          '    - metadata: {name: data}\n      spec: {storageClassName: io1-slow, accessModes: [ReadWriteOnce], resources: {requests: {storage: 100Gi}}}\n',
        );
        await cluster.stopProcess('webhook');
        await cluster.startWebhookProcess('webhook', cluster.webhookPort, 5, {
          policies,
          args: ['--policy-reports=true', '--lease-namespace=storage-policy-webhook'],
        });
        try {
          const exempted = apply(ledger);
          assert.equal(exempted.status, 0, explain(exempted));
          assert.match(
            exempted.stderr,
            new RegExp(`Warning: storage-class/allowed: exempted by legacy-io1 until ${expiresAt}`),
            explain(exempted),
          );
          await eventually(
            'the report to say skip, naming the exception',
            () => legacyResult() === 'skip legacy-io1',
            30_000,
            250,
          );
          assert.equal(cluster.kubectl('delete', 'statefulset', 'exempt-ledger', '-n', 'payments').status, 0);
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(expiresAt) - Date.now() + 500)));
          const denied = apply(ledger);
          assert.notEqual(denied.status, 0, explain(denied));
          assert.match(
            denied.stderr,
            /class io1-slow is not allowed here.*rule storage-class\/allowed/,
            explain(denied),
          );
          await eventually(
            'the report to say fail once the exception has expired',
            () => legacyResult() === 'fail',
            30_000,
            250,
          );
        } finally {
          await cluster.stopProcess('webhook');
          await cluster.restartWebhook();
        }
      });

      it('storage-policy diff against the live cluster: a narrower allow list names the claims that start failing (exit 1), an exclusion the ones that pass again (exit 0), the base read from git', async () => {
        for (const namespace of ['diff-a', 'diff-b', 'diff-c'])
          assert.equal(cluster.kubectl('create', 'namespace', namespace).status, 0);
        for (const [namespace, name, spec] of [
          [
            'diff-a',
            'app',
            'storageClassName: gp3\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
          ],
          [
            'diff-a',
            'db',
            'storageClassName: io2-high-iops\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
          ],
          [
            'diff-b',
            'db',
            'storageClassName: io2-high-iops\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
          ],
          [
            'diff-c',
            'files',
            'storageClassName: efs\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 5Gi}}',
          ],
        ]) {
          applyOk(claim(name ?? '', namespace ?? '', spec ?? ''));
        }
        const repo = join(cluster.dir, 'policy-repo');
        await mkdir(join(repo, 'policies'), { recursive: true });
        const policyFile = (allowed: string, extra = '') => `apiVersion: storage-policy-webhook.io/v1alpha1
kind: StoragePolicy
metadata: {name: teams}
spec:
  match: {kinds: [PersistentVolumeClaim], namespaces: ["diff-*"]${extra}}
  storageClasses: {allowed: [${allowed}]}
`;
        const git = (...args: string[]) =>
          spawnSync('git', ['-C', repo, '-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], {
            encoding: 'utf8',
          });
        assert.equal(git('init', '-q').status, 0);
        await writeFile(join(repo, 'policies', 'teams.yaml'), policyFile('gp3, io2-high-iops, efs'));
        assert.equal(git('add', '.').status, 0);
        assert.equal(git('commit', '-q', '-m', 'teams').status, 0);
        const diff = (...args: string[]) =>
          spawnSync(
            process.execPath,
            [
              join(ROOT, 'dist/src/cli/main.js'),
              'diff',
              '--policies',
              join(repo, 'policies'),
              '--kubeconfig',
              cluster.kubeconfig,
              ...args,
            ],
            {
              encoding: 'utf8',
              timeout: 60_000,
            },
          );
        await writeFile(join(repo, 'policies', 'teams.yaml'), policyFile('gp3, efs'));
        const narrowed = diff('--base-ref', 'HEAD');
        assert.equal(narrowed.status, 1, explain(narrowed));
        const failing = [...narrowed.stdout.matchAll(/^FAILS +PersistentVolumeClaim (\S+)/gm)].map((match) => match[1]);
        assert.deepEqual(failing, ['diff-a/db', 'diff-b/db'], narrowed.stdout);
        assert.equal(git('commit', '-q', '-am', 'narrow').status, 0);
        await writeFile(join(repo, 'policies', 'teams.yaml'), policyFile('gp3, efs', ', excludeNamespaces: [diff-b]'));
        const excluded = diff('--base-ref', 'HEAD', '-o', 'json');
        assert.equal(excluded.status, 0, explain(excluded));
        const passing = (
          JSON.parse(excluded.stdout) as {
            objects: Array<{ namespace: string; name: string; newlyPassing: unknown[] }>;
          }
        ).objects.filter((change) => change.newlyPassing.length > 0);
        assert.deepEqual(
          passing.map((change) => `${change.namespace}/${change.name}`),
          ['diff-b/db'],
        );
      });

      it('dated enforcement: a policy with enforceFrom a few seconds ahead warns, then denies the same create, with no reload', async () => {
        assert.equal(cluster.kubectl('create', 'namespace', 'dated').status, 0);
        const policies = join(cluster.dir, 'dated-policies');
        await cp(join(ROOT, 'policies'), policies, { recursive: true });
        const instant = new Date(Date.now() + 8_000).toISOString().replace(/\.\d+Z$/, 'Z');
        await writeFile(
          join(policies, 'dated.yaml'),
          `apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: dated}\nspec:\n  enforceFrom: "${instant}"\n  match: {kinds: [PersistentVolumeClaim], namespaces: [dated]}\n  storageClasses: {allowed: [gp3]}\n`,
        );
        await cluster.stopProcess('webhook');
        await cluster.startWebhookProcess('webhook', cluster.webhookPort, 5, { policies });
        try {
          const io2 = claim(
            'dated-db',
            'dated',
            'storageClassName: io2-high-iops\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
          );
          const early = dryRun(io2);
          assert.equal(early.status, 0, explain(early));
          assert.match(
            early.stderr,
            new RegExp(`Warning: storage-class/allowed: spec\\.storageClassName: enforced from ${instant}`),
            explain(early),
          );
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(instant) - Date.now() + 500)));
          const late = dryRun(io2);
          assert.notEqual(late.status, 0, explain(late));
          assert.match(
            late.stderr,
            /class io2-high-iops is not allowed here; use one of gp3 \[policy dated, rule storage-class\/allowed\]/,
            explain(late),
          );
        } finally {
          await cluster.stopProcess('webhook');
          await cluster.restartWebhook();
        }
      });

      it('cost: a dry-run claim shows its monthly cost (annotation and warning), a claim over the per-claim budget is refused, and a StatefulSet scaled past the namespace budget is refused with the arithmetic', async () => {
        assert.equal(cluster.kubectl('create', 'namespace', 'budgeted').status, 0);
        const policies = join(cluster.dir, 'cost-policies');
        await cp(join(ROOT, 'policies'), policies, { recursive: true });
        await writeFile(
          join(policies, 'budget.yaml'),
          'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: budget}\nspec:\n  match: {namespaces: [budgeted]}\n  cost: {maxPerClaim: 100, maxPerNamespace: 150}\n',
        );
        await cluster.stopProcess('webhook');
        await cluster.startWebhookProcess('webhook', cluster.webhookPort, 5, { policies });
        try {
          // gp3 at 50 IOPS/GiB: 100 GiB x 0.08 + (5000 - 3000 free) IOPS x 0.005.
          const quoted = dryRun(
            claim(
              'cache',
              'budgeted',
              'storageClassName: gp3\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 100Gi}}',
            ),
          );
          assert.equal(quoted.status, 0, explain(quoted));
          assert.match(quoted.stdout, /storage-policy-webhook\.io\/monthly-cost: 18\.00 USD/);
          assert.match(
            quoted.stderr,
            /Warning: mutated: monthly cost 18\.00 USD \(100 GiB gp3 \+ 2000 IOPS\)/,
            explain(quoted),
          );
          refused(
            claim(
              'ledger',
              'budgeted',
              'storageClassName: io2-high-iops\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 20Gi}}',
            ),
            /costs 132\.50 USD a month \(20 GiB io2 \+ 2000 IOPS\), over the per-claim budget of 100\.00 USD.*\[policy budget, rule cost\/claim-budget\]/,
          );
          // io2 at 100 IOPS/GiB: each 10 GiB claim 66.25 a month; 2 fit in 150, 3 do not.
          const manifest = statefulSet(
            'orders',
            'budgeted',
            1,
            'nginx:1.27',
            '    - metadata: {name: data}\n      spec: {storageClassName: io2-high-iops, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n',
          );
          const created = applyOk(manifest);
          assert.match(created.stderr, /cost\/estimate: .*each claim 66\.25 USD a month/, explain(created));
          const stored = await claimOf('data-orders-0', 'budgeted');
          assert.equal(stored.metadata.annotations?.['storage-policy-webhook.io/monthly-cost'], '66.25 USD');
          // kubectl scale goes through the scale subresource, judged as the cached StatefulSet with the new replicas.
          const tooMany = cluster.kubectl('scale', 'statefulset', 'orders', '-n', 'budgeted', '--replicas=3');
          assert.notEqual(tooMany.status, 0);
          assert.match(
            tooMany.stderr,
            /namespace budgeted would cost 198\.75 USD a month \(0\.00 USD existing \+ 198\.75 USD new\), over its budget of 150\.00 USD.*rule cost\/namespace-budget/,
            explain(tooMany),
          );
          const two = cluster.kubectl('scale', 'statefulset', 'orders', '-n', 'budgeted', '--replicas=2');
          assert.equal(two.status, 0, explain(two));
          // A patch of replicas is an UPDATE of the StatefulSet itself: judged the same way.
          const patched = cluster.kubectl(
            'patch',
            'statefulset',
            'orders',
            '-n',
            'budgeted',
            '--type=merge',
            '-p',
            '{"spec":{"replicas":4}}',
          );
          assert.notEqual(patched.status, 0);
          assert.match(patched.stderr, /rule cost\/namespace-budget/, explain(patched));
        } finally {
          await cluster.stopProcess('webhook');
          await cluster.restartWebhook();
        }
      });

      it("the chart's ServiceMonitor and PrometheusRule are accepted by the API server with the Prometheus Operator's CRDs (from its module on the Go module proxy)", () => {
        const crds = LocalCluster.prometheusOperatorCrds();
        for (const crd of ['servicemonitors', 'prometheusrules']) {
          const installed = cluster.kubectl(
            'apply',
            '--server-side',
            '-f',
            join(crds, `monitoring.coreos.com_${crd}.yaml`),
          );
          assert.equal(installed.status, 0, explain(installed));
        }
        const established = cluster.kubectl(
          'wait',
          '--for=condition=Established',
          '--timeout=60s',
          'crd/servicemonitors.monitoring.coreos.com',
          'crd/prometheusrules.monitoring.coreos.com',
        );
        assert.equal(established.status, 0, explain(established));
        assert.equal(cluster.kubectl('create', 'namespace', 'monitoring-e2e').status, 0);
        const rendered = spawnSync(
          LocalCluster.buildHelm(),
          [
            'template',
            'spw',
            join(ROOT, 'deploy/chart'),
            '--namespace',
            'monitoring-e2e',
            '--set',
            'serviceMonitor.enabled=true',
            '--set',
            'prometheusRule.enabled=true',
            '--set',
            'serviceMonitor.labels.release=kps',
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(rendered.status, 0, rendered.stderr);
        const monitoring = parseAllDocuments(rendered.stdout)
          .map((document) => document.toJS() as { kind?: string } | null)
          .filter((object) => object?.kind === 'ServiceMonitor' || object?.kind === 'PrometheusRule');
        assert.deepEqual(monitoring.map((object) => object?.kind).sort(), ['PrometheusRule', 'ServiceMonitor']);
        const applied = cluster.kubectlWithInput(
          monitoring.map((object) => stringify(object)).join('---\n'),
          'apply',
          '-f',
          '-',
        );
        assert.equal(applied.status, 0, explain(applied));
        assert.match(applied.stdout, /servicemonitor\.monitoring\.coreos\.com\/spw-storage-policy-webhook created/);
        assert.match(applied.stdout, /prometheusrule\.monitoring\.coreos\.com\/spw-storage-policy-webhook created/);
        const stored = get('prometheusrule', 'spw-storage-policy-webhook', '-n', 'monitoring-e2e');
        const renderedRule = monitoring.find((object) => object?.kind === 'PrometheusRule') as {
          spec: { groups: Array<{ rules: unknown[] }> };
        };
        assert.equal(
          stored.spec.groups[0].rules.length,
          renderedRule.spec.groups[0]?.rules.length,
          'stored as rendered: every alert kept by the CRD schema',
        );
      });

      it('openreports.io/v1alpha1: the audit as Report and ClusterReport objects, accepted by the API server with the CRDs of deploy/components/openreports', () => {
        for (const crd of ['reports', 'clusterreports']) {
          const installed = cluster.kubectl(
            'apply',
            '-f',
            join(ROOT, `deploy/components/openreports/openreports.io_${crd}.yaml`),
          );
          assert.equal(installed.status, 0, explain(installed));
        }
        const established = cluster.kubectl(
          'wait',
          '--for=condition=Established',
          'crd/reports.openreports.io',
          'crd/clusterreports.openreports.io',
          '--timeout=30s',
        );
        assert.equal(established.status, 0, explain(established));
        const audit = spawnSync(
          process.execPath,
          [
            join(ROOT, 'dist/src/cli/main.js'),
            'audit',
            '--kubeconfig',
            cluster.kubeconfig,
            '--report-api',
            'openreports.io/v1alpha1',
            '-o',
            'yaml',
          ],
          {
            encoding: 'utf8',
            timeout: 60_000,
          },
        );
        assert.equal(audit.status, 1, `something fails in this cluster: ${audit.stderr}`);
        const kinds = new Set(
          (parse(audit.stdout) as { items: Array<{ apiVersion: string; kind: string }> }).items.map(
            (item) => `${item.apiVersion} ${item.kind}`,
          ),
        );
        assert.deepEqual([...kinds].sort(), [
          'openreports.io/v1alpha1 ClusterReport',
          'openreports.io/v1alpha1 Report',
        ]);
        const accepted = cluster.kubectlWithInput(audit.stdout, 'apply', '--dry-run=server', '-f', '-');
        assert.equal(accepted.status, 0, explain(accepted));
      });

      it('kubectl storage-policy: the kubectl-storage_policy bin found by kubectl plugin discovery, reaching the cluster of $KUBECONFIG; kubectl completes its commands and flags', async () => {
        const bin = await mkdtemp(join(tmpdir(), 'kubectl-plugin-'));
        try {
          // As npm installs the bin: a symlink to main.js, run by the node its shebang finds first on PATH.
          await symlink(process.execPath, join(bin, 'node'));
          await symlink(join(ROOT, 'dist/src/cli/main.js'), join(bin, 'kubectl-storage_policy'));
          await symlink(join(ROOT, 'dist/src/cli/main.js'), join(bin, 'kubectl_complete-storage_policy'));
          const path = `${bin}:${process.env['PATH'] ?? ''}`;
          // kubectl completes a plugin's arguments through its kubectl_complete-<plugin> executable (kubectl 1.26+).
          const commands = cluster.kubectlAsUser(path, '__complete', 'storage-policy', 'au');
          assert.match(commands.stdout, /^audit\t/m, explain(commands));
          assert.doesNotMatch(commands.stdout, /^review/m);
          const flags = cluster.kubectlAsUser(path, '__complete', 'storage-policy', 'audit', '--inv');
          assert.match(flags.stdout, /^--inventory$/m, explain(flags));
          const listed = cluster.kubectlAsUser(path, 'plugin', 'list');
          assert.match(listed.stdout, /kubectl-storage_policy/, explain(listed));
          const version = cluster.kubectlAsUser(path, 'storage-policy', '--version');
          const { version: expected } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
            version: string;
          };
          assert.equal(version.stdout.trim(), `storage-policy ${expected}`, explain(version));
          const help = cluster.kubectlAsUser(path, 'storage-policy', 'audit', '--help');
          assert.match(help.stdout, /^Usage: kubectl storage-policy audit/, explain(help));
          const context = cluster.kubectl('config', 'current-context').stdout.trim();
          const audit = cluster.kubectlAsUser(path, 'storage-policy', 'audit', '--context', context, '-o', 'json');
          assert.equal(audit.status, 1, `the cluster has objects that fail: ${audit.stderr}`);
          assert.equal((JSON.parse(audit.stdout) as { kind: string }).kind, 'List');
        } finally {
          await rm(bin, { recursive: true, force: true });
        }
      });

      it('the floor: generated admission policies refuse with the policy and rule while the webhook is down (failurePolicy Ignore), default the class by MutatingAdmissionPolicy from 1.36, and refuse nothing the webhook admits (a corpus through both)', async () => {
        const minor = Number(/^v1\.(\d+)/.exec(version)?.[1]);
        const out = join(cluster.dir, 'floor');
        const generated = generateFloor(out, '--kubernetes-version', version);
        assert.equal(generated.status, 0, generated.stderr);
        if (minor < 36)
          assert.match(generated.stdout, /storageClasses\.defaults: MutatingAdmissionPolicy .* needs Kubernetes 1\.36/);
        // The corpus: every class of the fixtures (and none, and ""), access modes, sizes, and claim templates.
        const corpus: Array<{ name: string; manifest: string }> = [];
        const classes = ['gp3', 'io2-high-iops', 'efs', 'io1-slow', undefined, ''];
        const modes = [
          ['ReadWriteOnce'],
          ['ReadWriteMany'],
          ['ReadOnlyMany'],
          ['ReadWriteOncePod'],
          ['ReadWriteOnce', 'ReadOnlyMany'],
        ];
        const sizes = ['500Mi', '100Gi', '5Ti'];
        classes.forEach((className, c) =>
          modes.forEach((mode, m) =>
            sizes.forEach((size, z) => {
              const name = `floor-${c}-${m}-${z}`;
              const classField = className === undefined ? '' : `storageClassName: "${className}"\n`;
              corpus.push({
                name,
                manifest: claim(
                  name,
                  'payments',
                  `${classField}accessModes: [${mode.join(', ')}]\nresources: {requests: {storage: ${size}}}`,
                ),
              });
            }),
          ),
        );
        for (const className of ['io1-slow', 'gp3']) {
          const name = `floor-sts-${className}`;
          corpus.push({
            name,
            manifest: statefulSet(
              name,
              'payments',
              1,
              'nginx:1.27',
              `    - metadata: {name: data}\n      spec: {storageClassName: ${className}, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n`,
            ),
          });
        }
        const verdicts = () =>
          corpus.map(({ name, manifest }) => {
            const result = dryRun(manifest);
            return { name, denied: result.status !== 0, message: result.stderr, stdout: result.stdout };
          });
        const webhookOnly = verdicts();

        const applied = cluster.kubectl('apply', '-f', join(out, 'admission-policies.yaml'));
        assert.equal(applied.status, 0, explain(applied));
        for (const type of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration']) {
          const ignore = cluster.kubectl(
            'patch',
            type,
            'storage-policy-webhook',
            '--type=json',
            '-p',
            '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]',
          );
          assert.equal(ignore.status, 0, explain(ignore));
        }
        await cluster.stopProcess('webhook');
        try {
          const forbidden = corpus[corpus.findIndex(({ name }) => name === 'floor-3-0-1')]?.manifest ?? '';
          await eventually(
            'the API server to load the generated policies',
            () => dryRun(forbidden).status !== 0,
            30_000,
            250,
          );
          const floorOnly = verdicts();
          const refused = floorOnly.filter((verdict) => verdict.denied);
          process.stdout.write(
            `# e2e ${version}: floor differential over ${corpus.length} objects: the webhook refused ${webhookOnly.filter((verdict) => verdict.denied).length}, the floor ${refused.length}\n`,
          );
          assert.ok(
            refused.length >= 20,
            `the floor refuses the corpus's forbidden classes, RWX on EBS and 5Ti: ${refused.length}`,
          );
          for (const verdict of refused) {
            const rule = /rule ([a-z-]+\/[a-z-]+); storage-policy admission floor/.exec(verdict.message)?.[1];
            assert.ok(rule, `${verdict.name}: the floor names its rule: ${verdict.message}`);
            assert.match(verdict.message, /\[policy platform-storage, rule /);
            const webhook = webhookOnly.find((entry) => entry.name === verdict.name);
            assert.ok(
              webhook?.denied,
              `${verdict.name}: refused by the floor, admitted by the webhook: ${verdict.message}`,
            );
            assert.ok(
              webhook.message.includes(`rule ${rule}`),
              `${verdict.name}: the webhook names ${rule} too: ${webhook.message}`,
            );
          }
          assert.match(
            floorOnly.find((verdict) => verdict.name === 'floor-3-0-1')?.message ?? '',
            /ValidatingAdmissionPolicy 'storage-policy\.platform-storage\.claims\.deny'.*class io1-slow is not allowed here; use one of gp3, io2-high-iops, efs \[policy platform-storage, rule storage-class\/allowed/,
          );
          assert.match(
            floorOnly.find((verdict) => verdict.name === 'floor-0-1-1')?.message ?? '',
            /ReadWriteMany is not supported by ebs\.csi\.aws\.com.*rule access-modes\/unsupported/,
          );
          const noClass = dryRun(
            claim('floor-default', 'payments', 'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}'),
          );
          assert.equal(noClass.status, 0, explain(noClass));
          if (minor >= 36)
            assert.match(
              noClass.stdout,
              /storageClassName: gp3/,
              'the namespace default, from the MutatingAdmissionPolicy',
            );
          else assert.doesNotMatch(noClass.stdout, /storageClassName:/);
        } finally {
          const removed = cluster.kubectl('delete', '-f', join(out, 'admission-policies.yaml'));
          assert.equal(removed.status, 0, explain(removed));
          await cluster.restartWebhook();
          for (const type of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'])
            cluster.kubectl(
              'patch',
              type,
              'storage-policy-webhook',
              '--type=json',
              '-p',
              '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Fail"}]',
            );
        }
      });

      it('the floor as static manifests (v1.37): an API server started with a staticManifestsDir of generated files refuses from its first request, with no webhook and no API object', async () => {
        if (version !== 'v1.37.2') return;
        const out = join(cluster.dir, 'floor-static');
        const generated = generateFloor(out, '--static');
        assert.equal(generated.status, 0, generated.stderr);
        const config = join(out, 'admission-configuration.yaml');
        await writeFile(
          config,
          stringify({
            apiVersion: 'apiserver.config.k8s.io/v1',
            kind: 'AdmissionConfiguration',
            plugins: [
              {
                name: 'ValidatingAdmissionPolicy',
                configuration: {
                  apiVersion: 'apiserver.config.k8s.io/v1',
                  kind: 'ValidatingAdmissionPolicyConfiguration',
                  staticManifestsDir: join(out, 'validating'),
                },
              },
              {
                name: 'MutatingAdmissionPolicy',
                configuration: {
                  apiVersion: 'apiserver.config.k8s.io/v1',
                  kind: 'MutatingAdmissionPolicyConfiguration',
                  staticManifestsDir: join(out, 'mutating'),
                },
              },
            ],
          }),
        );
        const floored = new LocalCluster();
        try {
          await floored.startControlPlane(LocalCluster.build(version).bin, [
            `--admission-control-config-file=${config}`,
          ]);
          const namespace = floored.kubectl('create', 'namespace', 'payments');
          assert.equal(namespace.status, 0, explain(namespace));
          const classes = floored.kubectl('apply', '-f', join(ROOT, 'examples/cluster/storageclasses.yaml'));
          assert.equal(classes.status, 0, explain(classes));
          const dry = (manifest: string) =>
            floored.kubectlWithInput(manifest, 'apply', '-f', '-', '--dry-run=server', '-o', 'yaml');
          const forbidden = dry(
            claim(
              'slow',
              'payments',
              'storageClassName: standard\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
            ),
          );
          assert.notEqual(forbidden.status, 0);
          assert.match(
            forbidden.stderr,
            /'storage-policy\.platform-storage\.claims\.deny\.static\.k8s\.io'.*class standard is not allowed here.*\[policy platform-storage, rule storage-class\/allowed/,
            explain(forbidden),
          );
          const rwx = dry(
            claim(
              'shared',
              'payments',
              'storageClassName: gp3\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 10Gi}}',
            ),
          );
          assert.match(
            rwx.stderr,
            /ReadWriteMany is not supported by ebs\.csi\.aws\.com.*rule access-modes\/unsupported/,
            explain(rwx),
          );
          const defaulted = dry(
            claim('plain', 'payments', 'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}'),
          );
          assert.equal(defaulted.status, 0, explain(defaulted));
          assert.match(defaulted.stdout, /storageClassName: gp3/);
          const listed = floored.kubectl('get', 'validatingadmissionpolicies', '-o', 'name');
          assert.equal(listed.stdout.trim(), '', 'static policies are not API objects: nothing to delete');
        } finally {
          await floored.stop();
        }
      });

      it('the managed floor: the Lease holder keeps the admission policies in the cluster, refusing by the API server itself, in step with a reload and an expiring exception; deleting the webhook configuration removes them', async () => {
        const minor = Number(/^v1\.(\d+)/.exec(version)?.[1]);
        for (const file of [
          'deploy/namespace.yaml',
          'deploy/rbac.yaml',
          'deploy/components/admission-policies/rbac.yaml',
        ]) {
          const granted = cluster.kubectl('apply', '-f', join(ROOT, file));
          assert.equal(granted.status, 0, explain(granted));
        }
        const policies = join(cluster.dir, 'floor-managed-policies');
        await cp(join(ROOT, 'policies'), policies, { recursive: true });
        const owner = cluster
          .kubectl('get', 'validatingwebhookconfiguration', 'storage-policy-webhook', '-o', 'jsonpath={.metadata.uid}')
          .stdout.trim();
        assert.ok(owner);
        type Floored = {
          metadata: { name: string; ownerReferences?: Array<{ kind: string; uid: string }> };
          spec: { matchConditions?: Array<{ name: string }>; validations?: Array<{ messageExpression?: string }> };
        };
        const floorObjects = (resource: string): Floored[] => {
          const listed = cluster.kubectl(
            'get',
            resource,
            '-l',
            'app.kubernetes.io/managed-by=storage-policy-webhook',
            '-o',
            'json',
          );
          return listed.status === 0 ? (JSON.parse(listed.stdout) as { items: Floored[] }).items : [];
        };
        const claimsPolicy = (): Floored | undefined =>
          floorObjects('validatingadmissionpolicies').find(
            (item) => item.metadata.name === 'storage-policy.platform-storage.claims.deny',
          );
        const exempting = (): boolean =>
          (claimsPolicy()?.spec.matchConditions ?? []).some((condition) => condition.name === 'not-exempted');
        const port = await freePort();
        await cluster.startWebhookProcess('floor-keeper', port, 1, {
          kubeconfig: cluster.serviceAccountKubeconfig,
          policies,
          args: ['--admission-policies=managed', '--lease-namespace=storage-policy-webhook'],
          env: { POD_NAME: 'floor-keeper' },
        });
        const collector = cluster.startGarbageCollector();
        try {
          await eventually('the floor applied', () => claimsPolicy() !== undefined, 30_000, 250);
          const validating = floorObjects('validatingadmissionpolicies');
          assert.equal(floorObjects('validatingadmissionpolicybindings').length, validating.length, 'a binding each');
          for (const item of [...validating, ...floorObjects('validatingadmissionpolicybindings')])
            assert.deepEqual(
              item.metadata.ownerReferences?.map((reference) => `${reference.kind} ${reference.uid}`),
              [`ValidatingWebhookConfiguration ${owner}`],
              item.metadata.name,
            );
          if (minor >= 36)
            assert.ok(floorObjects('mutatingadmissionpolicies').length > 0, 'the namespace default class as a MAP');

          // The API server refuses by the floor itself: the ValidatingAdmissionPolicy answers before the webhook.
          const io1 = claim(
            'floor-managed',
            'payments',
            'storageClassName: io1-slow\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 10Gi}}',
          );
          await eventually(
            'the API server to enforce the managed floor',
            () => /ValidatingAdmissionPolicy 'storage-policy\.platform-storage\.claims\.deny'/.test(dryRun(io1).stderr),
            30_000,
            250,
          );

          // A reload: io1-slow allowed; the floor follows within seconds and admits it.
          await allowIo1Slow(policies);
          const reloadedAt = Date.now();
          await eventually(
            'the floor to follow the reload',
            () => JSON.stringify(claimsPolicy()?.spec.validations ?? []).includes('io1-slow'),
            30_000,
            250,
          );
          process.stdout.write(
            `# e2e ${version}: the managed floor followed a reload in ${Date.now() - reloadedAt} ms\n`,
          );

          // An exception a few seconds long: compiled in, then, with no reload, compiled out at its expiry.
          const expiresAt = new Date(Date.now() + 10_000).toISOString().replace(/\.\d+Z$/, 'Z');
          await writeFile(
            join(policies, 'exceptions.yaml'),
            `apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicyException\nmetadata: {name: floor-migration}\nspec:\n  owner: payments-dba@example.com\n  reason: "DBA-1234"\n  expiresAt: "${expiresAt}"\n  policies: [{name: platform-storage}]\n  match: {namespaces: [payments]}\n`,
          );
          await eventually('the exception in the floor', exempting, 30_000, 250);
          await eventually('the expired exception out of the floor', () => !exempting(), 30_000, 250);
          const lag = Date.now() - Date.parse(expiresAt);
          process.stdout.write(
            `# e2e ${version}: the managed floor dropped an expired exception ${lag} ms after expiry\n`,
          );
          assert.ok(lag < 10_000, `within seconds of the expiry: ${lag} ms`);

          // Uninstall: with the keeper gone, deleting the webhook configuration lets the garbage collector remove it all.
          await cluster.stopProcess('floor-keeper');
          assert.equal(cluster.kubectl('delete', 'validatingwebhookconfiguration', 'storage-policy-webhook').status, 0);
          await eventually(
            'the garbage collector to remove the floor with its owner',
            () =>
              floorObjects('validatingadmissionpolicies').length === 0 &&
              floorObjects('validatingadmissionpolicybindings').length === 0 &&
              (minor < 36 || floorObjects('mutatingadmissionpolicies').length === 0),
            60_000,
            500,
          );
        } finally {
          await cluster.stopProcess('floor-keeper');
          await cluster.stopProcess(collector);
          assert.equal(cluster.registerWebhook().status, 0);
          // The chart test installs the same names with Helm, which refuses objects it does not own.
          cluster.kubectl(
            'delete',
            '--ignore-not-found',
            '-f',
            join(ROOT, 'deploy/components/admission-policies/rbac.yaml'),
            '-f',
            join(ROOT, 'deploy/rbac.yaml'),
          );
        }
      });

      it('rolling the webhook while writes flow: two replicas behind a balancer, each drained and restarted in turn; no write fails', async () => {
        const [portA, portB, balancerPort] = [await freePort(), await freePort(), await freePort()];
        await cluster.startWebhookProcess('webhook-a', portA, 2);
        await cluster.startWebhookProcess('webhook-b', portB, 2);
        await cluster.startBalancer(balancerPort, [portA, portB]);
        try {
          const pointed = cluster.pointWebhooksAt(balancerPort);
          assert.equal(pointed.status, 0, explain(pointed));
          const claimYaml = (name: string) =>
            claim(
              name,
              'analytics',
              'storageClassName: efs\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 1Gi}}',
            );
          await eventually(
            'the API server to call the balancer',
            () => apply(claimYaml('roll-probe'), '--dry-run=server').status === 0,
            30_000,
            250,
          );
          const failures: string[] = [];
          const exits: Array<number | null> = [];
          let writes = 0;
          const started = Date.now();
          const roll = (async () => {
            const at = (seconds: number) =>
              new Promise((resolve) => setTimeout(resolve, Math.max(0, started + seconds * 1000 - Date.now())));
            await at(1.5);
            exits.push(await cluster.stopProcess('webhook-a'));
            await cluster.startWebhookProcess('webhook-a', portA, 2);
            await at(7);
            exits.push(await cluster.stopProcess('webhook-b'));
            await cluster.startWebhookProcess('webhook-b', portB, 2);
          })();
          let rolled = false;
          void roll.then(() => (rolled = true));
          while (!rolled || Date.now() - started < 14_000) {
            const result = apply(claimYaml(`roll-${writes}`));
            writes += 1;
            if (result.status !== 0) failures.push(result.stderr.trim());
            await new Promise((resolve) => setImmediate(resolve));
          }
          await roll;
          process.stdout.write(`# e2e ${version}: ${writes} writes while both webhook replicas were rolled\n`);
          assert.deepEqual(failures, [], `${failures.length} of ${writes} writes failed`);
          assert.ok(writes > 20, `${writes} writes`);
          assert.deepEqual(exits, [0, 0], 'each replica drained and exited 0');
        } finally {
          await cluster.stopProcess('balancer');
          await cluster.stopProcess('webhook-a');
          await cluster.stopProcess('webhook-b');
          const back = cluster.pointWebhooksAt(cluster.webhookPort);
          assert.equal(back.status, 0, explain(back));
        }
      });

      it('with the webhook stopped: failurePolicy Fail blocks judged writes in governed namespaces; kube-system, opted-out namespaces and the PV binder are unaffected', async () => {
        const optedOut = cluster.kubectlWithInput(
          'apiVersion: v1\nkind: Namespace\nmetadata: {name: opted-out, labels: {storage-policy-webhook.io/ignore: "true"}}\n',
          'apply',
          '-f',
          '-',
        );
        assert.equal(optedOut.status, 0, explain(optedOut));
        await cluster.stopProcess('webhook');
        const governed = apply(
          claim(
            'during-outage',
            'payments',
            'storageClassName: gp3\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 1Gi}}',
          ),
        );
        assert.notEqual(governed.status, 0);
        assert.match(governed.stderr, /failed calling webhook "mutate\.storage-policy-webhook\.io"/, explain(governed));
        const ignored = apply(
          claim(
            'during-outage',
            'opted-out',
            'storageClassName: gp3\naccessModes: [ReadWriteOnce]\nresources: {requests: {storage: 1Gi}}',
          ),
        );
        assert.equal(
          ignored.status,
          0,
          `a namespace labelled storage-policy-webhook.io/ignore=true is never sent: ${explain(ignored)}`,
        );
        // What the PV controller writes when it binds a claim: volumeName and its annotations. matchConditions keep it away.
        const bind = {
          metadata: {
            annotations: { 'pv.kubernetes.io/bind-completed': 'yes', 'pv.kubernetes.io/bound-by-controller': 'yes' },
          },
          spec: { volumeName: 'pv-ledger' },
        };
        const bound = cluster.kubectl(
          'patch',
          'pvc',
          'ledger',
          '-n',
          'payments',
          '--type=merge',
          '-p',
          JSON.stringify(bind),
        );
        assert.equal(bound.status, 0, `a binding update needs no webhook: ${explain(bound)}`);
        const relabeled = cluster.kubectl('label', 'pvc', 'ledger', '-n', 'payments', 'tier=gold');
        assert.notEqual(
          relabeled.status,
          0,
          'a label is judged (claimMetadata), so that update still goes to the webhook',
        );
        assert.match(relabeled.stderr, /failed calling webhook/, explain(relabeled));
        // A volume a provisioner makes for a claim is never sent, nor the PV controller's binding of a static one;
        // a static volume a person writes is judged, so it waits for the webhook.
        const provisioned = apply(
          'apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pvc-outage\n  annotations: {pv.kubernetes.io/provisioned-by: ebs.csi.aws.com}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  storageClassName: gp3\n  persistentVolumeReclaimPolicy: Delete\n  csi: {driver: ebs.csi.aws.com, volumeHandle: vol-outage}\n',
        );
        assert.equal(provisioned.status, 0, `provisioning needs no webhook: ${explain(provisioned)}`);
        const claimed = cluster.kubectl(
          'patch',
          'pv',
          'shared-media',
          '--type=merge',
          '-p',
          JSON.stringify({ spec: { claimRef: { namespace: 'analytics', name: 'media' } } }),
        );
        assert.equal(claimed.status, 0, `binding a static volume needs no webhook: ${explain(claimed)}`);
        const handMade = apply(
          'apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: hand-made}\nspec:\n  capacity: {storage: 1Gi}\n  accessModes: [ReadWriteOnce]\n  nfs: {server: nfs.example.com, path: /exports/new}\n',
        );
        assert.notEqual(handMade.status, 0);
        assert.match(handMade.stderr, /failed calling webhook/, explain(handMade));
        const system = apply(
          claim('system-claim', 'kube-system', 'accessModes: [ReadWriteMany]\nresources: {requests: {storage: 1Gi}}'),
        );
        assert.equal(system.status, 0, explain(system));
        const configMap = cluster.kubectl('create', 'configmap', 'still-works', '-n', 'payments');
        assert.equal(configMap.status, 0, explain(configMap));
        // Pods and workloads without ephemeral or CSI inline volumes, and a rollout of one with them, never reach the
        // webhook (matchConditions); a Pod that carries one is judged, so it waits for the webhook.
        const plainPod = apply(
          'apiVersion: v1\nkind: Pod\nmetadata: {name: plain, namespace: payments}\nspec:\n  containers: [{name: app, image: registry.example.com/app:1}]\n  volumes: [{name: config, configMap: {name: still-works}}]\n',
        );
        assert.equal(plainPod.status, 0, `an ordinary pod needs no webhook: ${explain(plainPod)}`);
        const web = cluster.kubectl(
          'create',
          'deployment',
          'web',
          '-n',
          'payments',
          '--image=registry.example.com/web:1',
        );
        assert.equal(web.status, 0, explain(web));
        for (const [deployment, container, namespace] of [
          ['web', 'web', 'payments'],
          ['legacy-render', 'render', 'analytics'],
        ] as const) {
          const image = cluster.kubectl(
            'set',
            'image',
            `deployment/${deployment}`,
            '-n',
            namespace,
            `${container}=registry.example.com/${container}:3`,
          );
          assert.equal(image.status, 0, `rolling ${deployment} needs no webhook: ${explain(image)}`);
        }
        await eventually(
          'the ReplicaSet controller made the rolled web pod',
          () => podImages('payments', 'web').includes('web:3'),
          60_000,
          250,
        );
        const ephemeralPod = apply(
          'apiVersion: v1\nkind: Pod\nmetadata: {name: with-scratch, namespace: payments}\nspec:\n  containers: [{name: app, image: registry.example.com/app:1}]\n  volumes: [{name: scratch, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}}}]\n',
        );
        assert.notEqual(ephemeralPod.status, 0);
        assert.match(
          ephemeralPod.stderr,
          /failed calling webhook "validate\.storage-policy-webhook\.io"/,
          explain(ephemeralPod),
        );
        await cluster.restartWebhook();
        const recovered = dryRun(
          claim('after-outage', 'payments', 'accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 1Gi}}'),
        );
        assert.equal(recovered.status, 0, explain(recovered));
      });

      it('certificates the webhook manages itself: the configurations of deploy/ installed empty, the entries registered by the webhook and kept through re-applies; a CA rotation while claims are written, no write fails', async () => {
        assert.equal(
          cluster.kubectl('create', 'namespace', 'storage-policy-webhook').status === 0 ||
            cluster.kubectl('get', 'namespace', 'storage-policy-webhook').status === 0,
          true,
        );
        await cluster.stopProcess('webhook');
        for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'])
          assert.equal(cluster.kubectl('delete', kind, 'storage-policy-webhook').status, 0);
        const shells = join(ROOT, 'deploy/webhook-configurations.yaml');
        const installed = cluster.kubectl('apply', '-f', shells);
        assert.equal(installed.status, 0, explain(installed));
        const entry = (kind: string) =>
          (
            get(kind, 'storage-policy-webhook').webhooks as
              Array<{ failurePolicy: string; clientConfig: { caBundle: string } }> | undefined
          )?.[0];
        const rotation = [
          '--ca-lifetime-seconds=24',
          '--certificate-lifetime-seconds=15',
          '--certificate-overlap-seconds=3',
        ];
        try {
          await cluster.startManagedWebhook('webhook-managed', cluster.webhookPort, cluster.kubeconfig, [
            '--certificates=managed',
            '--lease-namespace=storage-policy-webhook',
            `--webhook-url=https://127.0.0.1:${cluster.webhookPort}`,
            `--policies=${join(ROOT, 'policies')}`,
            ...rotation,
          ]);
          // Registered with Ignore before it serves; Fail (its --failure-policy) once it serves with policies loaded.
          await eventually(
            'the webhook to register its entries with failurePolicy Fail',
            () => entry('validatingwebhookconfiguration')?.failurePolicy === 'Fail',
            30_000,
            250,
          );
          assert.equal(entry('mutatingwebhookconfiguration')?.failurePolicy, 'Fail');
          for (const reapply of [
            ['apply', '-f', shells],
            ['apply', '--server-side', '-f', shells],
          ]) {
            const result = cluster.kubectl(...reapply);
            assert.equal(result.status, 0, explain(result));
            assert.equal(
              entry('validatingwebhookconfiguration')?.failurePolicy,
              'Fail',
              `${reapply.join(' ')} keeps what the webhook registered`,
            );
          }
          const probe = claim(
            'rotation',
            'analytics',
            'storageClassName: efs\naccessModes: [ReadWriteMany]\nresources: {requests: {storage: 1Gi}}',
          );
          await eventually(
            'the API server to trust the registered CA',
            () => apply(probe, '--dry-run=server').status === 0,
            30_000,
            250,
          );
          const caBundle = () => entry('validatingwebhookconfiguration')?.clientConfig.caBundle ?? '';
          const first = caBundle();
          const failures: string[] = [];
          let writes = 0;
          const started = Date.now();
          while (Date.now() - started < 32_000) {
            const result = apply(probe, '--dry-run=server');
            writes += 1;
            if (result.status !== 0) failures.push(result.stderr.trim());
            // kubectl runs synchronously: the event loop must turn for the webhook's log to reach its file.
            await new Promise((resolve) => setImmediate(resolve));
          }
          await eventually(
            'the webhook log to show the old CA retired',
            async () => (await cluster.log('webhook-managed')).includes('"step":"retire-old-ca"'),
            10_000,
            250,
          ).catch(() => undefined);
          const log = await cluster.log('webhook-managed');
          const steps = [...log.matchAll(/"step":"([a-z-]+)"/g)].map((match) => match[1]);
          process.stdout.write(
            `# e2e ${version}: ${writes} writes through certificate rotation steps ${steps.join(', ')}\n`,
          );
          assert.deepEqual(failures, [], `${failures.length} of ${writes} writes failed`);
          for (const step of ['create', 'stage-ca', 'promote-ca', 'retire-old-ca'])
            assert.ok(steps.includes(step), `${step} in ${steps.join(', ')}; webhook log:\n${log.slice(-4000)}`);
          assert.notEqual(caBundle(), first, 'a new CA is in the bundle');
        } finally {
          await cluster.stopProcess('webhook-managed');
          cluster.kubectl(
            'delete',
            'secret',
            'storage-policy-webhook-tls',
            '-n',
            'storage-policy-webhook',
            '--ignore-not-found',
          );
          for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'])
            cluster.kubectl('delete', kind, 'storage-policy-webhook', '--ignore-not-found');
          await cluster.restartWebhook();
          const registered = cluster.registerWebhook();
          assert.equal(registered.status, 0, explain(registered));
          await eventually(
            'the original certificate trusted again',
            () =>
              dryRun(
                claim(
                  'after-rotation',
                  'analytics',
                  'accessModes: [ReadWriteMany]\nresources: {requests: {storage: 1Gi}}',
                ),
              ).status === 0,
            30_000,
            250,
          );
        }
      });

      it('helm install with default values and nothing else, on a cluster with a default class and report CRDs: nothing in the write path until the webhook runs, Ignore with no policy; a policy by helm upgrade: Fail once it serves, entries kept, an outage spares opted-out namespaces; uninstall takes it all out and keeps shared CRDs', async () => {
        const helm = LocalCluster.buildHelm();
        const configurations = ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration'];
        // The chart brings its own webhook configurations (pointing at its Service); the ones registered from deploy/ go.
        for (const kind of configurations)
          assert.equal(cluster.kubectl('delete', kind, 'storage-policy-webhook').status, 0);
        await cluster.stopProcess('webhook');
        // A stranger's cluster: a default class already, and the report CRDs Kyverno installs (the audit test applied them).
        assert.equal(
          cluster.kubectl('get', 'crd', 'policyreports.wgpolicyk8s.io', 'clusterpolicyreports.wgpolicyk8s.io').status,
          0,
        );
        const defaultClass = cluster.kubectl(
          'annotate',
          'storageclass',
          'gp3',
          'storageclass.kubernetes.io/is-default-class=true',
        );
        assert.equal(defaultClass.status, 0, explain(defaultClass));
        const helmRun = (...args: string[]) =>
          spawnSync(helm, [`--kubeconfig=${cluster.kubeconfig}`, ...args], { encoding: 'utf8', timeout: 120_000 });
        const entries = () =>
          configurations.map(
            (kind) => (get(kind, 'storage-policy-webhook').webhooks ?? []) as Array<{ failurePolicy: string }>,
          );
        const failurePolicies = () =>
          entries().map((webhooks) => webhooks.map((webhook) => webhook.failurePolicy).join(','));
        const claimIn = (name: string, namespace: string, storageClass = '') =>
          claim(
            name,
            namespace,
            `${storageClass ? `storageClassName: ${storageClass}\n` : ''}accessModes: [ReadWriteOnce]\nresources: {requests: {storage: 1Gi}}`,
          );
        const started = Date.now();
        const installed = helmRun(
          'install',
          'storage-policy-webhook',
          join(ROOT, 'deploy/chart'),
          '--namespace',
          'storage-policy-webhook',
          '--create-namespace',
        );
        assert.equal(installed.status, 0, installed.stderr);
        // No pod runs yet (here, none ever does until the stand-in starts): the configurations send the API server nowhere.
        assert.deepEqual(failurePolicies(), ['', ''], 'installed empty');
        const unstarted = apply(claimIn('helm-unstarted', 'analytics'));
        assert.equal(unstarted.status, 0, `a webhook that never started blocks nothing: ${explain(unstarted)}`);
        const policies = get('configmap', 'storage-policy-webhook-policies', '-n', 'storage-policy-webhook')
          .data as Record<string, string>;
        assert.deepEqual(Object.keys(policies), ['none.yaml'], 'no policy is installed');
        // The chart's pod, as a process: the Deployment's own arguments and environment, the Service port, the ServiceAccount's token.
        const container = get('deployment', 'storage-policy-webhook', '-n', 'storage-policy-webhook').spec.template.spec
          .containers[0] as {
          args: string[];
          env: Array<{ name: string; value?: string }>;
        };
        const podArgs = container.args.filter((arg) => arg !== 'serve' && !/^--(port|ops-port|policies)=/.test(arg));
        const podEnv = Object.fromEntries(
          container.env.flatMap((variable) => (variable.value === undefined ? [] : [[variable.name, variable.value]])),
        );
        assert.ok(podArgs.includes('--certificates=managed'), podArgs.join(' '));
        assert.equal(podEnv['FAILURE_POLICY'], 'Fail');
        const policyDir = join(cluster.dir, 'chart-policies');
        const writePolicies = async (files: Record<string, string>) => {
          await rm(policyDir, { recursive: true, force: true });
          await mkdir(policyDir, { recursive: true });
          for (const [name, content] of Object.entries(files)) await writeFile(join(policyDir, name), content);
        };
        await writePolicies(policies);
        const token = cluster.kubectl('create', 'token', 'storage-policy-webhook', '-n', 'storage-policy-webhook');
        assert.equal(token.status, 0, explain(token));
        const kubeconfig = await cluster.writeKubeconfig('kubeconfig-chart-pod', 'chart-pod', token.stdout.trim());
        // The API server calls the Service at its ClusterIP (on loopback here) and port: the stand-in listens there.
        const serviceIp = cluster.clusterIpOf('storage-policy-webhook', 'storage-policy-webhook');
        const pod = (name: string) =>
          cluster.startManagedWebhook(
            name,
            443,
            kubeconfig,
            [...podArgs, `--policies=${policyDir}`, '--lease-namespace=storage-policy-webhook', `--host=${serviceIp}`],
            podEnv,
          );
        let opsPort = await pod('chart-pod');
        await eventually(
          'the webhook to register its entries',
          () => failurePolicies().join() === 'Ignore,Ignore',
          30_000,
          250,
        );
        let last: CommandResult = { status: 1, stdout: '', stderr: '' };
        const judged = async (name: string, storageClass = '') => {
          const before = await metric(opsPort, 'storage_policy_admission_duration_seconds_count{');
          await eventually(
            `claim ${name} created through the chart webhook`,
            () => (last = apply(claimIn(name, 'analytics', storageClass))).status === 0,
            60_000,
            500,
          ).catch((error: unknown) => {
            throw new Error(`${(error as Error).message}: ${explain(last)}`);
          });
          assert.doesNotMatch(last.stderr, /x509|certificate/, explain(last));
          assert.ok(
            (await metric(opsPort, 'storage_policy_admission_duration_seconds_count{')) > before,
            'the webhook judged it',
          );
        };
        await judged('helm-default');
        process.stdout.write(
          `# e2e ${version}: helm install to the first claim judged by the chart's webhook: ${Math.round((Date.now() - started) / 1000)} s\n`,
        );
        assert.equal(
          get('pvc', 'helm-default', '-n', 'analytics').spec.storageClassName,
          'gp3',
          'the cluster default stays in charge',
        );
        await cluster.stopProcess('chart-pod');
        const idle = apply(claimIn('helm-down-no-policy', 'analytics'));
        assert.equal(idle.status, 0, `with no policy, an outage blocks nothing (Ignore): ${explain(idle)}`);

        // The platform team adds a policy: helm upgrade with a file. Helm (server-side apply) leaves the registered entries alone.
        const policyFile = join(cluster.dir, 'approved-classes.yaml');
        await writeFile(
          policyFile,
          'apiVersion: storage-policy-webhook.io/v1alpha1\nkind: StoragePolicy\nmetadata: {name: approved-classes}\nspec:\n  action: deny\n  match: {kinds: [PersistentVolumeClaim]}\n  storageClasses: {allowed: [gp3]}\n',
        );
        const upgraded = helmRun(
          'upgrade',
          'storage-policy-webhook',
          join(ROOT, 'deploy/chart'),
          '--namespace',
          'storage-policy-webhook',
          '--set-file',
          'policies.files.approved-classes\\.yaml=' + policyFile,
        );
        assert.equal(upgraded.status, 0, upgraded.stderr);
        assert.deepEqual(
          failurePolicies(),
          ['Ignore', 'Ignore'],
          'helm upgrade keeps the entries the webhook registered',
        );
        await writePolicies(
          get('configmap', 'storage-policy-webhook-policies', '-n', 'storage-policy-webhook').data as Record<
            string,
            string
          >,
        );
        opsPort = await pod('chart-pod');
        await eventually(
          'failurePolicy Fail once the webhook serves with a policy',
          () => failurePolicies().join() === 'Fail,Fail',
          30_000,
          250,
        );
        await judged('helm-guarded', 'gp3');
        const denied = apply(claimIn('helm-efs', 'analytics', 'efs'));
        assert.notEqual(denied.status, 0, 'the policy is enforced');
        assert.match(
          denied.stderr,
          /spec\.storageClassName: class efs is not allowed here; use one of gp3/,
          explain(denied),
        );
        // helm test: the chart's check pod, run as a process with its own ServiceAccount's token (no kubelet here).
        const hooks = helmRun(
          'template',
          'storage-policy-webhook',
          join(ROOT, 'deploy/chart'),
          '--namespace',
          'storage-policy-webhook',
          '--set',
          'test.namespace=analytics',
          '--show-only',
          'templates/tests/check.yaml',
        );
        assert.equal(hooks.status, 0, hooks.stderr);
        const hookObjects = parseAllDocuments(hooks.stdout)
          .map((document) => document.toJS() as { kind: string; spec?: { containers: Array<{ args: string[] }> } })
          .filter(Boolean);
        const testArgs = hookObjects.find((object) => object.kind === 'Pod')?.spec?.containers[0]?.args ?? [];
        const rbac = hookObjects
          .filter((object) => object.kind !== 'Pod')
          .map((object) => stringify(object))
          .join('---\n');
        const granted = cluster.kubectlWithInput(rbac, 'apply', '-f', '-');
        assert.equal(granted.status, 0, explain(granted));
        const testToken = cluster.kubectl(
          'create',
          'token',
          'storage-policy-webhook-test',
          '-n',
          'storage-policy-webhook',
        );
        assert.equal(testToken.status, 0, explain(testToken));
        const testKubeconfig = await cluster.writeKubeconfig(
          'kubeconfig-chart-test',
          'chart-test',
          testToken.stdout.trim(),
        );
        const checked = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), ...testArgs], {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, KUBECONFIG: testKubeconfig },
        });
        assert.equal(checked.status, 0, `helm test passes: ${checked.stdout}${checked.stderr}`);
        assert.match(checked.stdout, /^ok: storage-policy-webhook: check [0-9a-f]+ answered with 1 policies loaded/);
        const unsent = spawnSync(
          process.execPath,
          [join(ROOT, 'dist/src/cli/main.js'), 'check', '-n', 'kube-system', '--kubeconfig', cluster.kubeconfig],
          { encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(unsent.status, 1, 'kube-system is never sent to the webhook: the check says so');
        assert.match(unsent.stderr, /not ok: the claim was admitted without the webhook's answer/);
        await cluster.stopProcess('chart-pod');
        assert.notEqual(
          apply(claimIn('helm-outage', 'analytics')).status,
          0,
          'failurePolicy Fail: with a policy, the webhook is in the path',
        );
        const optOut = cluster.kubectl('label', 'namespace', 'analytics', 'storage-policy-webhook.io/ignore=true');
        assert.equal(optOut.status, 0, explain(optOut));
        const spared = apply(claimIn('helm-opted-out', 'analytics'));
        assert.equal(spared.status, 0, `the opt-out label keeps the namespace writable: ${explain(spared)}`);
        assert.equal(cluster.kubectl('label', 'namespace', 'analytics', 'storage-policy-webhook.io/ignore-').status, 0);

        const uninstalled = helmRun('uninstall', 'storage-policy-webhook', '--namespace', 'storage-policy-webhook');
        assert.equal(uninstalled.status, 0, uninstalled.stderr);
        for (const kind of configurations)
          assert.notEqual(cluster.kubectl('get', kind, 'storage-policy-webhook').status, 0, `${kind} left behind`);
        const undefaulted = cluster.kubectl(
          'annotate',
          'storageclass',
          'gp3',
          'storageclass.kubernetes.io/is-default-class-',
        );
        assert.equal(undefaulted.status, 0, `a StorageClass write after uninstall: ${explain(undefaulted)}`);
        // Beside PolicyReport CRDs another tool installed (as Kyverno would; the audit test applies them too), then uninstalled.
        for (const crd of ['policyreports', 'clusterpolicyreports']) {
          const present = cluster.kubectl(
            'apply',
            '-f',
            join(ROOT, `deploy/components/policy-reports/wgpolicyk8s.io_${crd}.yaml`),
          );
          assert.equal(present.status, 0, explain(present));
        }
        const beside = helmRun(
          'install',
          'storage-policy-webhook',
          join(ROOT, 'deploy/chart'),
          '--namespace',
          'storage-policy-webhook',
          '--set',
          'policyReports.enabled=true',
        );
        assert.equal(beside.status, 0, beside.stderr);
        assert.equal(helmRun('uninstall', 'storage-policy-webhook', '--namespace', 'storage-policy-webhook').status, 0);
        assert.equal(cluster.kubectl('get', 'crd', 'policyreports.wgpolicyk8s.io').status, 0, 'the shared CRD stays');
      });
    },
  );
}
