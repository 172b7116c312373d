import { isObject, objectAt, stringAt, type JsonObject } from './json.js';
import { governedKindOfManifest, podSpecOf } from './kinds.js';
import { unusedConditionOf } from './volumes.js';

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

/**
 * What the idle rule reads of a claim's status: its phase and Unused condition, kept only while the claim is unused
 * (Unused=True). On Kubernetes 1.37 every bound claim carries the condition; most say False, and keeping those would
 * cost the audit memory at every claim (100,000 claims sit near the Deployment's heap limit) for nothing a rule reads.
 */
function claimStatusOf(claim: JsonObject): JsonObject | undefined {
  const unused = unusedConditionOf(claim);
  return unused && unused['status'] === 'True' ? { phase: 'Bound', conditions: [unused] } : undefined;
}

/** Counts of pods the claims of a pod template are made for (Deployment and StatefulSet replicas, Job parallelism). */
const POD_COUNTS = ['replicas', 'parallelism'];

/** Of a pod spec, what rules read: the scheduling fields (the zones rule) and the volumes that make claims or reach a CSI driver inline. */
function schedulingOf(podSpec: JsonObject): JsonObject {
  const scheduling: JsonObject = {};
  for (const key of ['nodeSelector', 'affinity']) {
    const value = podSpec[key];
    if (value !== undefined) scheduling[key] = value;
  }
  // The rest (config maps, secrets, emptyDirs) is judged by nothing.
  const volumes = Array.isArray(podSpec['volumes'])
    ? podSpec['volumes'].filter((volume) => isObject(volume) && ('ephemeral' in volume || 'csi' in volume))
    : [];
  if (volumes.length > 0) scheduling['volumes'] = volumes;
  return scheduling;
}

/** `node` down `path` to the pod spec, keeping at each level only the next step and the pod counts, with `leaf` at the end. */
function trimmedAlong(node: JsonObject, path: readonly string[], leaf: JsonObject): JsonObject {
  const [head, ...rest] = path;
  if (head === undefined) return leaf;
  const kept: JsonObject = {};
  for (const key of POD_COUNTS) if (node[key] !== undefined) kept[key] = node[key];
  kept[head] = trimmedAlong(objectAt(node, head) ?? {}, rest, leaf);
  return kept;
}

/** Whether a workload carries a volume the rules judge (a generic ephemeral or a CSI inline volume) in its pod template. */
export function carriesJudgedVolumes(object: JsonObject): boolean {
  const kind = governedKindOfManifest(object);
  const path = kind && podSpecOf(kind);
  return path !== undefined && 'volumes' in schedulingOf(objectAt(object, ...path) ?? {});
}

/**
 * The part of a stored object the audit keeps between runs: what rules read, nothing else. A workload (a
 * StatefulSet, Deployment, DaemonSet, Job, CronJob) keeps its pod counts, a StatefulSet its claim templates, and the
 * pod template its scheduling fields (the zones rule) and its ephemeral and CSI inline volumes; containers and status go, so 10,000 audited claims stay a few megabytes. A claim unused by
 * any pod keeps its phase and Unused condition, which say since when.
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
  const kind = governedKindOfManifest(object);
  const path = kind && podSpecOf(kind);
  if (!path) return subject;
  const scheduling = schedulingOf(objectAt(object, ...path) ?? {});
  Object.assign(subject, trimmedAlong(object, path, scheduling));
  if (kind !== 'StatefulSet') return subject;
  const spec = objectAt(object, 'spec') ?? {};
  const templates = Array.isArray(spec['volumeClaimTemplates'])
    ? spec['volumeClaimTemplates'].filter(isObject)
    : undefined;
  if (templates)
    (subject['spec'] as JsonObject)['volumeClaimTemplates'] = templates.map((template) => ({
      metadata: metadataOf(objectAt(template, 'metadata')),
      spec: template['spec'] ?? {},
    }));
  return subject;
}
