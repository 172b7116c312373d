import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyRequest } from 'fastify';

// The JSON error body every listener answers with, and how an error becomes a status: client errors keep theirs,
// 503 (overloaded, with Retry-After) too, anything else is a bug and answers 500.

export const errorResponseSchema = {
  type: 'object',
  required: ['error', 'message', 'statusCode'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    statusCode: { type: 'integer' },
    code: { type: 'string' },
  },
} as const;

interface ErrorBody {
  error: string;
  message: string;
  statusCode: number;
  code?: string;
}

export function errorBody(statusCode: number, message: string, code?: string): ErrorBody {
  return { error: STATUS_CODES[statusCode] ?? 'Error', message, statusCode, ...(code ? { code } : {}) };
}

/** The answer to an error raised while receiving or routing a request. */
export function errorAnswer(error: FastifyError, request: FastifyRequest, bodyLimit: number): ErrorBody {
  const status = error.statusCode ?? 500;
  const statusCode = error.validation ? 400 : (status >= 400 && status < 500) || status === 503 ? status : 500;
  const message = error.validation
    ? `invalid AdmissionReview: ${error.message}`
    : statusCode === 413
      ? `request body is larger than ${bodyLimit} bytes`
      : statusCode === 415
        ? `content-type must be application/json, not ${JSON.stringify(request.headers['content-type'] ?? '')}`
        : error.message;
  return errorBody(statusCode, message, error.code);
}
