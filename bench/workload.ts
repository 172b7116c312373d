import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import type { AdmissionRequest } from '../src/admission/protocol.js';
import { stringAt, type JsonObject } from '../src/core/json.js';
import { makeCertificateAuthority, makeServingCertificate } from '../src/server/tls.js';
import { pvc as fixturePvc, statefulSet as fixtureStatefulSet, template } from '../test/helpers.js';
import type { Request } from './load.js';

// The requests every server of the bench answers, built with the same fixtures the tests use.

/** The workload, built with the same fixtures the tests use. */
export const pvc = (namespace: string, name: string): JsonObject =>
  fixturePvc({ resources: { requests: { storage: '100Gi' } } }, { name, namespace });
const statefulSet = (replicas: number, classes: boolean): JsonObject => {
  const storageClass: JsonObject = classes ? { storageClassName: 'io1-legacy' } : {};
  const templates = [
    ['data', '200Gi'],
    ['logs', '50Gi'],
    ['cache', '10Gi'],
  ].map(([name, size]) => template(name ?? '', { resources: { requests: { storage: size ?? '' } }, ...storageClass }));
  return fixtureStatefulSet(templates, {}, replicas, { name: 'kafka', namespace: 'payments' });
};
const io2Class: JsonObject = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'io2-fast' },
  provisioner: 'ebs.csi.aws.com',
  volumeBindingMode: 'WaitForFirstConsumer',
  parameters: { type: 'io2', iopsPerGB: '200' },
};

let uid = 0;
/** The AdmissionReview request the API server sends for this object (namespace payments unless cluster-scoped). */
export function admissionRequest(
  object: JsonObject,
  operation: 'CREATE' | 'UPDATE' = 'CREATE',
  oldObject?: JsonObject,
): AdmissionRequest {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const group = kind === 'StatefulSet' ? 'apps' : kind === 'StorageClass' ? 'storage.k8s.io' : '';
  uid += 1;
  return {
    uid: `bench-${uid}`,
    kind: { group, version: 'v1', kind },
    resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
    ...(kind === 'StorageClass' ? {} : { namespace: 'payments' }),
    name: stringAt(object, 'metadata', 'name') ?? '',
    operation,
    userInfo: { username: 'bench' },
    object,
    oldObject: oldObject ?? null,
    dryRun: false,
  };
}

function review(object: JsonObject, operation: 'CREATE' | 'UPDATE' = 'CREATE', oldObject?: JsonObject): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: admissionRequest(object, operation, oldObject),
  });
}

/** The mix: each object goes to /mutate then /validate, as the API server sends it. */
export const MIX: Request[] = (
  [
    ['/mutate', review(pvc('payments', 'orders'))],
    [
      '/validate',
      review({
        ...pvc('payments', 'orders'),
        spec: { ...(pvc('payments', 'orders')['spec'] as JsonObject), storageClassName: 'gp3' },
      }),
    ],
    ['/mutate', review(statefulSet(3, false))],
    ['/validate', review(statefulSet(3, false))],
    ['/mutate', review(io2Class)],
    ['/validate', review(io2Class)],
    ['/mutate', review(statefulSet(5, true), 'UPDATE', statefulSet(3, true))],
    ['/validate', review(statefulSet(5, true), 'UPDATE', statefulSet(3, true))],
  ] as const
).map(([path, body]) => ({ path, body, length: Buffer.byteLength(body) }));

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------- the cluster: 100 policies, 10,000 claims, 1,000 StatefulSets

const TEAMS = 98;
function teamPolicy(index: number): object {
  return {
    apiVersion: 'storage-policy-webhook.io/v1alpha1',
    kind: 'StoragePolicy',
    metadata: {
      name: `team-${index}`,
      annotations: { 'storage-policy-webhook.io/owner': `team-${index}@example.com` },
    },
    spec: {
      match: { namespaces: [`team-${index}`], kinds: ['PersistentVolumeClaim', 'StatefulSet'] },
      storageClasses: { allowed: ['gp3', 'io2-high-iops', 'efs'] },
      accessModes: { unknownProvisioner: 'warn' },
      iops: { maxPerVolume: 20000 + index, maxPerNamespace: 200000 },
      capacity: { max: '2Ti' },
    },
  };
}

/** What the loopback API server lists and the bare-engine server reads as inventory: the same objects. */
export function clusterObjects(claims: number, statefulSets: number): JsonObject[] {
  const classes = parseAllDocuments(readFileSync(join(ROOT, 'examples/cluster/storageclasses.yaml'), 'utf8')).map(
    (document) => document.toJS() as JsonObject,
  );
  const objects: JsonObject[] = [...classes];
  const namespaces = ['payments', ...Array.from({ length: TEAMS }, (_, index) => `team-${index}`)];
  for (const name of namespaces)
    objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { team: name } } });
  ['us-east-1a', 'us-east-1b', 'us-east-1c'].forEach((zone, index) =>
    objects.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: `node-${index}`, labels: { 'topology.kubernetes.io/zone': zone } },
    }),
  );
  for (let index = 0; index < claims; index += 1) {
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: `claim-${index}`,
        namespace: namespaces[index % namespaces.length] ?? 'payments',
        uid: `claim-uid-${index}`,
      },
      spec: {
        storageClassName: index % 3 === 0 ? 'io2-high-iops' : 'gp3',
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: `${(index % 50) + 1}Gi` } },
      },
      status: { phase: 'Bound' },
    });
  }
  for (let index = 0; index < statefulSets; index += 1) {
    const sts = fixtureStatefulSet([template('data', { storageClassName: 'gp3' })], {}, 3, {
      name: `sts-${index}`,
      namespace: namespaces[index % namespaces.length] ?? 'payments',
    });
    objects.push(sts);
  }
  return objects;
}

export async function writeFixtures(
  dir: string,
  objects: JsonObject[],
): Promise<{ policies: string; inventory: string; storageClasses: JsonObject[] }> {
  const policies = join(dir, 'policies');
  await mkdir(policies);
  for (const file of ['platform-storage.yaml', 'storage-class-guardrails.yaml'])
    await writeFile(join(policies, file), readFileSync(join(ROOT, 'policies', file)));
  for (let index = 0; index < TEAMS; index += 1)
    await writeFile(join(policies, `team-${index}.yaml`), stringify(teamPolicy(index)));
  const inventory = join(dir, 'inventory.json');
  await writeFile(inventory, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  return { policies, inventory, storageClasses: objects.filter((object) => object['kind'] === 'StorageClass') };
}

/** The heap flags deploy/deployment.yaml gives the webhook, so the bench's servers run as production does. */
export function deployNodeOptions(): string {
  return (
    /NODE_OPTIONS\s+value: (.*)/.exec(readFileSync(join(ROOT, 'deploy/deployment.yaml'), 'utf8'))?.[1]?.trim() ?? ''
  );
}

/** A CA and a serving certificate for 127.0.0.1, written to DIR/tls.crt and DIR/tls.key. */
export async function writeServingCertificate(
  dir: string,
): Promise<{ ca: Awaited<ReturnType<typeof makeCertificateAuthority>>; cert: string; key: string }> {
  const ca = await makeCertificateAuthority('bench CA');
  const serving = await makeServingCertificate(['127.0.0.1'], ca);
  const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  await writeFile(files.cert, serving.cert);
  await writeFile(files.key, serving.key);
  return { ca, ...files };
}
