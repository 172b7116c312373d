import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest } from 'node:http';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isObject, objectAt, stringAt, type JsonObject } from '../core/json.js';
import type { ClusterState } from './cluster-state.js';

type CachedKind = 'StorageClass' | 'VolumeAttributesClass' | 'Namespace' | 'PersistentVolumeClaim' | 'Node';

const RESOURCES: ReadonlyArray<{ kind: CachedKind; path: string }> = [
  { kind: 'StorageClass', path: '/apis/storage.k8s.io/v1/storageclasses' },
  { kind: 'VolumeAttributesClass', path: '/apis/storage.k8s.io/v1/volumeattributesclasses' },
  { kind: 'Namespace', path: '/api/v1/namespaces' },
  { kind: 'PersistentVolumeClaim', path: '/api/v1/persistentvolumeclaims' },
  { kind: 'Node', path: '/api/v1/nodes' },
];

const PAGE_SIZE = 500;

interface CacheOptions {
  /** First retry delay after a failed list or a dropped watch; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromCluster();
  return config;
}

/** GET a JSON document from the API server with the kubeconfig's credentials. */
async function getJson(config: KubeConfig, path: string): Promise<JsonObject> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + path);
  const options: RequestOptions = { method: 'GET', headers: { accept: 'application/json' }, timeout: 30_000 };
  await config.applyToHTTPSOptions(options);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const request = send(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((response.statusCode ?? 0) >= 300) return reject(new Error(`GET ${path}: HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
        try {
          const body: unknown = JSON.parse(text);
          if (!isObject(body)) return reject(new Error(`GET ${path}: not a JSON object`));
          resolve(body);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path}: timed out`)));
    request.on('error', reject);
    request.end();
  });
}

/**
 * Keeps a ClusterState in step with the API server (StorageClasses, Namespaces, PVCs, Nodes): for each kind a paged list, then a watch from
 * its resourceVersion, re-watched when it closes and re-listed (with backoff) when it fails or the
 * version expires. Only the derived fields the rules need are stored. While a kind has not synced,
 * or has lost its watch and cannot list again, lookups answer "unknown" and lookupFailure decides.
 */
export class ClusterCache {
  private readonly synced = new Set<CachedKind>();
  private readonly problems = new Map<CachedKind, string>();
  private readonly aborts = new Set<AbortController>();
  private stopped = false;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly config: KubeConfig,
    private readonly state: ClusterState,
    private readonly logger: Logger,
    options: CacheOptions = {},
  ) {
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.updateAvailability();
  }

  /**
   * Every kind listed once. Readiness waits for this only: a later watch loss must not take the
   * webhook out of its Service, since with failurePolicy Fail that would block every claim.
   */
  get initialSyncDone(): boolean {
    return this.synced.size === RESOURCES.length;
  }

  status(): Record<CachedKind, string> {
    const status = {} as Record<CachedKind, string>;
    for (const { kind } of RESOURCES) status[kind] = this.problems.get(kind) ?? (this.synced.has(kind) ? 'synced' : 'syncing');
    return status;
  }

  start(): void {
    for (const resource of RESOURCES) void this.reflect(resource.kind, resource.path);
  }

  stop(): void {
    this.stopped = true;
    for (const controller of this.aborts) controller.abort();
    this.aborts.clear();
  }

  private updateAvailability(): void {
    const missing = RESOURCES.find(({ kind }) => !this.synced.has(kind) || this.problems.has(kind));
    if (!missing) return this.state.setUnavailable(undefined);
    const problem = this.problems.get(missing.kind);
    this.state.setUnavailable(problem ? `cluster cache for ${missing.kind} unavailable: ${problem}` : `cluster cache for ${missing.kind} not synced yet`);
  }

  private async list(kind: CachedKind, path: string): Promise<string> {
    const items: JsonObject[] = [];
    let next: string | undefined;
    let resourceVersion: string;
    do {
      const page = await getJson(this.config, `${path}?limit=${PAGE_SIZE}${next ? `&continue=${encodeURIComponent(next)}` : ''}`);
      for (const item of Array.isArray(page['items']) ? page['items'] : []) if (isObject(item)) items.push(item);
      resourceVersion = stringAt(page, 'metadata', 'resourceVersion') ?? '';
      next = stringAt(page, 'metadata', 'continue') || undefined;
    } while (next);
    this.state.replaceAll(kind, items);
    return resourceVersion;
  }

  private apply(kind: CachedKind, type: string, object: JsonObject): void {
    const namespace = stringAt(object, 'metadata', 'namespace') ?? '';
    const name = stringAt(object, 'metadata', 'name') ?? '';
    if (type === 'DELETED') {
      if (kind === 'StorageClass') this.state.deleteStorageClass(name);
      else if (kind === 'VolumeAttributesClass') this.state.deleteAttributesClass(name);
      else if (kind === 'Namespace') this.state.deleteNamespace(name);
      else if (kind === 'Node') this.state.deleteNode(name);
      else this.state.deleteClaim(namespace, name);
      return;
    }
    if (kind === 'StorageClass') this.state.upsertStorageClass(object);
    else if (kind === 'VolumeAttributesClass') this.state.upsertAttributesClass(object);
    else if (kind === 'Namespace') this.state.upsertNamespace(object);
    else if (kind === 'Node') this.state.upsertNode(object);
    else this.state.upsertClaim(object);
  }

  /** Watches from resourceVersion until the watch ends; resolves with the last version seen, or undefined when it must re-list. */
  private watch(kind: CachedKind, path: string, resourceVersion: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      let latest = resourceVersion;
      let expired = false;
      const watcher = new Watch(this.config);
      let controller: AbortController | undefined;
      const done = (error: unknown): void => {
        if (controller) this.aborts.delete(controller);
        if (error && !this.stopped) this.logger.warn({ kind, err: error }, 'watch ended with an error');
        resolve(expired || error ? undefined : latest);
      };
      watcher
        .watch(
          path,
          { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
          (type: string, object: unknown) => {
            if (type === 'ERROR') {
              // 410 Gone: the version is too old to watch from; a fresh list is needed.
              expired = true;
              controller?.abort();
              return;
            }
            if (!isObject(object)) return;
            latest = stringAt(objectAt(object, 'metadata'), 'resourceVersion') ?? latest;
            if (type !== 'BOOKMARK') this.apply(kind, type, object);
          },
          done,
        )
        .then(
          (abort) => {
            controller = abort;
            if (this.stopped) abort.abort();
            else this.aborts.add(abort);
          },
          (error: unknown) => done(error ?? new Error('watch failed')),
        );
    });
  }

  private async reflect(kind: CachedKind, path: string): Promise<void> {
    let backoff = this.initialBackoffMs;
    let resourceVersion: string | undefined;
    while (!this.stopped) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.list(kind, path);
          this.synced.add(kind);
          this.problems.delete(kind);
          this.updateAvailability();
          this.logger.info({ kind, size: this.state.size }, 'cluster cache synced');
        }
        const started = Date.now();
        resourceVersion = await this.watch(kind, path, resourceVersion);
        if (Date.now() - started > 10_000) backoff = this.initialBackoffMs;
        if (resourceVersion !== undefined) continue;
      } catch (error) {
        resourceVersion = undefined;
        this.problems.set(kind, (error as Error).message);
        this.updateAvailability();
        this.logger.error({ kind, err: error, retryInMs: backoff }, 'cluster cache list failed');
      }
      if (this.stopped) break;
      await new Promise((resolve) => setTimeout(resolve, backoff * (0.8 + Math.random() * 0.4)));
      backoff = Math.min(backoff * 2, this.maxBackoffMs);
    }
  }
}
