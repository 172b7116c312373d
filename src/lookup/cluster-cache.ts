import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { isObject, objectAt, stringAt, type JsonObject } from '../core/json.js';
import { apiVersionOf, CACHED_KINDS, isAuditOnly, isFromCrd, listPathOf, type CachedKind } from '../core/kinds.js';
import type { ClusterState } from './cluster-state.js';
import { clientNode } from './client-node.js';
import { ApiError, listAll, redactCredentials } from './kube-api.js';

interface Resource {
  kind: CachedKind;
  apiVersion: string;
  path: string;
}

const STATE_RESOURCES: readonly Resource[] = CACHED_KINDS.map((kind) => ({
  kind,
  apiVersion: apiVersionOf(kind),
  path: listPathOf(kind),
}));

/** What readiness and the lookups wait for: every cached kind but the ones kept for the audit alone. */
const LOOKUP_RESOURCES = STATE_RESOURCES.filter(({ kind }) => !isAuditOnly(kind));

/**
 * An error from the API client as it may be logged: the watch's errors come from client-node and can carry a
 * response body, so their message is redacted like ApiError's (and the stack, which repeats it, dropped).
 */
function redactedError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  const redacted = new Error(redactCredentials(message, 300));
  redacted.name = error instanceof Error ? error.name : 'Error';
  return redacted;
}

/** Every item of one resource, with the kind and apiVersion a list's items do not carry, and the list's resourceVersion. */
async function listResource(
  config: KubeConfig,
  resource: Resource,
): Promise<{ items: JsonObject[]; resourceVersion: string }> {
  const items: JsonObject[] = [];
  const resourceVersion = await listAll(config, resource.path, (page) => {
    for (const item of page) items.push({ apiVersion: resource.apiVersion, kind: resource.kind, ...item });
  });
  return { items, resourceVersion };
}

/** Whether a failed list means the kind's CRDs are not installed: nothing to list, not a failure. */
function notInstalled(resource: Resource, error: unknown): boolean {
  return isFromCrd(resource.kind) && error instanceof ApiError && error.status === 404;
}

/** One snapshot of everything the cache and the audit read (`storage-policy audit --kubeconfig`). */
export async function listCluster(config: KubeConfig): Promise<JsonObject[]> {
  const lists = await Promise.all(
    STATE_RESOURCES.map((resource) =>
      listResource(config, resource).catch((error: unknown) => {
        if (notInstalled(resource, error)) return { items: [], resourceVersion: '' };
        throw error;
      }),
    ),
  );
  return lists.flatMap((list) => list.items);
}

/** What the cache saw: a full list of a kind (replacing what came before), or one watch event. */
export type CacheEvent =
  | { type: 'LISTED'; kind: CachedKind; objects: JsonObject[] }
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; kind: CachedKind; object: JsonObject };

interface CacheOptions {
  /** First retry delay after a failed list or a dropped watch; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A watch that receives nothing for this long is closed and opened again from the last version seen. */
  watchIdleMs?: number;
}

/** How long the API server keeps one watch open before it ends it (and the cache opens the next). */
const WATCH_TIMEOUT_SECONDS = 300;

/**
 * The API server sends a quiet watch a bookmark about once a minute (k8s.io/apiserver, storage/cacher:
 * defaultBookmarkFrequency), so a watch silent for longer has likely lost its connection. client-node's Watch ends
 * a watch after 30 s without data: every quiet kind's watch ended in an error and the kind was listed again, a full
 * LIST every 30 s per kind and replica.
 */
const WATCH_IDLE_MS = 90_000;

/** client-node's Watch ends a watch that received nothing for its requestTimeoutMs with this error. */
const isIdleTimeout = (error: unknown): boolean => error instanceof Error && error.name === 'TimeoutError';

/**
 * Keeps a ClusterState in step with the API server (every cached kind of the kind table): for each kind a paged list, then a watch from its resourceVersion, re-watched when it closes and
 * re-listed (with backoff) when it fails or the version expires (a watch that goes quiet is re-watched, not re-listed). Only the derived fields the rules need are
 * stored. While a kind has not synced, or has lost its watch and cannot list again, lookups answer "unknown"
 * and lookupFailure decides. Listeners (the audit) see every list and event, objects with kind and apiVersion set.
 */
export class ClusterCache {
  private readonly synced = new Set<CachedKind>();
  private readonly problems = new Map<CachedKind, string>();
  private readonly absentKinds = new Set<CachedKind>();
  private readonly aborts = new Set<AbortController>();
  private readonly listeners: Array<(event: CacheEvent) => void> = [];
  private stopped = false;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly watchIdleMs: number;

  constructor(
    private readonly config: KubeConfig,
    private readonly state: ClusterState,
    private readonly logger: Logger,
    options: CacheOptions = {},
  ) {
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.watchIdleMs = options.watchIdleMs ?? WATCH_IDLE_MS;
    this.updateAvailability();
  }

  /**
   * Every kind listed once. Readiness waits for this only: a later watch loss must not take the webhook out
   * of its Service, since with failurePolicy Fail that would block every claim.
   */
  get initialSyncDone(): boolean {
    return LOOKUP_RESOURCES.every(({ kind }) => this.synced.has(kind));
  }

  status(): Partial<Record<CachedKind, string>> {
    const status: Partial<Record<CachedKind, string>> = {};
    for (const { kind } of STATE_RESOURCES)
      status[kind] =
        this.problems.get(kind) ??
        (this.absentKinds.has(kind) ? 'not installed' : this.synced.has(kind) ? 'synced' : 'syncing');
    return status;
  }

  onEvent(listener: (event: CacheEvent) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    for (const resource of STATE_RESOURCES) void this.reflect(resource);
  }

  stop(): void {
    this.stopped = true;
    for (const controller of this.aborts) controller.abort();
    this.aborts.clear();
  }

  private updateAvailability(): void {
    const missing = LOOKUP_RESOURCES.find(({ kind }) => !this.synced.has(kind) || this.problems.has(kind));
    if (!missing) return this.state.setUnavailable(undefined);
    const problem = this.problems.get(missing.kind);
    this.state.setUnavailable(
      problem
        ? `cluster cache for ${missing.kind} unavailable: ${problem}`
        : `cluster cache for ${missing.kind} not synced yet`,
    );
  }

  private emit(event: CacheEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error({ kind: event.kind, err: error }, 'cluster cache listener failed');
      }
    }
  }

  private async list(resource: Resource): Promise<string> {
    const { items, resourceVersion } = await listResource(this.config, resource);
    this.state.setAbsent(resource.kind, false);
    this.state.replaceAll(resource.kind, items);
    this.emit({ type: 'LISTED', kind: resource.kind, objects: items });
    return resourceVersion;
  }

  private apply(kind: CachedKind, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: JsonObject): void {
    const namespace = stringAt(object, 'metadata', 'namespace') ?? '';
    const name = stringAt(object, 'metadata', 'name') ?? '';
    if (type === 'DELETED') this.state.remove(kind, namespace, name);
    else this.state.upsert(kind, object);
    this.emit({ type, kind, object });
  }

  /**
   * Watches from resourceVersion until the watch ends; resolves with the last version seen, or undefined when it must
   * re-list. A watch that went quiet is opened again from that version, not listed again: the API server sends every
   * change after it, or 410 Gone when it no longer can.
   */
  private async watch(resource: Resource, resourceVersion: string): Promise<string | undefined> {
    const { kind, path } = resource;
    const { Watch } = await clientNode();
    return new Promise((resolve) => {
      let latest = resourceVersion;
      let expired = false;
      const watcher = new Watch(this.config);
      // client-node's idle limit is a private field (30 s) with no option; its own informer re-watches on it too.
      Reflect.set(watcher, 'requestTimeoutMs', this.watchIdleMs);
      let controller: AbortController | undefined;
      const done = (error: unknown): void => {
        if (controller) this.aborts.delete(controller);
        const quiet = isIdleTimeout(error);
        if (quiet) this.logger.debug({ kind, idleMs: this.watchIdleMs }, 'watch was quiet; watching it again');
        else if (error && !this.stopped)
          this.logger.warn({ kind, err: redactedError(error) }, 'watch ended with an error');
        resolve(expired || (error && !quiet) ? undefined : latest);
      };
      watcher
        .watch(
          path,
          { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_TIMEOUT_SECONDS },
          (type: string, object: unknown) => {
            if (type === 'ERROR') {
              // 410 Gone: the version is too old to watch from; a fresh list is needed.
              expired = true;
              controller?.abort();
              return;
            }
            if (!isObject(object)) return;
            latest = stringAt(objectAt(object, 'metadata'), 'resourceVersion') ?? latest;
            if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')
              this.apply(kind, type, { apiVersion: resource.apiVersion, kind, ...object });
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

  private async reflect(resource: Resource): Promise<void> {
    const { kind } = resource;
    let backoff = this.initialBackoffMs;
    let resourceVersion: string | undefined;
    while (!this.stopped) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.list(resource);
          this.absentKinds.delete(kind);
          this.synced.add(kind);
          this.problems.delete(kind);
          this.updateAvailability();
          this.logger.info({ kind, size: this.state.size }, 'cluster cache synced');
        }
        const started = Date.now();
        resourceVersion = await this.watch(resource, resourceVersion);
        if (Date.now() - started > 10_000) backoff = this.initialBackoffMs;
        if (resourceVersion !== undefined) continue;
      } catch (error) {
        resourceVersion = undefined;
        if (notInstalled(resource, error)) {
          // Synced as absent: lookups of the kind are unknown, the rest of the cache serves; checked again at the
          // longest backoff, so CRDs installed later are picked up without a restart.
          if (!this.absentKinds.has(kind))
            this.logger.info(
              { kind, retryInMs: this.maxBackoffMs },
              'not installed in this cluster (no CRD); checking again',
            );
          this.absentKinds.add(kind);
          this.state.replaceAll(kind, []);
          this.state.setAbsent(kind, true);
          this.synced.add(kind);
          this.problems.delete(kind);
          this.updateAvailability();
          if (this.stopped) break;
          await new Promise((resolve) => setTimeout(resolve, this.maxBackoffMs));
          continue;
        }
        const redacted = redactedError(error);
        this.problems.set(kind, redacted.message);
        this.updateAvailability();
        this.logger.error({ kind, err: redacted, retryInMs: backoff }, 'cluster cache list failed');
      }
      if (this.stopped) break;
      await new Promise((resolve) => setTimeout(resolve, backoff * (0.8 + Math.random() * 0.4)));
      backoff = Math.min(backoff * 2, this.maxBackoffMs);
    }
  }
}
