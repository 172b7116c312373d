import { ADMISSION_API_VERSION } from '../admission/protocol.js';
import { errorResponseSchema } from './http-errors.js';

// Route schemas of the admission routes: fastify validates the envelope the API server sends with the first and
// serializes the answer with the second, so nothing but AdmissionReview v1 fields leaks out.

const groupVersionKind = {
  type: 'object',
  required: ['kind'],
  properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } },
} as const;

/** The envelope the API server sends; what the rules read inside object is checked by the engine. */
const admissionReviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: ADMISSION_API_VERSION },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1 },
        kind: groupVersionKind,
        subResource: { type: 'string' },
        name: { type: 'string' },
        namespace: { type: 'string' },
        operation: { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        object: { type: ['object', 'null'] },
        oldObject: { type: ['object', 'null'] },
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const;

/** The response the API server accepts (admission.k8s.io/v1). */
const admissionResponseSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'response'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: ADMISSION_API_VERSION },
    kind: { const: 'AdmissionReview' },
    response: {
      type: 'object',
      required: ['uid', 'allowed'],
      additionalProperties: false,
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          required: ['code', 'message'],
          additionalProperties: false,
          properties: { code: { type: 'integer' }, reason: { type: 'string' }, message: { type: 'string' } },
        },
        patchType: { const: 'JSONPatch' },
        patch: { type: 'string' },
        warnings: { type: 'array', items: { type: 'string' } },
        auditAnnotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
} as const;

export const admissionRouteSchema = {
  body: admissionReviewSchema,
  response: { 200: admissionResponseSchema, '4xx': errorResponseSchema, '5xx': errorResponseSchema },
};
