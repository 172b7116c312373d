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

/**
 * The cluster a command line tool reaches, found as kubectl finds it: --kubeconfig, else $KUBECONFIG (a list of
 * files, merged), else ~/.kube/config, else the pod's service account; then --context, else the current context.
 */
export async function loadUserKubeConfig(
  kubeconfig: string | undefined,
  context: string | undefined,
): Promise<KubeConfig> {
  const { KubeConfig: Config } = await clientNode();
  const config = new Config();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromDefault();
  if (context !== undefined) {
    if (!config.getContextObject(context)) throw new Error(`no context ${context} in the kubeconfig`);
    config.setCurrentContext(context);
  }
  if (!config.getCurrentCluster())
    throw new Error('no cluster: pass --kubeconfig, set $KUBECONFIG, or write ~/.kube/config');
  return config;
}

/**
 * Credentials an error text may carry: an API server (or a proxy in front of it) can echo the request's headers in
 * its error body, and every such body is logged. Bearer and Basic values, tokens, passwords, JWTs, client keys.
 */
const CREDENTIALS: ReadonlyArray<[RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[redacted private key]'],
  [/((?:authorization|cookie|x-api-key)["']?\s*[:=]\s*["']?)(?:(?:bearer|basic)\s+)?[^\s"',;}]+/gi, '$1[redacted]'],
  [/\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+/gi, '$1$2[redacted]'],
  [
    /((?:access_|id_|refresh_)?token|password|secret|client-key-data|client-certificate-data)(["']?\s*[:=]\s*["']?)[^\s"',;}]+/gi,
    '$1$2[redacted]',
  ],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted jwt]'],
];

/** A text fit for a log line: credentials redacted, then cut to `limit` characters. */
export function redactCredentials(text: string, limit = 200): string {
  const redacted = CREDENTIALS.reduce((result, [pattern, replacement]) => result.replace(pattern, replacement), text);
  return redacted.length > limit ? `${redacted.slice(0, limit)}…` : redacted;
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

/** What the API server answered: status, body text, and each Warning header's text (what kubectl prints as Warning:). */
interface Exchange {
  status: number;
  text: string;
  warnings: string[];
}

/** The text of a Warning header (RFC 9111 form, `299 - "text"`, as the API server writes it). */
function warningText(value: string): string {
  const quoted = /^\d{3} \S+ "(.*)"$/s.exec(value);
  return quoted?.[1]?.replace(/\\(.)/g, '$1') ?? value;
}

/** One request to the API server, answered whatever its status. */
export async function exchange(config: KubeConfig, call: ApiRequest): Promise<Exchange> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + call.path);
  const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string | number> = { accept: 'application/json' };
  if (payload)
    Object.assign(headers, {
      'content-type': call.contentType ?? 'application/json',
      'content-length': payload.length,
    });
  const options: RequestOptions = { method: call.method, headers, timeout: call.timeoutMs ?? 30_000 };
  await config.applyToHTTPSOptions(options);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  const what = `${call.method} ${url.pathname}`;
  return new Promise((resolve, reject) => {
    const request = send(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const warnings: string[] = [];
        for (let index = 0; index + 1 < response.rawHeaders.length; index += 2)
          if (response.rawHeaders[index]?.toLowerCase() === 'warning')
            warnings.push(warningText(response.rawHeaders[index + 1] ?? ''));
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), warnings });
      });
    });
    request.on('timeout', () => request.destroy(new Error(`${what}: timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** One request to the API server; resolves with the JSON object it answers. */
export async function callApi(config: KubeConfig, call: ApiRequest): Promise<JsonObject> {
  const what = `${call.method} ${call.path.split('?')[0] ?? ''}`;
  const { status, text } = await exchange(config, call);
  if (status >= 300) throw new ApiError(status, `${what}: HTTP ${status}: ${redactCredentials(text)}`);
  const body: unknown = text === '' ? {} : JSON.parse(text);
  if (!isObject(body)) throw new Error(`${what}: not a JSON object`);
  return body;
}

/** Every item of a list, page by page (500 a page), and the list's resourceVersion to watch from. */
export async function listAll(
  config: KubeConfig,
  path: string,
  onPage: (items: JsonObject[]) => void,
): Promise<string> {
  let next: string | undefined;
  let resourceVersion: string;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await callApi(config, {
      method: 'GET',
      path: `${path}${separator}limit=${PAGE_SIZE}${next ? `&continue=${encodeURIComponent(next)}` : ''}`,
    });
    onPage((Array.isArray(page['items']) ? page['items'] : []).filter(isObject));
    resourceVersion = stringAt(page, 'metadata', 'resourceVersion') ?? '';
    next = stringAt(page, 'metadata', 'continue') || undefined;
  } while (next);
  return resourceVersion;
}
