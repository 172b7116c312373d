import assert from 'node:assert/strict';
import jsonPatch from 'fast-json-patch';
import { Auditor } from '../src/audit/auditor.js';
import type { PolicyReport } from '../src/audit/reports.js';
import type { JsonObject, JsonValue } from '../src/core/json.js';
import type { PatchOperation } from '../src/core/patch.js';
import { Engine, type ResolvedFinding } from '../src/engine/engine.js';
import { decide, reviewInputOf, type Decision } from '../src/engine/pipeline.js';
import type { Operation } from '../src/rules/contract.js';
import { ClusterState } from '../src/lookup/cluster-state.js';
import { addToState } from '../src/lookup/inventory.js';
import type { ClusterLookup } from '../src/lookup/lookup.js';
import type { Policy } from '../src/policy/model.js';

export function policy(overrides: Partial<Policy> & { name?: string } = {}): Policy {
  return {
    name: 'test-policy',
    file: 'test.yaml',
    owner: undefined,
    priority: 0,
    action: 'deny',
    lookupFailure: 'warn',
    rules: {},
    ...overrides,
    match: { kinds: ['PersistentVolumeClaim', 'StatefulSet'], ...overrides.match },
  };
}

export function storageClass(name: string, provisioner: string, extra: JsonObject = {}): JsonObject {
  const { annotations, ...rest } = extra;
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, ...(annotations ? { annotations } : {}) },
    provisioner,
    ...rest,
  };
}

export function pvc(spec: JsonObject, metadata: JsonObject = {}): JsonObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', namespace: 'team-a', ...metadata },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, ...spec },
  };
}

export function statefulSet(
  templates: JsonObject[],
  podSpec: JsonObject = {},
  replicas = 3,
  identity = { name: 'web', namespace: 'team-a' },
): JsonObject {
  const { name, namespace } = identity;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, namespace },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'nginx' }], ...podSpec } },
      volumeClaimTemplates: templates,
    },
  };
}

export function template(name: string, spec: JsonObject = {}, metadata: JsonObject = {}): JsonObject {
  return {
    metadata: { name, ...metadata },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } }, ...spec },
  };
}

/**
 * A cluster with the common classes gp3, io1, io2 and efs, set up as docs/default-class.md recommends: no
 * class is the cluster default, so claims without a class reach the webhook unset.
 */
export function cluster(...extra: JsonObject[]): ClusterState {
  const state = new ClusterState();
  state.upsertStorageClass(
    storageClass('gp3', 'ebs.csi.aws.com', { parameters: { type: 'gp3' }, volumeBindingMode: 'WaitForFirstConsumer' }),
  );
  state.upsertStorageClass(
    storageClass('io1-slow', 'ebs.csi.aws.com', {
      parameters: { type: 'io1', iopsPerGB: '5' },
      volumeBindingMode: 'WaitForFirstConsumer',
    }),
  );
  state.upsertStorageClass(
    storageClass('io2', 'ebs.csi.aws.com', {
      parameters: { type: 'io2', iopsPerGB: '100' },
      volumeBindingMode: 'WaitForFirstConsumer',
    }),
  );
  state.upsertStorageClass(
    storageClass('efs', 'efs.csi.aws.com', {
      volumeBindingMode: 'Immediate',
      allowedTopologies: [
        { matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['zone-a', 'zone-b'] }] },
      ],
    }),
  );
  addToState(state, extra);
  return state;
}

export interface Judged {
  findings: ResolvedFinding[];
  denials: ResolvedFinding[];
  warnings: ResolvedFinding[];
  patch: PatchOperation[];
  /** The object after the patch, applied by fast-json-patch. */
  patched: JsonObject;
  verdict: Decision;
}

/**
 * Runs the review pipeline as the API server does (mutation, then validation of the result) and checks
 * that the patch applies, with a real JSON Patch library, to exactly the object that was validated.
 */
export function judge(
  policies: Policy[],
  object: JsonObject,
  options: {
    operation?: Operation;
    oldObject?: JsonObject;
    lookup?: ClusterLookup;
    namespace?: string;
    requester?: string;
  } = {},
): Judged {
  const engine = new Engine({ policies, lookup: options.lookup ?? cluster() });
  const input = reviewInputOf({
    object,
    operation: options.operation ?? 'CREATE',
    oldObject: options.oldObject,
    namespace: options.namespace,
    defaultNamespace: 'team-a',
    requester: options.requester,
  });
  assert.ok(input, `${JSON.stringify(object['kind'])} is not a governed kind`);
  const verdict = decide(engine, input, 'both');
  const errors = jsonPatch.validate(verdict.patch, structuredClone(object));
  assert.equal(errors, undefined, `patch must apply to the object: ${JSON.stringify(verdict.patch)}`);
  const patched = jsonPatch.applyPatch(structuredClone(object), verdict.patch, true, false).newDocument;
  assert.deepEqual(patched, verdict.object, 'the validated object is the patched one');
  const { findings } = verdict;
  return {
    findings,
    denials: findings.filter((finding) => finding.action === 'deny'),
    warnings: findings.filter((finding) => finding.action === 'warn'),
    patch: verdict.patch,
    patched,
    verdict,
  };
}

export function rulesOf(findings: ResolvedFinding[]): string[] {
  return findings.map((finding) => finding.rule).sort();
}

export function at(value: JsonValue, ...path: Array<string | number>): JsonValue | undefined {
  let current: JsonValue | undefined = value;
  for (const token of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) ? current[token as number] : current[token as string];
  }
  return current;
}

/** The reports of one full audit of these objects, through the path the server and the CLI take. */
export function auditReports(engine: Engine, objects: JsonObject[], now = new Date()): PolicyReport[] {
  const auditor = new Auditor({ keepResults: true });
  for (const object of objects) auditor.upsert(object);
  auditor.run(engine, now);
  return auditor.reports();
}
