import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { stringAt, type JsonObject } from '../core/json.js';
import { compileFloor, FLOOR_LABELS } from '../floor/admission-policies.js';
import { nextDatedInstant } from '../engine/exceptions.js';
import { ApiError, callApi, listAll } from '../lookup/kube-api.js';
import type { LeaseElector } from './leader.js';
import type { WebhookMetrics } from './metrics.js';
import type { WebhookState } from './state.js';
import { timerAt } from './timers.js';

// --admission-policies managed: the Lease holder keeps the API-object floor (storage-policy generate
// admission-policies, compiled from the loaded policies) in the cluster: applied on every policy reload, when an
// exception starts or expires or an enforceFrom passes, when a StorageClass changes (the provisioner facts), and
// every few minutes against drift; objects it made that the policies no longer produce are deleted. The API server's
// minor and whether it serves MutatingAdmissionPolicies (discovery) decide whether the default class is in the floor. It touches only
// objects labelled as its own, and each carries an ownerReference to the webhook's ValidatingWebhookConfiguration, so
// uninstalling the webhook lets the garbage collector remove the floor with it.

const GROUP_PATH = '/apis/admissionregistration.k8s.io/v1';
const FIELD_MANAGER = 'storage-policy-webhook-floor';

/** The four kinds of the floor, by the resource they are written to; the mutating ones where the API serves them. */
const RESOURCES = [
  { kind: 'ValidatingAdmissionPolicy', resource: 'validatingadmissionpolicies', mutating: false },
  { kind: 'ValidatingAdmissionPolicyBinding', resource: 'validatingadmissionpolicybindings', mutating: false },
  { kind: 'MutatingAdmissionPolicy', resource: 'mutatingadmissionpolicies', mutating: true },
  { kind: 'MutatingAdmissionPolicyBinding', resource: 'mutatingadmissionpolicybindings', mutating: true },
] as const;

const MAX_RETRY_DELAY_MS = 300_000;

interface FloorSyncOptions {
  /** The ValidatingWebhookConfiguration the floor belongs to (its ownerReference). */
  owner: string;
  /** Namespaces the webhook is never sent: the floor leaves them out too. */
  excludedNamespaces: readonly string[];
  /** A full sync at least this often, against drift (someone deleted a binding). */
  resyncMs?: number;
  initialRetryDelayMs?: number;
}

function resourceOf(object: JsonObject): string {
  const kind = stringAt(object, 'kind');
  const entry = RESOURCES.find((candidate) => candidate.kind === kind);
  if (!entry) throw new Error(`not an admission policy object: ${String(kind)}`);
  return entry.resource;
}

/**
 * What the API server serves: its minor ("37", or "37+" on some managed control planes) and whether it serves
 * MutatingAdmissionPolicies (v1 from 1.36, on by default; a control plane may turn the API off).
 */
async function servedBy(config: KubeConfig): Promise<{ minor: number; mutating: boolean }> {
  const version = await callApi(config, { method: 'GET', path: '/version' });
  const minor = Number.parseInt(stringAt(version, 'minor') ?? '', 10);
  if (!Number.isFinite(minor)) throw new Error(`the API server's /version has no minor: ${JSON.stringify(version)}`);
  const discovery = await callApi(config, { method: 'GET', path: GROUP_PATH });
  const resources = Array.isArray(discovery['resources']) ? discovery['resources'] : [];
  const mutating = resources.some((resource) => stringAt(resource, 'name') === 'mutatingadmissionpolicies');
  return { minor, mutating };
}

export class FloorSync {
  private running: Promise<void> | undefined;
  private again = false;
  private served: { minor: number; mutating: boolean } | undefined;
  private dated: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private readonly initialRetryDelayMs: number;
  private stopped = false;

  constructor(
    private readonly config: KubeConfig,
    private readonly state: WebhookState,
    private readonly elector: LeaseElector,
    private readonly metrics: WebhookMetrics,
    private readonly logger: Logger,
    private readonly options: FloorSyncOptions,
  ) {
    this.initialRetryDelayMs = options.initialRetryDelayMs ?? 2_000;
    this.retryDelayMs = this.initialRetryDelayMs;
  }

  start(): void {
    this.state.onSwap(() => this.request());
    this.elector.onLeadership((leader) => {
      this.metrics.floorLeader.set(leader ? 1 : 0);
      if (leader) this.request();
    });
    this.periodic = setInterval(() => this.request(), this.options.resyncMs ?? 300_000).unref();
    this.elector.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.dated);
    clearTimeout(this.retry);
    clearInterval(this.periodic);
    await this.running;
    await this.elector.stop();
  }

  /** A change the floor may depend on (a StorageClass: its provisioner facts): sync if this replica holds the Lease. */
  request(): void {
    if (this.stopped || !this.elector.isLeader) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /** Resolves once the sync under way (and any it queued) has ended: tests and shutdown wait on it. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      clearTimeout(this.retry);
      try {
        await this.sync();
        this.retryDelayMs = this.initialRetryDelayMs;
        this.metrics.floorSyncs.inc({ result: 'success' });
      } catch (error) {
        this.metrics.floorSyncs.inc({ result: 'failure' });
        this.logger.error({ err: error, retryInMs: this.retryDelayMs }, 'keeping the admission-policy floor failed');
        this.retry = setTimeout(() => this.request(), this.retryDelayMs).unref();
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
      }
    } while (this.again && !this.stopped && this.elector.isLeader);
  }

  private async sync(): Promise<void> {
    const set = this.state.policySet;
    if (!set) return;
    const now = Date.now();
    const served = (this.served ??= await servedBy(this.config));
    const classes = this.state.lookup.storageClasses();
    const floor = compileFloor(set.policies, set.exceptions, {
      // Without the MutatingAdmissionPolicy API the floor is what 1.35 gets: validating policies only.
      kubernetesMinor: served.mutating ? served.minor : Math.min(served.minor, 35),
      static: false,
      classes: classes.known ? classes.value : undefined,
      excludedNamespaces: this.options.excludedNamespaces,
      now,
    });
    const owner = await this.ownerReference();
    const wanted = [...floor.validating, ...floor.mutating];
    for (const object of wanted) {
      if (!this.elector.isLeader) return;
      const name = stringAt(object, 'metadata', 'name') ?? '';
      const metadata = { ...(object['metadata'] as JsonObject), ...(owner ? { ownerReferences: [owner] } : {}) };
      await callApi(this.config, {
        method: 'PATCH',
        path: `${GROUP_PATH}/${resourceOf(object)}/${encodeURIComponent(name)}?fieldManager=${FIELD_MANAGER}&force=true`,
        body: { ...object, metadata },
        contentType: 'application/apply-patch+yaml',
      });
    }
    const names = new Set(wanted.map((object) => `${resourceOf(object)}/${stringAt(object, 'metadata', 'name')}`));
    const selector = `?labelSelector=${encodeURIComponent(
      Object.entries(FLOOR_LABELS)
        .map(([key, value]) => `${key}=${value}`)
        .join(','),
    )}`;
    for (const { resource, mutating } of RESOURCES) {
      if (mutating && !served.mutating) continue;
      const stale: string[] = [];
      await listAll(this.config, `${GROUP_PATH}/${resource}${selector}`, (items) => {
        for (const item of items) {
          const name = stringAt(item, 'metadata', 'name') ?? '';
          if (!names.has(`${resource}/${name}`)) stale.push(name);
        }
      });
      for (const name of stale) {
        if (!this.elector.isLeader) return;
        await callApi(this.config, {
          method: 'DELETE',
          path: `${GROUP_PATH}/${resource}/${encodeURIComponent(name)}`,
        }).catch((error: unknown) => {
          if (!(error instanceof ApiError && error.status === 404)) throw error;
          return {};
        });
      }
    }
    this.metrics.floorObjects.set(wanted.length);
    this.logger.info(
      {
        objects: wanted.length,
        kubernetes: `1.${served.minor}`,
        mutating: served.mutating,
        uncompiled: floor.uncompiled.length,
      },
      'admission-policy floor in step with the policies',
    );
    this.syncWhenDated(now);
  }

  /**
   * The floor compiles an exception only while it is active and a policy's deny as a warning until its enforceFrom:
   * at the next such instant the floor is compiled again.
   */
  private syncWhenDated(now: number): void {
    clearTimeout(this.dated);
    const set = this.state.policySet;
    this.dated = timerAt(nextDatedInstant(set?.policies ?? [], set?.exceptions ?? [], now), () => this.request(), now);
  }

  /** The webhook configuration as the floor's owner; none (and said so) when it is not registered under that name. */
  private async ownerReference(): Promise<JsonObject | undefined> {
    try {
      const configuration = await callApi(this.config, {
        method: 'GET',
        path: `${GROUP_PATH}/validatingwebhookconfigurations/${encodeURIComponent(this.options.owner)}`,
      });
      return {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        name: this.options.owner,
        uid: stringAt(configuration, 'metadata', 'uid') ?? '',
      };
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      this.logger.warn(
        { configuration: this.options.owner },
        'no ValidatingWebhookConfiguration of this name: the floor is kept without an owner, so uninstalling will not remove it',
      );
      return undefined;
    }
  }
}
