import { stringAt } from './json.js';

// The one table of the kinds this project knows: how the API server serves each (group, version, resource,
// scope), whether the cluster cache lists and watches it, and, for the kinds the webhook judges, the operations
// it is registered for, where its patches may write, and whether the audit reports it. Everything that used to
// list kinds by hand derives from here: the policy index's split by scope, the webhook configurations' rules,
// the cache's resources and the state's stores, the inventory, the audit, and the RBAC (held by a unit test).

type Scope = 'Namespaced' | 'Cluster';

interface Admission {
  /** The operations the webhook configurations send. */
  operations: readonly ('CREATE' | 'UPDATE')[];
  /** JSON Pointer prefixes a patch may write, per operation (engine.patchAllowed). */
  writable: { create: readonly string[]; update: readonly string[] };
  /** The background audit judges the existing objects of this kind (needs cached). */
  audited: boolean;
  /**
   * UPDATEs of the scale subresource (`kubectl scale`, autoscalers) are sent to the validating webhook and judged as
   * the cached object with its new replicas: a scale-up past a budget is refused where the person scales.
   */
  scale?: boolean;
}

interface KindEntry {
  group: string;
  version: string;
  /** The plural resource name, as in a REST path and in RBAC. */
  resource: string;
  scope: Scope;
  /** The cluster cache lists and watches it (and the ClusterRole grants list and watch, nothing more). */
  cached: boolean;
  /**
   * Served only where its CustomResourceDefinitions are installed (not by kube-apiserver itself): where they are not,
   * the cache reads the kind as absent, keeps checking, and lookups of it are unknown (lookupFailure decides).
   */
  fromCrd?: boolean;
  /**
   * Cached for the audit alone: no lookup reads it, so neither readiness nor the lookups wait for it, and a cluster
   * that refuses to list it (RBAC not yet updated) costs the audit of that kind, never an admission.
   */
  auditOnly?: boolean;
  /** Present for the kinds the webhook judges. */
  admission?: Admission;
  /**
   * Where the kind carries a pod spec, whose generic ephemeral volumes (volumes[].ephemeral.volumeClaimTemplate)
   * become claims: the ephemeral-volume controller creates `<pod>-<volume>` for each pod.
   */
  podSpec?: readonly string[];
}

/**
 * Where this webhook may write, per governed kind, follows what the API server lets an UPDATE change
 * (kubernetes/kubernetes pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate, apps
 * ValidateStatefulSetUpdate, storage ValidateStorageClassUpdate). StatefulSet volumeClaimTemplates are never
 * written, not even on CREATE: a field written there belongs to nobody's manifest, and the next `kubectl apply`
 * of that manifest would remove it from an immutable field and be refused (docs/reapply.md). PVC spec is written
 * on CREATE only; on UPDATE only what restores oldObject.
 */
const KIND_TABLE = {
  PersistentVolumeClaim: {
    group: '',
    version: 'v1',
    resource: 'persistentvolumeclaims',
    scope: 'Namespaced',
    cached: true,
    admission: {
      operations: ['CREATE', 'UPDATE'],
      writable: { create: ['/metadata', '/spec'], update: ['/metadata', '/spec/storageClassName'] },
      audited: true,
    },
  },
  StatefulSet: {
    group: 'apps',
    version: 'v1',
    resource: 'statefulsets',
    scope: 'Namespaced',
    // Its templates tell the claims the StatefulSet controller creates for an existing StatefulSet.
    cached: true,
    admission: {
      operations: ['CREATE', 'UPDATE'],
      writable: { create: ['/metadata', '/spec/template'], update: ['/metadata', '/spec/template'] },
      audited: true,
      scale: true,
    },
    podSpec: ['spec', 'template', 'spec'],
  },
  StorageClass: {
    group: 'storage.k8s.io',
    version: 'v1',
    resource: 'storageclasses',
    scope: 'Cluster',
    cached: true,
    admission: {
      operations: ['CREATE', 'UPDATE'],
      writable: { create: ['/metadata', '/allowedTopologies'], update: ['/metadata', '/allowedTopologies'] },
      audited: true,
    },
  },
  VolumeAttributesClass: {
    group: 'storage.k8s.io',
    version: 'v1',
    resource: 'volumeattributesclasses',
    scope: 'Cluster',
    cached: true,
    admission: { operations: ['CREATE', 'UPDATE'], writable: { create: [], update: [] }, audited: true },
  },
  PersistentVolume: {
    group: '',
    version: 'v1',
    resource: 'persistentvolumes',
    scope: 'Cluster',
    // Listed and watched for the audit, which reports the statically provisioned ones.
    cached: true,
    // Never written: a volume is an administrator's statement of what exists.
    admission: { operations: ['CREATE', 'UPDATE'], writable: { create: [], update: [] }, audited: true },
  },
  // The kinds that carry a pod spec, judged for the claims their generic ephemeral volumes make and for their CSI
  // inline volumes. Never written: a template is its owner's manifest (re-apply safety, as for StatefulSet
  // templates), and a Pod's volumes are immutable. Sent only when they carry such volumes, and an UPDATE only when
  // the volumes changed (admission/match-conditions.ts), so ordinary pods and rollouts never reach the webhook.
  // The workloads people write (Deployments, DaemonSets, Jobs, CronJobs) are cached and audited, keeping only the ones
  // whose pod template carries such volumes (the audit drops the rest on arrival). Pods and ReplicaSets are neither:
  // controllers make nearly all of them from the audited workloads (judged there), and listing every Pod of a cluster
  // would cost the cache more than it tells.
  Pod: {
    group: '',
    version: 'v1',
    resource: 'pods',
    scope: 'Namespaced',
    cached: false,
    // spec.volumes of a Pod cannot change after CREATE (ValidatePodUpdate).
    admission: { operations: ['CREATE'], writable: { create: [], update: [] }, audited: false },
    podSpec: ['spec'],
  },
  Deployment: {
    group: 'apps',
    version: 'v1',
    resource: 'deployments',
    scope: 'Namespaced',
    cached: true,
    auditOnly: true,
    admission: { operations: ['CREATE', 'UPDATE'], writable: { create: [], update: [] }, audited: true },
    podSpec: ['spec', 'template', 'spec'],
  },
  ReplicaSet: {
    group: 'apps',
    version: 'v1',
    resource: 'replicasets',
    scope: 'Namespaced',
    cached: false,
    admission: { operations: ['CREATE', 'UPDATE'], writable: { create: [], update: [] }, audited: false },
    podSpec: ['spec', 'template', 'spec'],
  },
  DaemonSet: {
    group: 'apps',
    version: 'v1',
    resource: 'daemonsets',
    scope: 'Namespaced',
    cached: true,
    auditOnly: true,
    admission: { operations: ['CREATE', 'UPDATE'], writable: { create: [], update: [] }, audited: true },
    podSpec: ['spec', 'template', 'spec'],
  },
  Job: {
    group: 'batch',
    version: 'v1',
    resource: 'jobs',
    scope: 'Namespaced',
    cached: true,
    auditOnly: true,
    // A Job's pod template is immutable after CREATE (ValidateJobSpecUpdate), its volumes included.
    admission: { operations: ['CREATE'], writable: { create: [], update: [] }, audited: true },
    podSpec: ['spec', 'template', 'spec'],
  },
  CronJob: {
    group: 'batch',
    version: 'v1',
    resource: 'cronjobs',
    scope: 'Namespaced',
    cached: true,
    auditOnly: true,
    admission: { operations: ['CREATE', 'UPDATE'], writable: { create: [], update: [] }, audited: true },
    podSpec: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  },
  // The sources of restores (kubernetes-csi/external-snapshotter's CRDs): a snapshot's restoreSize, and the driver of
  // the content it is bound to.
  VolumeSnapshot: {
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    resource: 'volumesnapshots',
    scope: 'Namespaced',
    cached: true,
    fromCrd: true,
  },
  VolumeSnapshotContent: {
    group: 'snapshot.storage.k8s.io',
    version: 'v1',
    resource: 'volumesnapshotcontents',
    scope: 'Cluster',
    cached: true,
    fromCrd: true,
  },
  Namespace: { group: '', version: 'v1', resource: 'namespaces', scope: 'Cluster', cached: true },
  Node: { group: '', version: 'v1', resource: 'nodes', scope: 'Cluster', cached: true },
} as const satisfies Record<string, KindEntry>;

type Table = typeof KIND_TABLE;
type KnownKind = keyof Table;
/** The kinds the webhook judges: the entries with admission. */
export type GovernedKind = { [K in KnownKind]: Table[K] extends { admission: Admission } ? K : never }[KnownKind];
/** The kinds the cluster cache lists and watches. */
export type CachedKind = { [K in KnownKind]: Table[K] extends { cached: true } ? K : never }[KnownKind];

const KNOWN_KINDS = Object.keys(KIND_TABLE) as KnownKind[];

function entry(kind: KnownKind): KindEntry {
  return KIND_TABLE[kind];
}

function isGoverned(kind: KnownKind): kind is GovernedKind {
  return entry(kind).admission !== undefined;
}

export const GOVERNED_KINDS: readonly GovernedKind[] = KNOWN_KINDS.filter(isGoverned);
export const CACHED_KINDS: readonly CachedKind[] = KNOWN_KINDS.filter((kind): kind is CachedKind => entry(kind).cached);
export const AUDITED_KINDS: readonly GovernedKind[] = GOVERNED_KINDS.filter(
  (kind) => admissionOf(kind).audited && entry(kind).cached,
);

/** The kinds that carry a pod spec. */
export const POD_SPEC_KINDS: readonly GovernedKind[] = GOVERNED_KINDS.filter(
  (kind) => entry(kind).podSpec !== undefined,
);

/** The kinds whose objects make claims: a PersistentVolumeClaim is one, the others carry templates of them. */
export const CLAIM_KINDS: readonly GovernedKind[] = GOVERNED_KINDS.filter(
  (kind) => kind === 'PersistentVolumeClaim' || entry(kind).podSpec !== undefined,
);

/** The kinds whose claims are templates, made later by a controller (the StatefulSet or the ephemeral-volume controller). */
export const TEMPLATE_KINDS: readonly GovernedKind[] = CLAIM_KINDS.filter((kind) => kind !== 'PersistentVolumeClaim');

/** The path of the kind's pod spec, when it carries one. */
export function podSpecOf(kind: KnownKind): readonly string[] | undefined {
  return entry(kind).podSpec;
}

/** Whether the mutating webhook is sent the kind: only kinds a patch may write somewhere. */
export function isMutable(kind: GovernedKind): boolean {
  const { writable } = admissionOf(kind);
  return writable.create.length > 0 || writable.update.length > 0;
}

function admissionOf(kind: GovernedKind): Admission {
  const admission = entry(kind).admission;
  if (!admission) throw new Error(`${kind} is not governed`);
  return admission;
}

export function groupOf(kind: KnownKind): string {
  return entry(kind).group;
}

/** Cluster-scoped kinds: namespace criteria of a policy do not apply to them. */
export function isClusterScoped(kind: KnownKind): boolean {
  return entry(kind).scope === 'Cluster';
}

/** Whether the kind is served only where its CRDs are installed. */
export function isAuditOnly(kind: KnownKind): boolean {
  return entry(kind).auditOnly === true;
}

export function isFromCrd(kind: KnownKind): boolean {
  return entry(kind).fromCrd === true;
}

export function isCachedKind(kind: string): kind is CachedKind {
  return (CACHED_KINDS as readonly string[]).includes(kind);
}

export function isAuditedKind(kind: string): kind is GovernedKind {
  return (AUDITED_KINDS as readonly string[]).includes(kind);
}

/** The apiVersion objects of the kind carry: `v1`, `apps/v1`. */
export function apiVersionOf(kind: KnownKind): string {
  const { group, version } = entry(kind);
  return group === '' ? version : `${group}/${version}`;
}

/** The REST path that lists the kind across namespaces. */
export function listPathOf(kind: KnownKind): string {
  const { group, version, resource } = entry(kind);
  return group === '' ? `/api/${version}/${resource}` : `/apis/${group}/${version}/${resource}`;
}

export function resourceOf(kind: KnownKind): { group: string; version: string; resource: string; scope: Scope } {
  const { group, version, resource, scope } = entry(kind);
  return { group, version, resource, scope };
}

/** Whether the kind's scale subresource is judged. */
export function isScaleJudged(kind: GovernedKind): boolean {
  return admissionOf(kind).scale === true;
}

export function operationsOf(kind: GovernedKind): readonly ('CREATE' | 'UPDATE')[] {
  return admissionOf(kind).operations;
}

export function writablePrefixes(kind: GovernedKind, operation: 'CREATE' | 'UPDATE'): readonly string[] {
  const { writable } = admissionOf(kind);
  return operation === 'CREATE' ? writable.create : writable.update;
}

/** The governed kind of an object by API group and kind, as the API server would route it. */
export function governedKindOf(group: string, kind: string): GovernedKind | undefined {
  return GOVERNED_KINDS.find((known) => known === kind && groupOf(known) === group);
}

/** The governed kind served at a resource (`apps`, `statefulsets`), as an admission request names it. */
export function governedKindOfResource(group: string, resource: string): GovernedKind | undefined {
  return GOVERNED_KINDS.find((known) => groupOf(known) === group && entry(known).resource === resource);
}

/** The governed kind of a manifest, by apiVersion group and kind. */
export function governedKindOfManifest(object: unknown): GovernedKind | undefined {
  const apiVersion = stringAt(object, 'apiVersion') ?? '';
  return governedKindOf(
    apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '',
    stringAt(object, 'kind') ?? '',
  );
}
