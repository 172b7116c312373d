import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { isObject, stringAt, type JsonObject } from '../core/json.js';
import { clientNode } from './client-node.js';

// The few API calls this webhook makes, with @kubernetes/client-node's KubeConfig for the server and
// credentials (kubeconfig, or the pod's service account) and plain JSON on the wire.

const PAGE_SIZE = 500;

/** The kubeconfig file's cluster and credentials, or the pod's service account without one. */
export async function loadKubeConfig(kubeconfig: string | undefined): Promise<KubeConfig> {
  const { KubeConfig: Config } = await clientNode();
  const config = new Config();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromCluster();
  return config;
}

/** An API call answered with an error status; `status` lets callers tell 404 and 409 from the rest. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface ApiRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** application/json unless said: server-side apply sends application/apply-patch+yaml. */
  contentType?: string;
  timeoutMs?: number;
}

/** One request to the API server; resolves with the JSON object it answers. */
export async function callApi(config: KubeConfig, call: ApiRequest): Promise<JsonObject> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + call.path);
  const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string | number> = { accept: 'application/json' };
  if (payload) Object.assign(headers, { 'content-type': call.contentType ?? 'application/json', 'content-length': payload.length });
  const options: RequestOptions = { method: call.method, headers, timeout: call.timeoutMs ?? 30_000 };
  await config.applyToHTTPSOptions(options);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const what = `${call.method} ${url.pathname}`;
  return new Promise((resolve, reject) => {
    const request = send(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        if (status >= 300) return reject(new ApiError(status, `${what}: HTTP ${status}: ${text.slice(0, 300)}`));
        try {
          const body: unknown = text === '' ? {} : JSON.parse(text);
          if (!isObject(body)) return reject(new Error(`${what}: not a JSON object`));
          resolve(body);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`${what}: timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** Every item of a list, page by page (500 a page), and the list's resourceVersion to watch from. */
export async function listAll(config: KubeConfig, path: string, onPage: (items: JsonObject[]) => void): Promise<string> {
  let next: string | undefined;
  let resourceVersion: string;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await callApi(config, { method: 'GET', path: `${path}${separator}limit=${PAGE_SIZE}${next ? `&continue=${encodeURIComponent(next)}` : ''}` });
    onPage((Array.isArray(page['items']) ? page['items'] : []).filter(isObject));
    resourceVersion = stringAt(page, 'metadata', 'resourceVersion') ?? '';
    next = stringAt(page, 'metadata', 'continue') || undefined;
  } while (next);
  return resourceVersion;
}
