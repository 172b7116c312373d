import { arrayAt, isObject, stringAt, stringMapAt, type JsonObject } from '../core/json.js';
import { trimmedSubjectOf } from '../core/subjects.js';
import { readPersistentVolume, type PersistentVolumeInfo } from '../core/volumes.js';
import { claimTemplateShape, type ClaimTemplateShape } from '../core/statefulset-claims.js';
import {
  claimsOf,
  readAttributesClass,
  readStorageClass,
  type AttributesClassInfo,
  type StorageClassInfo,
} from '../core/storage.js';
import type { CachedKind } from '../core/kinds.js';
import { DEPRECATED_ZONE_LABEL, ZONE_LABEL } from '../core/topology.js';
import { parseQuantity } from '../core/quantity.js';
import {
  known,
  unknown,
  type ClaimSummary,
  type ClusterLookup,
  type VolumeMeasure,
  type Lookup,
  type SnapshotSummary,
} from './lookup.js';

/** What a restore needs of a VolumeSnapshot: its restoreSize, and the content it is bound to (for the driver). */
interface SnapshotRecord {
  restoreBytes: number | undefined;
  contentName: string | undefined;
}

function snapshotRecordOf(object: unknown): SnapshotRecord {
  const restoreSize = stringAt(object, 'status', 'restoreSize');
  return {
    restoreBytes: restoreSize === undefined ? undefined : parseQuantity(restoreSize),
    contentName:
      stringAt(object, 'status', 'boundVolumeSnapshotContentName') ??
      stringAt(object, 'spec', 'source', 'volumeSnapshotContentName'),
  };
}

/** The fields of an existing claim the IOPS budget needs, and nothing more. */
interface ClaimRecord {
  namespace: string;
  name: string;
  className: string | undefined;
  attributesClassName: string | undefined;
  requestBytes: number | undefined;
  volumeMode: 'Filesystem' | 'Block';
}

function claimRecordOf(object: unknown): ClaimRecord | undefined {
  const namespace = stringAt(object, 'metadata', 'namespace');
  const name = stringAt(object, 'metadata', 'name');
  if (namespace === undefined || name === undefined) return undefined;
  const [claim] = claimsOf('PersistentVolumeClaim', object);
  // A bound claim provisions what its class says; the bound volume's class field is the same.
  const className = claim?.className || stringAt(object, 'spec', 'storageClassName') || undefined;
  return {
    namespace,
    name,
    className,
    attributesClassName: claim?.attributesClassName,
    requestBytes: claim?.requestBytes,
    volumeMode: claim?.volumeMode ?? 'Filesystem',
  };
}

interface KindStore {
  upsert(object: unknown): void;
  remove(namespace: string, name: string): void;
  clear(): void;
}

/**
 * Cluster objects indexed the way rules ask for them: classes by name, namespaces by name, claims by
 * namespace. Per-namespace IOPS sums are memoised and dropped when a claim of that namespace or any
 * class changes, so a request costs a map lookup, not a scan.
 */
/** The store of a kind the cache watches for the audit only: the state keeps nothing of it. */
const NOT_KEPT: KindStore = { upsert: () => undefined, remove: () => undefined, clear: () => undefined };

export class ClusterState implements ClusterLookup {
  private readonly classes = new Map<string, StorageClassInfo>();
  private readonly attributesClasses = new Map<string, AttributesClassInfo>();
  private readonly namespaces = new Map<string, Record<string, string>>();
  /** Zone of each node that has one; kept as node -> zone so updates and deletes stay exact. */
  private readonly nodes = new Map<string, string>();
  private readonly claims = new Map<string, Map<string, ClaimRecord>>();
  /** Each StatefulSet trimmed to what the rules read (namespace -> name): to recognise the claims its controller creates and to judge a scale. */
  private readonly statefulSets = new Map<string, Map<string, JsonObject>>();
  private readonly snapshots = new Map<string, Map<string, SnapshotRecord>>();
  private readonly volumes = new Map<string, PersistentVolumeInfo>();
  /** The CSI driver of each VolumeSnapshotContent. */
  private readonly snapshotContents = new Map<string, string>();
  /** Kinds served by CRDs that the cluster does not have (the cache found no such resource). */
  private readonly absent = new Set<CachedKind>();
  /** Per namespace and measure, the memoised sum over its claims and each claim's part (dropped when they change). */
  private readonly totalsByNamespace = new Map<
    string,
    Map<VolumeMeasure, { total: number; perClaim: Map<string, number> }>
  >();
  private unavailableReason: string | undefined;

  constructor(unavailableReason?: string) {
    this.unavailableReason = unavailableReason;
  }

  /** While set (cache not yet synced, watch lost), every lookup answers unknown with this reason. */
  setUnavailable(reason: string | undefined): void {
    this.unavailableReason = reason;
  }

  /** A kind served by CRDs is not installed (or is again): lookups of it answer unknown while absent. */
  setAbsent(kind: CachedKind, absent: boolean): void {
    if (absent) this.absent.add(kind);
    else this.absent.delete(kind);
  }

  get size(): { storageClasses: number; namespaces: number; claims: number } {
    let claims = 0;
    for (const byName of this.claims.values()) claims += byName.size;
    return { storageClasses: this.classes.size, namespaces: this.namespaces.size, claims };
  }

  upsertStorageClass(object: unknown): void {
    const info = readStorageClass(object);
    if (info.name === '') return;
    this.classes.set(info.name, info);
    this.totalsByNamespace.clear();
  }

  upsertAttributesClass(object: unknown): void {
    const info = readAttributesClass(object);
    this.attributesClasses.set(info.name, info);
    // A claim's quote follows its VolumeAttributesClass's parameters.
    this.totalsByNamespace.clear();
  }

  deleteAttributesClass(name: string): void {
    this.attributesClasses.delete(name);
    this.totalsByNamespace.clear();
  }

  attributesClass(name: string): Lookup<AttributesClassInfo | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known(this.attributesClasses.get(name));
  }

  deleteStorageClass(name: string): void {
    this.classes.delete(name);
    this.totalsByNamespace.clear();
  }

  upsertNamespace(object: unknown): void {
    const name = stringAt(object, 'metadata', 'name');
    if (name !== undefined) this.namespaces.set(name, stringMapAt(object, 'metadata', 'labels'));
  }

  deleteNamespace(name: string): void {
    this.namespaces.delete(name);
  }

  upsertNode(object: unknown): void {
    const name = stringAt(object, 'metadata', 'name');
    if (name === undefined) return;
    const labels = stringMapAt(object, 'metadata', 'labels');
    const zone = labels[ZONE_LABEL] ?? labels[DEPRECATED_ZONE_LABEL];
    if (zone === undefined) this.nodes.delete(name);
    else this.nodes.set(name, zone);
  }

  deleteNode(name: string): void {
    this.nodes.delete(name);
  }

  upsertClaim(object: unknown): void {
    const record = claimRecordOf(object);
    if (!record) return;
    let byName = this.claims.get(record.namespace);
    if (!byName) {
      byName = new Map();
      this.claims.set(record.namespace, byName);
    }
    byName.set(record.name, record);
    this.totalsByNamespace.delete(record.namespace);
  }

  deleteClaim(namespace: string, name: string): void {
    this.claims.get(namespace)?.delete(name);
    this.totalsByNamespace.delete(namespace);
  }

  upsertStatefulSet(object: unknown): void {
    const namespace = stringAt(object, 'metadata', 'namespace');
    const name = stringAt(object, 'metadata', 'name');
    if (namespace === undefined || name === undefined || !isObject(object)) return;
    let byName = this.statefulSets.get(namespace);
    if (!byName) {
      byName = new Map();
      this.statefulSets.set(namespace, byName);
    }
    byName.set(name, trimmedSubjectOf(object));
  }

  deleteStatefulSet(namespace: string, name: string): void {
    this.statefulSets.get(namespace)?.delete(name);
  }

  statefulSet(namespace: string, name: string): Lookup<JsonObject | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known(this.statefulSets.get(namespace)?.get(name));
  }

  /** Derived from the kept StatefulSet when asked: only a claim the StatefulSet controller creates needs them. */
  statefulSetTemplates(namespace: string, name: string): Lookup<ReadonlyMap<string, ClaimTemplateShape> | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    const subject = this.statefulSets.get(namespace)?.get(name);
    if (!subject) return known(undefined);
    const templates = new Map<string, ClaimTemplateShape>();
    for (const template of arrayAt(subject, 'spec', 'volumeClaimTemplates') ?? []) {
      const templateName = stringAt(template, 'metadata', 'name');
      if (templateName !== undefined) templates.set(templateName, claimTemplateShape(template));
    }
    return known(templates);
  }

  /**
   * How each cached kind is kept: a kind the table marks cached and that has no store here fails to compile, so the
   * cache, the inventory and the state cannot drift apart.
   */
  private readonly stores: Record<CachedKind, KindStore> = {
    StorageClass: {
      upsert: (object) => this.upsertStorageClass(object),
      remove: (_namespace, name) => this.deleteStorageClass(name),
      clear: () => this.classes.clear(),
    },
    VolumeAttributesClass: {
      upsert: (object) => this.upsertAttributesClass(object),
      remove: (_namespace, name) => this.deleteAttributesClass(name),
      clear: () => this.attributesClasses.clear(),
    },
    Namespace: {
      upsert: (object) => this.upsertNamespace(object),
      remove: (_namespace, name) => this.deleteNamespace(name),
      clear: () => this.namespaces.clear(),
    },
    Node: {
      upsert: (object) => this.upsertNode(object),
      remove: (_namespace, name) => this.deleteNode(name),
      clear: () => this.nodes.clear(),
    },
    PersistentVolumeClaim: {
      upsert: (object) => this.upsertClaim(object),
      remove: (namespace, name) => this.deleteClaim(namespace, name),
      clear: () => this.claims.clear(),
    },
    VolumeSnapshot: {
      upsert: (object) => {
        const namespace = stringAt(object, 'metadata', 'namespace');
        const name = stringAt(object, 'metadata', 'name');
        if (namespace === undefined || name === undefined) return;
        let byName = this.snapshots.get(namespace);
        if (!byName) {
          byName = new Map();
          this.snapshots.set(namespace, byName);
        }
        byName.set(name, snapshotRecordOf(object));
      },
      remove: (namespace, name) => this.snapshots.get(namespace)?.delete(name),
      clear: () => this.snapshots.clear(),
    },
    VolumeSnapshotContent: {
      upsert: (object) => {
        const name = stringAt(object, 'metadata', 'name');
        const driver = stringAt(object, 'spec', 'driver');
        if (name !== undefined && driver !== undefined) this.snapshotContents.set(name, driver);
      },
      remove: (_namespace, name) => this.snapshotContents.delete(name),
      clear: () => this.snapshotContents.clear(),
    },
    // What a claim pre-bound to a volume is checked against (the audit takes volumes from the cache's events).
    PersistentVolume: {
      upsert: (object) => {
        const volume = readPersistentVolume(object);
        if (volume.name) this.volumes.set(volume.name, volume);
      },
      remove: (_namespace, name) => this.volumes.delete(name),
      clear: () => this.volumes.clear(),
    },
    StatefulSet: {
      upsert: (object) => this.upsertStatefulSet(object),
      remove: (namespace, name) => this.deleteStatefulSet(namespace, name),
      clear: () => this.statefulSets.clear(),
    },
    // Cached for the audit alone (it takes them from the cache's events): no rule looks a workload up.
    Deployment: NOT_KEPT,
    DaemonSet: NOT_KEPT,
    Job: NOT_KEPT,
    CronJob: NOT_KEPT,
  };

  upsert(kind: CachedKind, object: unknown): void {
    this.stores[kind].upsert(object);
  }

  remove(kind: CachedKind, namespace: string, name: string): void {
    this.stores[kind].remove(namespace, name);
  }

  /** Replaces everything of one kind, as a fresh informer list does. */
  replaceAll(kind: CachedKind, objects: unknown[]): void {
    const store = this.stores[kind];
    store.clear();
    objects.forEach((object) => store.upsert(object));
    this.totalsByNamespace.clear();
  }

  claim(namespace: string, name: string): Lookup<ClaimSummary | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known(this.claims.get(namespace)?.get(name));
  }

  volume(name: string): Lookup<PersistentVolumeInfo | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known(this.volumes.get(name));
  }

  snapshot(namespace: string, name: string): Lookup<SnapshotSummary | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    if (this.absent.has('VolumeSnapshot') || this.absent.has('VolumeSnapshotContent'))
      return unknown('the cluster has no VolumeSnapshot CRDs (snapshot.storage.k8s.io) installed');
    const record = this.snapshots.get(namespace)?.get(name);
    if (!record) return known(undefined);
    const driver = record.contentName === undefined ? undefined : this.snapshotContents.get(record.contentName);
    return known({ restoreBytes: record.restoreBytes, driver });
  }

  storageClass(name: string): Lookup<StorageClassInfo | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known(this.classes.get(name));
  }

  storageClasses(): Lookup<StorageClassInfo[]> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known([...this.classes.values()]);
  }

  namespaceLabels(namespace: string): Lookup<Record<string, string> | undefined> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known(this.namespaces.get(namespace));
  }

  nodeZones(): Lookup<string[]> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    return known([...new Set(this.nodes.values())].sort());
  }

  namespaceTotal(namespace: string, exclude: ReadonlySet<string>, measure: VolumeMeasure): Lookup<number> {
    if (this.unavailableReason) return unknown(this.unavailableReason);
    let byMeasure = this.totalsByNamespace.get(namespace);
    if (!byMeasure) {
      byMeasure = new Map();
      this.totalsByNamespace.set(namespace, byMeasure);
    }
    let sums = byMeasure.get(measure);
    if (!sums) {
      sums = { total: 0, perClaim: new Map() };
      for (const record of this.claims.get(namespace)?.values() ?? []) {
        const amount = measure({
          name: record.name,
          storageClass: record.className ? this.classes.get(record.className) : undefined,
          attributesClass: record.attributesClassName
            ? this.attributesClasses.get(record.attributesClassName)
            : undefined,
          requestBytes: record.requestBytes,
        });
        if (amount === 0) continue;
        sums.perClaim.set(record.name, amount);
        sums.total += amount;
      }
      byMeasure.set(measure, sums);
    }
    // The memoised total minus the claims being written: the cost follows the request, not the namespace.
    let total = sums.total;
    for (const name of exclude) total -= sums.perClaim.get(name) ?? 0;
    return known(total);
  }
}
