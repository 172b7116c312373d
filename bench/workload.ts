import type { JsonObject } from '../src/core/json.js';
import { pvc as fixturePvc, statefulSet as fixtureStatefulSet, template } from '../test/helpers.js';
import type { Request } from './load.js';

// The requests every server of the bench answers, built with the same fixtures the tests use.

/** The workload, built with the same fixtures the tests use. */
export const pvc = (namespace: string, name: string): JsonObject => fixturePvc({ resources: { requests: { storage: '100Gi' } } }, { name, namespace });
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
function review(object: JsonObject, operation: 'CREATE' | 'UPDATE' = 'CREATE', oldObject?: JsonObject): string {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const group = kind === 'StatefulSet' ? 'apps' : kind === 'StorageClass' ? 'storage.k8s.io' : '';
  uid += 1;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `bench-${uid}`,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
      ...(kind === 'StorageClass' ? {} : { namespace: 'payments' }),
      name: (object['metadata'] as JsonObject)['name'],
      operation,
      userInfo: { username: 'bench' },
      object,
      oldObject: oldObject ?? null,
      dryRun: false,
    },
  });
}

/** The mix: each object goes to /mutate then /validate, as the API server sends it. */
export const MIX: Request[] = [
  { path: '/mutate', body: review(pvc('payments', 'orders')) },
  { path: '/validate', body: review({ ...pvc('payments', 'orders'), spec: { ...(pvc('payments', 'orders')['spec'] as JsonObject), storageClassName: 'gp3' } }) },
  { path: '/mutate', body: review(statefulSet(3, false)) },
  { path: '/validate', body: review(statefulSet(3, false)) },
  { path: '/mutate', body: review(io2Class) },
  { path: '/validate', body: review(io2Class) },
  { path: '/mutate', body: review(statefulSet(5, true), 'UPDATE', statefulSet(3, true)) },
  { path: '/validate', body: review(statefulSet(5, true), 'UPDATE', statefulSet(3, true)) },
];
