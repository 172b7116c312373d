import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { numberAt, stringAt, type JsonObject } from '../core/json.js';
import { ApiError, callApi } from '../lookup/kube-api.js';

/** metav1.MicroTime: RFC 3339 with six fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/Z$/, '000Z');
}

interface LeaseOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** How often the holder renews and the others look. */
  retryPeriodMs?: number;
}

/** The lease as another candidate last saw it, and when (by this process's clock, so clock skew does not matter). */
interface Observed {
  holder: string;
  renewTime: string;
  atMs: number;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the holder renews
 * every retry period; another candidate takes over only after seeing the same record unchanged for a whole
 * lease duration (by its own clock), and writes with the record's resourceVersion, so two candidates never
 * both win. A holder that cannot renew for a lease duration steps down; one that stops releases the lease.
 */
export class LeaseElector {
  private leader = false;
  private observed: Observed | undefined;
  private lastRenewMs = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The attempt in progress: stop waits for it, so a renewal cannot land after the release. */
  private attempt: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners: Array<(leader: boolean) => void> = [];
  private readonly leaseDurationSeconds: number;
  private readonly retryPeriodMs: number;
  private readonly path: string;

  constructor(
    private readonly config: KubeConfig,
    private readonly options: LeaseOptions,
    private readonly logger: Logger,
  ) {
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/leases/${encodeURIComponent(options.name)}`;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Called with true on winning the lease and false on losing or releasing it. */
  onLeadership(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    const tick = async (): Promise<void> => {
      this.attempt = this.tryAcquireOrRenew();
      await this.attempt;
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.retryPeriodMs).unref();
    };
    void tick();
  }

  /** Stops competing; a holder gives the lease up so another replica takes over without waiting it out. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.attempt;
    if (!this.leader) return;
    this.setLeader(false);
    try {
      const lease = await callApi(this.config, { method: 'GET', path: this.path });
      if (stringAt(lease, 'spec', 'holderIdentity') !== this.options.identity) return;
      const spec = {
        ...(lease['spec'] as JsonObject),
        holderIdentity: '',
        leaseDurationSeconds: 1,
        renewTime: microTime(new Date()),
      };
      await callApi(this.config, { method: 'PUT', path: this.path, body: { ...lease, spec } });
    } catch (error) {
      this.logger.warn(
        { err: error },
        `could not release the lease ${this.options.name}; another replica takes over once it expires`,
      );
    }
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.logger.info(
      { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity, leader },
      leader ? 'became the lease holder' : 'no longer the lease holder',
    );
    for (const listener of this.listeners) listener(leader);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = new Date();
    try {
      const lease = await this.read();
      if (this.stopped) return;
      if (!lease) {
        await callApi(this.config, {
          method: 'POST',
          path: this.path.slice(0, this.path.lastIndexOf('/')),
          body: this.leaseBody(now, undefined),
        });
        this.renewed(now);
        return;
      }
      const holder = stringAt(lease, 'spec', 'holderIdentity') ?? '';
      const renewTime = stringAt(lease, 'spec', 'renewTime') ?? '';
      if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime)
        this.observed = { holder, renewTime, atMs: now.getTime() };
      const duration = (numberAt(lease, 'spec', 'leaseDurationSeconds') ?? this.leaseDurationSeconds) * 1000;
      if (holder !== '' && holder !== this.options.identity && now.getTime() < this.observed.atMs + duration) {
        this.setLeader(false);
        return;
      }
      await callApi(this.config, { method: 'PUT', path: this.path, body: this.leaseBody(now, lease) });
      this.renewed(now);
    } catch (error) {
      // 409: another candidate wrote first; it leads this round.
      if (!(error instanceof ApiError && error.status === 409))
        this.logger.warn({ err: error }, `lease ${this.options.name}: could not acquire or renew`);
      if (this.leader && Date.now() - this.lastRenewMs > this.leaseDurationSeconds * 1000) this.setLeader(false);
    }
  }

  private renewed(now: Date): void {
    this.lastRenewMs = now.getTime();
    this.setLeader(true);
  }

  private async read(): Promise<JsonObject | undefined> {
    try {
      return await callApi(this.config, { method: 'GET', path: this.path });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  private leaseBody(now: Date, current: JsonObject | undefined): JsonObject {
    const held = stringAt(current, 'spec', 'holderIdentity') === this.options.identity;
    const transitions = numberAt(current, 'spec', 'leaseTransitions') ?? 0;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.options.name,
        namespace: this.options.namespace,
        ...(current ? { resourceVersion: stringAt(current, 'metadata', 'resourceVersion') ?? '' } : {}),
      },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.leaseDurationSeconds,
        acquireTime: held ? (stringAt(current, 'spec', 'acquireTime') ?? microTime(now)) : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: held || !current ? transitions : transitions + 1,
      },
    };
  }
}
