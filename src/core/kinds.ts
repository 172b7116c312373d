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
}

interface KindEntry {
  group: string;
  version: string;
  /** The plural resource name, as in a REST path and in RBAC. */
  resource: string;
  scope: Scope;
  /** The cluster cache lists and watches it (and the ClusterRole grants list and watch, nothing more). */
  cached: boolean;
  /** Present for the kinds the webhook judges. */
  admission?: Admission;
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
    },
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

/** The governed kind of a manifest, by apiVersion group and kind. */
export function governedKindOfManifest(object: unknown): GovernedKind | undefined {
  const apiVersion = stringAt(object, 'apiVersion') ?? '';
  return governedKindOf(
    apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '',
    stringAt(object, 'kind') ?? '',
  );
}
