// AdmissionReview v1 as the API server sends and reads it: the request fields this webhook uses, the response
// helpers, and triage of a request before any policy runs.
import { isObject, stringAt, type JsonObject, type JsonValue } from '../core/json.js';
import type { PatchOperation } from '../core/patch.js';
import { governedKindOf, type GovernedKind } from '../core/kinds.js';
import { reviewInputOf } from '../engine/pipeline.js';
import type { ReviewInput } from '../rules/contract.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The request fields this webhook reads; the route schema guarantees uid and the envelope. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: JsonObject;
  object?: JsonValue;
  oldObject?: JsonValue;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

// Response helpers in the manner of controller-runtime's admission package: no handler builds a
// response by hand.

export function allowed(
  uid: string,
  warnings: string[] = [],
  auditAnnotations: Record<string, string> = {},
): AdmissionResponse {
  return withExtras({ uid, allowed: true }, warnings, auditAnnotations);
}

export function denied(
  uid: string,
  message: string,
  warnings: string[] = [],
  auditAnnotations: Record<string, string> = {},
): AdmissionResponse {
  return withExtras(
    { uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } },
    warnings,
    auditAnnotations,
  );
}

/** The webhook failed on this request (a rule threw): a denial with code 500 that says which part failed. */
export function errored(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 500, reason: 'InternalError', message } };
}

/** An empty patch is no patch: the API server treats `patch: []` as a change. */
export function patched(uid: string, patch: PatchOperation[], warnings: string[] = []): AdmissionResponse {
  if (patch.length === 0) return allowed(uid, warnings);
  return withExtras(
    { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') },
    warnings,
    {},
  );
}

function withExtras(
  response: AdmissionResponse,
  warnings: string[],
  auditAnnotations: Record<string, string>,
): AdmissionResponse {
  if (warnings.length > 0) response.warnings = warnings;
  if (Object.keys(auditAnnotations).length > 0) response.auditAnnotations = auditAnnotations;
  return response;
}

export function reviewResponse(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

function governedKind(request: AdmissionRequest): GovernedKind | undefined {
  return governedKindOf(request.kind.group, request.kind.kind);
}

type ReviewTriage =
  { route: 'allow'; reason: string } | { route: 'reject'; message: string } | { route: 'review'; input: ReviewInput };

/**
 * What the webhook does with a request before any policy runs: DELETE, CONNECT, subresources and
 * kinds it does not govern are allowed at once; a CREATE or UPDATE without an object is a client error.
 */
export function triage(request: AdmissionRequest): ReviewTriage {
  if (request.operation === 'DELETE' || request.operation === 'CONNECT')
    return { route: 'allow', reason: `operation ${request.operation}` };
  if (request.subResource) return { route: 'allow', reason: `subresource ${request.subResource}` };
  const kind = governedKind(request);
  if (!kind)
    return { route: 'allow', reason: `kind ${request.kind.group || 'core'}/${request.kind.kind} is not governed` };
  if (!isObject(request.object))
    return { route: 'reject', message: `request.object must be an object for ${request.operation}` };
  if (request.operation === 'UPDATE' && !isObject(request.oldObject))
    return { route: 'reject', message: 'request.oldObject must be an object for UPDATE' };
  const input = reviewInputOf({
    kind,
    object: request.object,
    operation: request.operation,
    oldObject: isObject(request.oldObject) ? request.oldObject : undefined,
    namespace: request.namespace,
    name: request.name,
    requester: stringAt(request.userInfo, 'username'),
  });
  return input ? { route: 'review', input } : { route: 'allow', reason: `kind ${kind} is not governed` };
}
