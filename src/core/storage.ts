import { arrayAt, hasKey, isObject, objectAt, stringAt, stringMapAt, stringsOf, type JsonValue } from './json.js';
import { fieldPath } from './patch.js';
import { parseQuantity } from './quantity.js';
import { podSpecOf, type GovernedKind } from './kinds.js';
import { zonesOfStorageClass } from './topology.js';

export const LEGACY_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';
export const DEFAULT_CLASS_ANNOTATION = 'storageclass.kubernetes.io/is-default-class';
export const BETA_DEFAULT_CLASS_ANNOTATION = 'storageclass.beta.kubernetes.io/is-default-class';

/** A VolumeAttributesClass (storage.k8s.io/v1, GA 1.34): a driver and the parameters it changes in place. */
export interface AttributesClassInfo {
  name: string;
  driverName: string;
  parameters: Record<string, string>;
}

export function readAttributesClass(object: unknown): AttributesClassInfo {
  return {
    name: stringAt(object, 'metadata', 'name') ?? '',
    driverName: stringAt(object, 'driverName') ?? '',
    parameters: stringMapAt(object, 'parameters'),
  };
}

type VolumeBindingMode = 'Immediate' | 'WaitForFirstConsumer';

export interface StorageClassInfo {
  name: string;
  provisioner: string;
  parameters: Record<string, string>;
  volumeBindingMode: VolumeBindingMode;
  /** Zones the class may provision in; undefined when nothing restricts it. */
  zones: string[] | undefined;
  isDefault: boolean;
  creationTimestamp: string | undefined;
  allowVolumeExpansion: boolean;
}

export function readStorageClass(object: unknown): StorageClassInfo {
  const annotations = stringMapAt(object, 'metadata', 'annotations');
  const provisioner = stringAt(object, 'provisioner') ?? '';
  const parameters = stringMapAt(object, 'parameters');
  return {
    name: stringAt(object, 'metadata', 'name') ?? '',
    provisioner,
    parameters,
    volumeBindingMode:
      stringAt(object, 'volumeBindingMode') === 'WaitForFirstConsumer' ? 'WaitForFirstConsumer' : 'Immediate',
    zones: zonesOfStorageClass(provisioner, parameters, arrayAt(object, 'allowedTopologies')),
    isDefault: isDefaultClassAnnotated(annotations),
    creationTimestamp: stringAt(object, 'metadata', 'creationTimestamp'),
    allowVolumeExpansion: isObject(object) && object['allowVolumeExpansion'] === true,
  };
}

/** Exactly "true" counts, as in k8s.io/component-helpers/storage/volume.IsDefaultAnnotation. */
function isDefaultClassAnnotated(annotations: Record<string, string>): boolean {
  return annotations[DEFAULT_CLASS_ANNOTATION] === 'true' || annotations[BETA_DEFAULT_CLASS_ANNOTATION] === 'true';
}

/**
 * How the API server picks among several defaults since about v1.25: newest creationTimestamp,
 * then name ascending.
 */
export function pickClusterDefault(classes: StorageClassInfo[]): StorageClassInfo | undefined {
  const defaults = classes.filter((storageClass) => storageClass.isDefault);
  // Byte order, as Go compares strings (the API server's sort), not the locale's.
  const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  defaults.sort((a, b) => byBytes(b.creationTimestamp ?? '', a.creationTimestamp ?? '') || byBytes(a.name, b.name));
  return defaults[0];
}

type ClassSource = 'annotation' | 'field' | 'none' | 'unset';

export interface Claim {
  /** JSON Pointer tokens from the object root to the claim (PVC: none; VCT: spec.volumeClaimTemplates[i]). */
  root: Array<string | number>;
  /** Name of the PVC, or of the first PVC a template creates. */
  name: string;
  templateName: string | undefined;
  /** PVCs this claim stands for: 1 for a PVC, the replica count for a template. */
  copies: number;
  /**
   * The class the claim resolves to: the legacy annotation wins over spec.storageClassName;
   * "" (source none) means no dynamic provisioning; unset means the field is absent.
   */
  className: string | undefined;
  classSource: ClassSource;
  accessModes: string[];
  volumeMode: 'Filesystem' | 'Block';
  requestText: string | undefined;
  requestBytes: number | undefined;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** spec.volumeAttributesClassName: mutable, the driver modifies the volume in place. */
  attributesClassName: string | undefined;
  /** What the claim is made from (spec.dataSourceRef, else spec.dataSource): a claim to clone, a snapshot to restore. */
  dataSource: DataSource | undefined;
  /** spec.volumeName: the PersistentVolume the claim is pre-bound to, by its writer. */
  volumeName: string | undefined;
}

export interface DataSource {
  /** Empty for the core group (a PersistentVolumeClaim). */
  apiGroup: string;
  kind: string;
  name: string;
  /** Where it is written, for messages. */
  path: string;
}

function dataSourceOf(spec: JsonValue | undefined, root: Array<string | number>): DataSource | undefined {
  // The API server keeps the two fields in step when one is written; dataSourceRef is the newer and wider one.
  for (const field of ['dataSourceRef', 'dataSource']) {
    const reference = objectAt(spec, field);
    const kind = stringAt(reference, 'kind');
    const name = stringAt(reference, 'name');
    if (kind !== undefined && name !== undefined)
      return { apiGroup: stringAt(reference, 'apiGroup') ?? '', kind, name, path: fieldPath(...root, 'spec', field) };
  }
  return undefined;
}

export function claimPath(claim: Claim, ...tokens: Array<string | number>): string {
  return fieldPath(...claim.root, ...tokens);
}

function readClaim(
  object: JsonValue | undefined,
  root: Array<string | number>,
  identity: { name: string; templateName?: string; copies: number },
): Claim {
  const annotations = stringMapAt(object, 'metadata', 'annotations');
  const spec = objectAt(object, 'spec');
  const legacy = annotations[LEGACY_CLASS_ANNOTATION];
  const field =
    spec && hasKey(spec, 'storageClassName') && typeof spec['storageClassName'] === 'string'
      ? spec['storageClassName']
      : undefined;
  let className: string | undefined;
  let classSource: ClassSource;
  if (legacy !== undefined) {
    className = legacy;
    classSource = 'annotation';
  } else if (field !== undefined) {
    className = field;
    classSource = field === '' ? 'none' : 'field';
  } else {
    classSource = 'unset';
  }
  // kubectl sends a YAML number (storage: 10, 1e11) as a JSON number, and the API server takes it as a quantity.
  const request = objectAt(spec, 'resources', 'requests')?.['storage'];
  const requestText =
    typeof request === 'number' && Number.isFinite(request)
      ? String(request)
      : typeof request === 'string'
        ? request
        : undefined;
  return {
    root,
    name: identity.name,
    templateName: identity.templateName,
    copies: identity.copies,
    className,
    classSource: classSource === 'annotation' && className === '' ? 'none' : classSource,
    accessModes: stringsOf(arrayAt(spec, 'accessModes')),
    volumeMode: stringAt(spec, 'volumeMode') === 'Block' ? 'Block' : 'Filesystem',
    requestText,
    requestBytes: requestText === undefined ? undefined : parseQuantity(requestText),
    annotations,
    labels: stringMapAt(object, 'metadata', 'labels'),
    attributesClassName: stringAt(spec, 'volumeAttributesClassName') || undefined,
    dataSource: dataSourceOf(spec, root),
    volumeName: stringAt(spec, 'volumeName') || undefined,
  };
}

function countAt(object: unknown, ...path: string[]): number {
  const value = objectAt(object, ...path.slice(0, -1))?.[path[path.length - 1] ?? ''];
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 1;
}

/**
 * How many pods an object runs at once, so how many claims each template makes: the replicas of a Deployment,
 * ReplicaSet or StatefulSet, the parallelism of a Job or a CronJob's Job (defaults 1). A DaemonSet runs one per
 * matching node, which its object does not say: counted once.
 */
function podsOf(kind: GovernedKind, object: unknown): number {
  if (kind === 'Deployment' || kind === 'ReplicaSet' || kind === 'StatefulSet')
    return countAt(object, 'spec', 'replicas');
  if (kind === 'Job') return countAt(object, 'spec', 'parallelism');
  if (kind === 'CronJob') return countAt(object, 'spec', 'jobTemplate', 'spec', 'parallelism');
  return 1;
}

/**
 * The generic ephemeral volumes of the object's pod spec, as the claims the ephemeral-volume controller makes of
 * them: `<pod>-<volume>` (k8s.io/component-helpers/storage/ephemeral VolumeClaimName), with the template's
 * metadata and spec. A workload's pods are named later, so its claims are named after the workload.
 */
function ephemeralClaimsOf(kind: GovernedKind, object: unknown): Claim[] {
  const podSpec = podSpecOf(kind);
  if (!podSpec) return [];
  const owner = stringAt(object, 'metadata', 'name') ?? stringAt(object, 'metadata', 'generateName') ?? '';
  const copies = podsOf(kind, object);
  return (arrayAt(object, ...podSpec, 'volumes') ?? []).flatMap((volume, index) => {
    const template = objectAt(volume, 'ephemeral', 'volumeClaimTemplate');
    if (!template) return [];
    const volumeName = stringAt(volume, 'name') ?? '';
    return [
      readClaim(template, [...podSpec, 'volumes', index, 'ephemeral', 'volumeClaimTemplate'], {
        name: `${owner}-${volumeName}`,
        templateName: volumeName,
        copies,
      }),
    ];
  });
}

/** How many claim templates an object carries (a StatefulSet's volumeClaimTemplates and its pods' ephemeral volumes), without reading them. */
export function claimTemplateCount(kind: GovernedKind, object: unknown): number {
  const podSpec = podSpecOf(kind);
  const ephemeral = podSpec
    ? (arrayAt(object, ...podSpec, 'volumes') ?? []).filter((volume) => hasKey(volume, 'ephemeral')).length
    : 0;
  return ephemeral + (kind === 'StatefulSet' ? (arrayAt(object, 'spec', 'volumeClaimTemplates')?.length ?? 0) : 0);
}

/**
 * The claims an object makes: a PVC is one; a StatefulSet makes one per template per replica; an object with a pod
 * spec one per generic ephemeral volume per pod.
 */
export function claimsOf(kind: GovernedKind, object: unknown): Claim[] {
  if (kind === 'PersistentVolumeClaim') {
    const name = stringAt(object, 'metadata', 'name') ?? stringAt(object, 'metadata', 'generateName') ?? '';
    return [readClaim(object as JsonValue, [], { name, copies: 1 })];
  }
  const ephemeral = ephemeralClaimsOf(kind, object);
  if (kind !== 'StatefulSet') return ephemeral;
  const stsName = stringAt(object, 'metadata', 'name') ?? '';
  const replicas = podsOf(kind, object);
  const templates = arrayAt(object, 'spec', 'volumeClaimTemplates') ?? [];
  return [
    ...templates.map((template, index) => {
      const templateName = stringAt(template, 'metadata', 'name') ?? '';
      return readClaim(template, ['spec', 'volumeClaimTemplates', index], {
        name: `${templateName}-${stsName}-0`,
        templateName,
        copies: replicas,
      });
    }),
    ...ephemeral,
  ];
}
