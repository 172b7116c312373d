import type { JsonObject } from '../core/json.js';
import type { PersistentVolumeInfo } from '../core/volumes.js';
import type { ClaimTemplateShape } from '../core/statefulset-claims.js';
import type { AttributesClassInfo, StorageClassInfo } from '../core/storage.js';

/** An answer the cluster data may not be able to give; `reason` says why, for the message. */
export type Lookup<T> = { known: true; value: T } | { known: false; reason: string };

export const known = <T>(value: T): Lookup<T> => ({ known: true, value });
export const unknown = <T>(reason: string): Lookup<T> => ({ known: false, reason });

/** What a clone needs to know of an existing claim. */
export interface ClaimSummary {
  className: string | undefined;
  requestBytes: number | undefined;
  volumeMode: 'Filesystem' | 'Block';
}

/** What a restore needs to know of a VolumeSnapshot; either is undefined until the snapshot controller sets it. */
export interface SnapshotSummary {
  restoreBytes: number | undefined;
  /** The CSI driver of the VolumeSnapshotContent the snapshot is bound to. */
  driver: string | undefined;
}

/** An existing claim as a cost needs it: its class and VolumeAttributesClass as the cache has them, and its size. */
interface ExistingVolume {
  name: string;
  storageClass: StorageClassInfo | undefined;
  attributesClass: AttributesClassInfo | undefined;
  requestBytes: number | undefined;
}

/** What one existing claim counts for in a namespace total (IOPS, MiB/s, money); the same function each time, so totals are memoised. */
export type VolumeMeasure = (volume: ExistingVolume) => number;

/**
 * What rules may ask of the cluster. The live informer cache and the offline inventory both answer
 * it from memory, synchronously, so rule evaluation stays pure and fast.
 */
export interface ClusterLookup {
  /** undefined value: the cluster has no class of that name. */
  storageClass(name: string): Lookup<StorageClassInfo | undefined>;
  storageClasses(): Lookup<StorageClassInfo[]>;
  /** undefined value: the cluster has no VolumeAttributesClass of that name. */
  attributesClass(name: string): Lookup<AttributesClassInfo | undefined>;
  /** undefined value: no such namespace. */
  namespaceLabels(namespace: string): Lookup<Record<string, string> | undefined>;
  /** A measure summed over the namespace's existing claims, leaving out the named claims (the ones being written). */
  namespaceTotal(namespace: string, exclude: ReadonlySet<string>, measure: VolumeMeasure): Lookup<number>;
  /** Zones that have at least one node (topology.kubernetes.io/zone); an empty list means no zoned node is known. */
  nodeZones(): Lookup<string[]>;
  /** An existing claim; undefined value: no such claim. */
  claim(namespace: string, name: string): Lookup<ClaimSummary | undefined>;
  /** A PersistentVolume by name, as a claim pre-bound to it needs it; undefined value: no such volume (yet). */
  volume(name: string): Lookup<PersistentVolumeInfo | undefined>;
  /** A VolumeSnapshot a restore names; undefined value: no such snapshot. */
  snapshot(namespace: string, name: string): Lookup<SnapshotSummary | undefined>;
  /** A StatefulSet as the rules read it (core/subjects.ts), to judge a scale; undefined value: no such StatefulSet. */
  statefulSet(namespace: string, name: string): Lookup<JsonObject | undefined>;
  /** The volumeClaimTemplates of a StatefulSet, by template name; undefined value: no such StatefulSet. */
  statefulSetTemplates(namespace: string, name: string): Lookup<ReadonlyMap<string, ClaimTemplateShape> | undefined>;
}

/** Offline with no inventory: every lookup is unknown, and policies' lookupFailure decides. */
export const NO_CLUSTER: ClusterLookup = {
  storageClass: () => unknown('no cluster cache or inventory is configured'),
  storageClasses: () => unknown('no cluster cache or inventory is configured'),
  attributesClass: () => unknown('no cluster cache or inventory is configured'),
  namespaceLabels: () => unknown('no cluster cache or inventory is configured'),
  namespaceTotal: () => unknown('no cluster cache or inventory is configured'),
  nodeZones: () => unknown('no cluster cache or inventory is configured'),
  statefulSetTemplates: () => unknown('no cluster cache or inventory is configured'),
  claim: () => unknown('no cluster cache or inventory is configured'),
  snapshot: () => unknown('no cluster cache or inventory is configured'),
  statefulSet: () => unknown('no cluster cache or inventory is configured'),
  volume: () => unknown('no cluster cache or inventory is configured'),
};
