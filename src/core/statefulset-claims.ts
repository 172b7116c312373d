import { isObject, objectAt, stringAt, stringMapAt, type JsonValue } from './json.js';
import { parseQuantity } from './quantity.js';
import { LEGACY_CLASS_ANNOTATION } from './storage.js';

// The claims the StatefulSet controller creates for a StatefulSet's volumeClaimTemplates
// (kubernetes/kubernetes pkg/controller/statefulset/stateful_set_utils.go: getPersistentVolumeClaimName is
// `<template>-<statefulset>-<ordinal>`, and getPersistentVolumeClaims copies the template's spec, labels and
// annotations into each claim).

/**
 * Who creates those claims: kube-controller-manager's StatefulSet controller, as its own service account
 * with --use-service-account-credentials (the usual setup), else as kube-controller-manager itself.
 */
export const STATEFULSET_CONTROLLER_USERS: ReadonlySet<string> = new Set([
  'system:serviceaccount:kube-system:statefulset-controller',
  'system:kube-controller-manager',
]);

/**
 * The part of a claim a template fixes, as one comparable text. Fields that admission fills in when the template
 * leaves them out (the class, by the API server's DefaultStorageClass plugin or this webhook's default; the
 * VolumeAttributesClass and volumeMode, by defaults) are compared only when the template sets them.
 */
export interface ClaimTemplateShape {
  /** The class the template names (the legacy annotation wins, as for a claim); undefined when it names none. */
  className: string | undefined;
  attributesClassName: string | undefined;
  volumeMode: string | undefined;
  /** Everything else of the spec, keys sorted, the storage request as bytes. */
  fixed: string;
}

const FILLED_BY_ADMISSION = new Set(['storageClassName', 'volumeAttributesClassName', 'volumeMode']);

function canonical(value: JsonValue | undefined): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The shape of a template or of a claim (both are a PersistentVolumeClaim's metadata and spec). */
export function claimTemplateShape(object: JsonValue | undefined): ClaimTemplateShape {
  const spec = objectAt(object, 'spec') ?? {};
  const rest: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(spec)) if (!FILLED_BY_ADMISSION.has(key)) rest[key] = value;
  // The same quantity can be spelled two ways ("1Gi", "1073741824") once the API server has re-encoded it.
  const request = objectAt(spec, 'resources', 'requests')?.['storage'];
  const bytes =
    typeof request === 'string' ? parseQuantity(request) : typeof request === 'number' ? request : undefined;
  if (bytes !== undefined)
    rest['resources'] = {
      ...objectAt(spec, 'resources'),
      requests: { ...objectAt(spec, 'resources', 'requests'), storage: bytes },
    };
  return {
    className:
      stringMapAt(object, 'metadata', 'annotations')[LEGACY_CLASS_ANNOTATION] ?? stringAt(spec, 'storageClassName'),
    attributesClassName: stringAt(spec, 'volumeAttributesClassName'),
    volumeMode: stringAt(spec, 'volumeMode'),
    fixed: canonical(rest),
  };
}

/** Whether a claim is what the template makes: equal where the template fixes it, anything where admission fills it in. */
export function claimMatchesTemplate(claim: ClaimTemplateShape, template: ClaimTemplateShape): boolean {
  if (template.className !== undefined && claim.className !== template.className) return false;
  if (template.attributesClassName !== undefined && claim.attributesClassName !== template.attributesClassName)
    return false;
  if ((template.volumeMode ?? 'Filesystem') !== (claim.volumeMode ?? 'Filesystem')) return false;
  return claim.fixed === template.fixed;
}

/**
 * The StatefulSet and template a claim name can stand for: `<template>-<statefulset>-<ordinal>`, where both
 * names may contain dashes, so every split is a candidate (at most one per dash).
 */
export function templateCandidates(claimName: string): Array<{ statefulSet: string; template: string }> {
  const match = /^(.+)-(\d+)$/.exec(claimName);
  if (!match?.[1]) return [];
  const prefix = match[1];
  const candidates: Array<{ statefulSet: string; template: string }> = [];
  for (let dash = prefix.indexOf('-'); dash > 0; dash = prefix.indexOf('-', dash + 1)) {
    const statefulSet = prefix.slice(dash + 1);
    if (statefulSet !== '') candidates.push({ template: prefix.slice(0, dash), statefulSet });
  }
  return candidates;
}
