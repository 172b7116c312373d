import { isObject, objectAt, stringAt, type JsonObject } from './json.js';

// The part of a stored object the rules read, and nothing else: what the audit keeps between runs and the cluster
// state keeps of a StatefulSet (to judge a scale as the StatefulSet with its new replicas).

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Metadata the rules and the reports read: no managedFields, no last-applied copy of the whole object. */
function metadataOf(metadata: JsonObject | undefined): JsonObject {
  if (!metadata) return {};
  const kept: JsonObject = {};
  for (const key of ['name', 'generateName', 'namespace', 'uid', 'labels']) {
    const value = metadata[key];
    if (value !== undefined) kept[key] = value;
  }
  const annotations = objectAt(metadata, 'annotations');
  if (annotations)
    kept['annotations'] = Object.fromEntries(Object.entries(annotations).filter(([key]) => key !== LAST_APPLIED));
  return kept;
}

/** A claim's phase and its Unused condition (the idle rule's input); the rest of its status no rule reads. */
function claimStatusOf(claim: JsonObject): JsonObject | undefined {
  const status = objectAt(claim, 'status');
  if (!status) return undefined;
  const conditions = Array.isArray(status['conditions']) ? status['conditions'] : [];
  const unused = conditions.filter((condition) => isObject(condition) && condition['type'] === 'Unused');
  return {
    ...(status['phase'] !== undefined ? { phase: status['phase'] } : {}),
    ...(unused.length > 0 ? { conditions: unused } : {}),
  };
}

/**
 * The part of a stored object the audit keeps between runs: what rules read, nothing else. A StatefulSet
 * keeps its replicas, claim templates, the pod template's scheduling fields (the zones rule) and its ephemeral and
 * CSI inline volumes; its containers and status go, so 10,000 audited claims stay a few megabytes. A claim keeps its
 * phase and Unused condition, which say whether it is idle.
 */
export function trimmedSubjectOf(object: JsonObject): JsonObject {
  const subject: JsonObject = {
    apiVersion: object['apiVersion'] ?? '',
    kind: object['kind'] ?? '',
    metadata: metadataOf(objectAt(object, 'metadata')),
  };
  for (const [key, value] of Object.entries(object)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'metadata' || key === 'status') continue;
    subject[key] = value;
  }
  if (stringAt(object, 'kind') === 'PersistentVolumeClaim') {
    const status = claimStatusOf(object);
    if (status) subject['status'] = status;
  }
  if (stringAt(object, 'kind') !== 'StatefulSet') return subject;
  const spec = objectAt(object, 'spec') ?? {};
  const podSpec = objectAt(spec, 'template', 'spec') ?? {};
  const scheduling: JsonObject = {};
  for (const key of ['nodeSelector', 'affinity']) {
    const value = podSpec[key];
    if (value !== undefined) scheduling[key] = value;
  }
  // The volumes that make claims or reach a CSI driver inline (the rest, config maps and secrets, are judged by nothing).
  const volumes = Array.isArray(podSpec['volumes'])
    ? podSpec['volumes'].filter((volume) => isObject(volume) && ('ephemeral' in volume || 'csi' in volume))
    : [];
  if (volumes.length > 0) scheduling['volumes'] = volumes;
  const templates = Array.isArray(spec['volumeClaimTemplates'])
    ? spec['volumeClaimTemplates'].filter(isObject)
    : undefined;
  subject['spec'] = {
    ...(spec['replicas'] !== undefined ? { replicas: spec['replicas'] } : {}),
    ...(templates
      ? {
          volumeClaimTemplates: templates.map((template) => ({
            metadata: metadataOf(objectAt(template, 'metadata')),
            spec: template['spec'] ?? {},
          })),
        }
      : {}),
    template: { spec: scheduling },
  };
  return subject;
}
