import { WORKLOAD_CONTROLLER_USERS } from '../core/controllers.js';
import { POD_SPEC_KINDS, podSpecOf, resourceOf } from '../core/kinds.js';
import { LEGACY_CLASS_ANNOTATION } from '../core/storage.js';
import { PROVISIONED_BY_ANNOTATION } from '../core/volumes.js';
import type { ClaimField, RuleFamily } from '../rules/contract.js';

// The matchConditions of the webhook configurations (admissionregistration.k8s.io/v1, GA in 1.30), generated from
// what the rule families declare they read, so that the configurations follow the code: deploy/ and the chart
// carry this expression, and a unit test fails when they differ.

/** Annotations the volume controllers write on claims (binding, provisioning, scheduling): never judged. */
const CONTROLLER_ANNOTATION =
  "k.startsWith('pv.kubernetes.io/') || k.startsWith('volume.kubernetes.io/') || k == 'volume.beta.kubernetes.io/storage-provisioner'";

/** Whether a field `section.name` differs between object and oldObject, presence included. */
function fieldChanged(field: string): string {
  const [section, name] = field.split('.') as [string, string];
  const now = `object.${section}`;
  const before = `oldObject.${section}`;
  return `has(${now}.${name}) != has(${before}.${name}) || (has(${now}.${name}) && ${now}.${name} != ${before}.${name})`;
}

function changed(field: ClaimField): string {
  if (field !== 'metadata.annotations') return fieldChanged(field);
  // Compared key by key in both directions, so map order never matters and the controllers' keys are left out.
  const kept = (object: string, other: string): string =>
    `(has(${object}.metadata.annotations) && !${object}.metadata.annotations.all(k, ${CONTROLLER_ANNOTATION} || (has(${other}.metadata.annotations) && k in ${other}.metadata.annotations && ${other}.metadata.annotations[k] == ${object}.metadata.annotations[k])))`;
  return `${kept('object', 'oldObject')} || ${kept('oldObject', 'object')}`;
}

/**
 * One condition: every request but a claim UPDATE is sent; a claim UPDATE only when a field some family reads has
 * changed. An UPDATE that changes none cannot change the decision (findings oldObject had are only warned).
 */
export function claimUpdateCondition(families: readonly RuleFamily[]): { name: string; expression: string } {
  const fields = [...new Set(families.flatMap((family) => family.claimFields))].sort();
  const anyChanged = fields.map((field) => `(${changed(field)})`).join(' || ');
  return {
    name: 'claim-update-changes-judged-fields',
    expression: `request.resource.resource != 'persistentvolumeclaims' || request.operation != 'UPDATE' || ${anyChanged}`,
  };
}

/**
 * What of a PersistentVolume the rules read (rules/persistent-volumes.ts, the class lists and zones): the source is
 * immutable, and the PV controller's binding writes only spec.claimRef, status and annotations.
 */
const JUDGED_VOLUME_FIELDS = [
  'metadata.labels',
  'spec.accessModes',
  'spec.capacity',
  'spec.nodeAffinity',
  'spec.persistentVolumeReclaimPolicy',
  'spec.storageClassName',
  'spec.volumeMode',
];

/**
 * Every request but one for a PersistentVolume is sent; a PersistentVolume only when a person writes it: never one
 * a provisioner made for a claim (annotated pv.kubernetes.io/provisioned-by; its claim was judged, so provisioning
 * and resizing never wait for this webhook), and an UPDATE only when a judged field or the legacy class changed.
 */
export function volumeCondition(): { name: string; expression: string } {
  const provisioned = `has(object.metadata.annotations) && '${PROVISIONED_BY_ANNOTATION}' in object.metadata.annotations`;
  const legacyClass = (object: string): string =>
    `(has(${object}.metadata.annotations) && '${LEGACY_CLASS_ANNOTATION}' in ${object}.metadata.annotations ? ${object}.metadata.annotations['${LEGACY_CLASS_ANNOTATION}'] : '')`;
  const anyChanged = [
    ...JUDGED_VOLUME_FIELDS.map((field) => `(${fieldChanged(field)})`),
    `${legacyClass('object')} != ${legacyClass('oldObject')}`,
  ].join(' || ');
  return {
    name: 'volume-written-by-people',
    expression: `request.resource.resource != 'persistentvolumes' || (!(${provisioned}) && (request.operation != 'UPDATE' || ${anyChanged}))`,
  };
}

/** `has()` of every step of a path, so a missing step is false rather than an error (which failurePolicy would decide). */
function present(root: string, path: readonly string[]): string {
  return path.map((_, index) => `has(${[root, ...path.slice(0, index + 1)].join('.')})`).join(' && ');
}

/**
 * Every request but one for a Pod or a workload other than a StatefulSet is sent; those only when a person writes
 * them (the workload controllers' ReplicaSets, Pods and Jobs are made from a template judged where it was written,
 * and nothing is written on them), carrying a generic ephemeral or CSI inline volume, and an UPDATE only when the
 * volumes changed. A Pod without such volumes, or a Deployment's image change, never reaches the webhook, so ordinary
 * workloads never depend on it being up. StatefulSets are sent as before, for their volumeClaimTemplates.
 */
export function podVolumesCondition(): { name: string; expression: string } {
  const kinds = POD_SPEC_KINDS.filter((kind) => kind !== 'StatefulSet');
  const byPath = new Map<string, string[]>();
  for (const kind of kinds) {
    const path = [...(podSpecOf(kind) ?? []), 'volumes'].join('.');
    byPath.set(path, [...(byPath.get(path) ?? []), resourceOf(kind).resource]);
  }
  const judged = (path: string[]): string => {
    const volumes = `object.${path.join('.')}`;
    const carries = `${present('object', path)} && ${volumes}.exists(v, has(v.ephemeral) || has(v.csi))`;
    const changed = `(${present('object', path)}) != (${present('oldObject', path)}) || ((${present('object', path)}) && ${volumes} != oldObject.${path.join('.')})`;
    return `(${carries}) && (request.operation != 'UPDATE' || ${changed})`;
  };
  const list = (values: readonly string[]): string => `[${values.map((value) => `'${value}'`).join(', ')}]`;
  const branches = [...byPath.entries()].map(
    ([path, resources]) => `(request.resource.resource in ${list(resources)} && ${judged(path.split('.'))})`,
  );
  const resources = [...byPath.values()].flat();
  return {
    name: 'pod-volumes-written-by-people',
    expression: `!(request.resource.resource in ${list(resources)}) || (!(request.userInfo.username in ${list(WORKLOAD_CONTROLLER_USERS)}) && (${branches.join(' || ')}))`,
  };
}

/** The matchConditions of both webhook entries. */
export function matchConditions(families: readonly RuleFamily[]): Array<{ name: string; expression: string }> {
  return [claimUpdateCondition(families), volumeCondition(), podVolumesCondition()];
}
