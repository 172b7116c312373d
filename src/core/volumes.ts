import { arrayAt, isObject, objectAt, stringAt, stringMapAt, stringsOf, type JsonObject } from './json.js';
import { parseQuantity } from './quantity.js';
import { LEGACY_CLASS_ANNOTATION } from './storage.js';
import { DEPRECATED_ZONE_LABEL, ZONE_LABEL, ZONE_TOPOLOGY_KEYS } from './topology.js';

// A PersistentVolume read once per review: its volume source, access modes, size, reclaim policy, class and zones.

/** Written by external-provisioner (and the in-tree provisioners) on every volume it provisions for a claim. */
export const PROVISIONED_BY_ANNOTATION = 'pv.kubernetes.io/provisioned-by';

/**
 * The volume sources of a PersistentVolumeSpec (k8s.io/api core/v1 PersistentVolumeSource), by their field names.
 * A PV sets exactly one of them (the API server's validation refuses none or several).
 */
const VOLUME_SOURCES = [
  'awsElasticBlockStore',
  'azureDisk',
  'azureFile',
  'cephfs',
  'cinder',
  'csi',
  'fc',
  'flexVolume',
  'flocker',
  'gcePersistentDisk',
  'glusterfs',
  'hostPath',
  'iscsi',
  'local',
  'nfs',
  'photonPersistentDisk',
  'portworxVolume',
  'quobyte',
  'rbd',
  'scaleIO',
  'storageos',
  'vsphereVolume',
] as const;

type VolumeSource = (typeof VOLUME_SOURCES)[number];

export interface PersistentVolumeInfo {
  name: string;
  /** The source field the volume sets; undefined when none is recognised. */
  source: VolumeSource | undefined;
  /** spec.csi.driver of a CSI volume. */
  csiDriver: string | undefined;
  accessModes: string[];
  volumeMode: 'Filesystem' | 'Block';
  capacityText: string | undefined;
  capacityBytes: number | undefined;
  /** spec.persistentVolumeReclaimPolicy as written; the API server defaults an absent one to Retain. */
  reclaimPolicy: string | undefined;
  /** The class a claim must ask for to bind it (the legacy annotation wins); undefined or "" for none. */
  className: string | undefined;
  /** Where the class is written, for messages. */
  classPath: string;
  /** Zones the volume is restricted to (required nodeAffinity on a zone key, else the zone labels); undefined: none. */
  zones: string[] | undefined;
  /** Where those zones are written. */
  zonesPath: string;
  labels: Record<string, string>;
  /** Provisioned for a claim (external-provisioner's annotation): the claim was judged, not this volume. */
  provisioned: boolean;
}

/** Zones in the required nodeAffinity terms, on the zone keys; undefined when no term names a zone. */
function nodeAffinityZones(spec: unknown): string[] | undefined {
  const terms = arrayAt(spec, 'nodeAffinity', 'required', 'nodeSelectorTerms') ?? [];
  const zones = new Set<string>();
  let restricted = false;
  for (const term of terms) {
    for (const expression of arrayAt(term, 'matchExpressions') ?? []) {
      const key = stringAt(expression, 'key') ?? '';
      if (!ZONE_TOPOLOGY_KEYS.has(key) || stringAt(expression, 'operator') !== 'In') continue;
      restricted = true;
      for (const zone of stringsOf(arrayAt(expression, 'values'))) zones.add(zone);
    }
  }
  return restricted ? [...zones].sort() : undefined;
}

/** A PersistentVolume a provisioner made for a claim. */
export function isProvisionedVolume(object: unknown): boolean {
  return (
    stringAt(object, 'kind') === 'PersistentVolume' &&
    stringMapAt(object, 'metadata', 'annotations')[PROVISIONED_BY_ANNOTATION] !== undefined
  );
}

export function readPersistentVolume(object: unknown): PersistentVolumeInfo {
  const spec = objectAt(object, 'spec');
  const annotations = stringMapAt(object, 'metadata', 'annotations');
  const labels = stringMapAt(object, 'metadata', 'labels');
  const source = VOLUME_SOURCES.find((name) => isObject(spec?.[name]));
  const legacy = annotations[LEGACY_CLASS_ANNOTATION];
  const capacity = objectAt(spec, 'capacity')?.['storage'];
  const capacityText =
    typeof capacity === 'string' ? capacity : typeof capacity === 'number' ? String(capacity) : undefined;
  const affinityZones = nodeAffinityZones(spec);
  const labelZone = labels[ZONE_LABEL] ?? labels[DEPRECATED_ZONE_LABEL];
  const labelKey = labels[ZONE_LABEL] !== undefined ? ZONE_LABEL : DEPRECATED_ZONE_LABEL;
  return {
    name: stringAt(object, 'metadata', 'name') ?? '',
    source,
    csiDriver: source === 'csi' ? stringAt(spec, 'csi', 'driver') : undefined,
    accessModes: stringsOf(arrayAt(spec, 'accessModes')),
    volumeMode: stringAt(spec, 'volumeMode') === 'Block' ? 'Block' : 'Filesystem',
    capacityText,
    capacityBytes: capacityText === undefined ? undefined : parseQuantity(capacityText),
    reclaimPolicy: stringAt(spec, 'persistentVolumeReclaimPolicy'),
    className: legacy ?? stringAt(spec, 'storageClassName'),
    classPath: legacy !== undefined ? `metadata.annotations[${LEGACY_CLASS_ANNOTATION}]` : 'spec.storageClassName',
    // In-tree volumes labelled with their zone (the PersistentVolumeLabel admission plugin wrote these; a label
    // holding several zones joins them with "__").
    zones: affinityZones ?? (labelZone === undefined ? undefined : labelZone.split('__')),
    zonesPath: affinityZones ? 'spec.nodeAffinity.required' : `metadata.labels[${labelKey}]`,
    labels,
    provisioned: isProvisionedVolume(object),
  };
}

/**
 * The provisioner name whose capabilities a volume source has (core/capabilities.ts): a CSI volume's driver, an
 * in-tree source's plugin name (the migrated ones resolve to their CSI driver there). `local` and `flexVolume` have
 * none: the Kubernetes documentation lists no access modes for local volumes, and FlexVolume's depend on the driver.
 */
export function provisionerOfVolume(volume: PersistentVolumeInfo): string | undefined {
  if (volume.source === 'csi') return volume.csiDriver;
  return volume.source === undefined ? undefined : IN_TREE_PLUGINS[volume.source];
}

const IN_TREE_PLUGINS: Partial<Record<VolumeSource, string>> = {
  awsElasticBlockStore: 'kubernetes.io/aws-ebs',
  azureDisk: 'kubernetes.io/azure-disk',
  azureFile: 'kubernetes.io/azure-file',
  cephfs: 'kubernetes.io/cephfs',
  cinder: 'kubernetes.io/cinder',
  fc: 'kubernetes.io/fc',
  flocker: 'kubernetes.io/flocker',
  gcePersistentDisk: 'kubernetes.io/gce-pd',
  glusterfs: 'kubernetes.io/glusterfs',
  hostPath: 'kubernetes.io/host-path',
  iscsi: 'kubernetes.io/iscsi',
  nfs: 'kubernetes.io/nfs',
  photonPersistentDisk: 'kubernetes.io/photon-pd',
  portworxVolume: 'kubernetes.io/portworx-volume',
  quobyte: 'kubernetes.io/quobyte',
  rbd: 'kubernetes.io/rbd',
  scaleIO: 'kubernetes.io/scaleio',
  storageos: 'kubernetes.io/storageos',
  vsphereVolume: 'kubernetes.io/vsphere-volume',
};

/** A bound claim's Unused condition (KEP-5541); undefined when the claim is not bound or carries none. */
export function unusedConditionOf(claim: JsonObject): JsonObject | undefined {
  if (stringAt(claim, 'status', 'phase') !== 'Bound') return undefined;
  const conditions = objectAt(claim, 'status')?.['conditions'];
  const unused = Array.isArray(conditions)
    ? conditions.find((condition) => isObject(condition) && condition['type'] === 'Unused')
    : undefined;
  return isObject(unused) ? unused : undefined;
}

/**
 * Since when no pod has used a bound claim: the Unused condition the PVC-protection controller sets (Kubernetes 1.37,
 * KEP-5541; kubernetes/kubernetes pkg/controller/volume/pvcprotection sets it on Bound claims only, True with the
 * transition time once no non-terminal pod references the claim). undefined: in use, not bound, or not reported.
 */
export function unusedSince(claim: JsonObject): number | undefined {
  const unused = unusedConditionOf(claim);
  if (!unused || unused['status'] !== 'True') return undefined;
  const since = Date.parse(stringAt(unused, 'lastTransitionTime') ?? '');
  return Number.isNaN(since) ? undefined : since;
}
