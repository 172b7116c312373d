import { objectAt, stringAt, type JsonObject } from '../core/json.js';
import { governedKindOfResource, isScaleJudged } from '../core/kinds.js';
import type { ClusterLookup } from '../lookup/lookup.js';
import type { ReviewInput } from '../rules/contract.js';
import type { AdmissionRequest } from './protocol.js';

// A scale (`kubectl scale`, an autoscaler, the scale subresource) changes one number, and the object's claims with
// it: judged as an UPDATE of the cached object from the old replicas to the new, so the budgets (IOPS, throughput,
// money) refuse a scale-up past them where the person scales, and what the object already had is only warned.

function replicasOf(scale: unknown): number | undefined {
  const replicas = objectAt(scale, 'spec')?.['replicas'];
  return typeof replicas === 'number' && Number.isInteger(replicas) && replicas >= 0 ? replicas : undefined;
}

function withReplicas(subject: JsonObject, replicas: number): JsonObject {
  return { ...subject, spec: { ...objectAt(subject, 'spec'), replicas } };
}

/** The review of a scale subresource UPDATE, or why it is not judged. */
export function scaleReviewOf(
  request: AdmissionRequest,
  lookup: ClusterLookup,
): { input: ReviewInput } | { reason: string } {
  const resource = request.resource;
  const governed = resource ? governedKindOfResource(resource.group, resource.resource) : undefined;
  if (!governed || !isScaleJudged(governed) || request.operation !== 'UPDATE')
    return { reason: `subresource ${request.subResource ?? ''} of ${resource?.resource ?? 'an unknown resource'}` };
  const after = replicasOf(request.object);
  const before = replicasOf(request.oldObject);
  if (after === undefined || before === undefined) return { reason: 'a scale without spec.replicas' };
  const namespace = request.namespace ?? '';
  const name = request.name ?? '';
  const cached = lookup.statefulSet(namespace, name);
  if (!cached.known) return { reason: `scale of ${namespace}/${name} not judged: ${cached.reason}` };
  if (!cached.value)
    return { reason: `scale of ${namespace}/${name} not judged: the cache has no such StatefulSet yet` };
  return {
    input: {
      kind: governed,
      operation: 'UPDATE',
      namespace,
      name,
      object: withReplicas(cached.value, after),
      oldObject: withReplicas(cached.value, before),
      requester: stringAt(request.userInfo, 'username'),
    },
  };
}
