import type { Logger } from 'pino';
import { isAuditedKind } from '../core/kinds.js';
import { stringAt } from '../core/json.js';
import { Auditor } from '../audit/auditor.js';
import type { Engine } from '../engine/engine.js';
import { nextDatedInstant } from '../engine/exceptions.js';
import { timerAt } from './timers.js';
import type { CacheEvent, ClusterCache } from '../lookup/cluster-cache.js';
import type { LeaseElector } from './leader.js';
import type { WebhookMetrics } from './metrics.js';
import type { ReportWriter } from './report-writer.js';
import type { WebhookState } from './state.js';

interface AuditLoopOptions {
  /** A full audit at least this often, changes or not. */
  intervalMs: number;
  /** Quiet time after a change before judging it, and the least time between two runs. */
  debounceMs?: number;
  /** With a writer, the lease holder keeps the PolicyReports current; without, the audit feeds metrics only. */
  reports?: { writer: ReportWriter; elector: LeaseElector };
}

/** Longest stretch an audit run holds the event loop. */
const SLICE_MS = 20;

/**
 * The background audit in `serve`: fed by the cluster cache's lists and watch events, it judges existing
 * objects with the serving engine once everything is listed, again for what each change touches, fully on
 * every policy reload and every interval, and publishes the result as metrics and (on the lease holder) as
 * PolicyReports.
 */
export class AuditLoop {
  private readonly auditor: Auditor;
  private timer: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private enforced: NodeJS.Timeout | undefined;
  private idleCrossing: NodeJS.Timeout | undefined;
  /** Said once per process: the cluster reports no Unused condition, so idle claims cannot be reported. */
  private saidNoUnusedCondition = false;
  private lastRunMs = 0;
  private zones = '';
  private running = false;
  private readonly debounceMs: number;

  constructor(
    private readonly state: WebhookState,
    private readonly cache: ClusterCache,
    private readonly metrics: WebhookMetrics,
    private readonly logger: Logger,
    private readonly options: AuditLoopOptions,
  ) {
    this.debounceMs = options.debounceMs ?? 1_000;
    // Results are only read to write reports: a webhook that writes none keeps the violations it counts.
    this.auditor = new Auditor({ keepResults: options.reports !== undefined });
  }

  start(): void {
    this.cache.onEvent((event) => this.observe(event));
    this.state.onSwap(() => {
      this.auditor.invalidateAll();
      this.schedule();
      this.auditWhenEnforced();
    });
    this.periodic = setInterval(() => {
      this.auditor.invalidateAll();
      this.schedule();
    }, this.options.intervalMs).unref();
    this.auditWhenEnforced();
    this.options.reports?.elector.onLeadership((leader) => this.leadershipChanged(leader));
    this.options.reports?.elector.start();
  }

  /**
   * A policy's enforceFrom turns its warnings into denials at that instant, and an exception's expiresAt its skips into
   * failures: the reports follow then, not at the next hourly run.
   */
  private auditWhenEnforced(): void {
    clearTimeout(this.enforced);
    const set = this.state.policySet;
    this.enforced = timerAt(nextDatedInstant(set?.policies ?? [], set?.exceptions ?? [], Date.now()), () => {
      this.auditor.invalidateAll();
      this.schedule();
      this.auditWhenEnforced();
    });
  }

  /**
   * A bound claim crosses its namespace's idleAfter with no event of its own: the audit runs again then (at the
   * shortest idleAfter of the policies governing claims there), not at the next interval.
   */
  private auditWhenIdle(engine: Engine): void {
    clearTimeout(this.idleCrossing);
    const now = Date.now();
    const limits = new Map<string, number | undefined>();
    let next = Number.POSITIVE_INFINITY;
    for (const { namespace, since } of this.auditor.unusedClaims()) {
      if (!limits.has(namespace)) limits.set(namespace, engine.costLimits(namespace).idleAfterMs);
      const idleAfter = limits.get(namespace);
      if (idleAfter !== undefined && since + idleAfter > now) next = Math.min(next, since + idleAfter);
    }
    this.idleCrossing = timerAt(next, () => {
      this.auditor.invalidateAll();
      this.schedule();
    });
  }

  /** What a namespace's claims cost, idle and in all, and their budget, as gauges. */
  private publishCosts(engine: Engine): void {
    const round = (amount: number): number => Math.round(amount * 100) / 100;
    this.metrics.namespaceMonthlyCost.reset();
    this.metrics.namespaceIdleMonthlyCost.reset();
    this.metrics.namespaceCostBudget.reset();
    const costs = this.auditor.monthlyCosts();
    for (const [namespace, cost] of costs)
      this.metrics.namespaceMonthlyCost.set({ namespace, currency: cost.currency }, round(cost.total));
    for (const [namespace, cost] of this.auditor.idleMonthlyCosts())
      this.metrics.namespaceIdleMonthlyCost.set({ namespace, currency: cost.currency }, round(cost.total));
    for (const namespace of costs.keys()) {
      const { budget, currency } = engine.costLimits(namespace);
      if (budget !== undefined) this.metrics.namespaceCostBudget.set({ namespace, currency }, budget);
    }
    const idlePolicies = (this.state.policySet?.policies ?? []).some((policy) => policy.cost?.idleAfter !== undefined);
    if (idlePolicies && !this.saidNoUnusedCondition && this.auditor.unusedConditionReported() === false) {
      this.saidNoUnusedCondition = true;
      this.logger.warn(
        "no bound claim carries the Unused condition (Kubernetes 1.37+, feature gate PersistentVolumeClaimUnusedSinceTime, set by kube-controller-manager's PVC-protection controller): cost.idleAfter reports no idle claims on this cluster",
      );
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.idleCrossing);
    clearTimeout(this.enforced);
    clearTimeout(this.timer);
    clearInterval(this.periodic);
    await this.options.reports?.writer.stop();
    await this.options.reports?.elector.stop();
  }

  /** The lease changed hands: a new holder reads what the cluster has and writes what differs. */
  private leadershipChanged(leader: boolean): void {
    this.metrics.auditLeader.set(leader ? 1 : 0);
    if (!leader) return void this.options.reports?.writer.stop();
    this.options.reports?.writer.reset();
    if (!this.auditor.pending && this.lastRunMs > 0) void this.options.reports?.writer.sync(this.auditor.reports());
    else this.schedule();
  }

  private observe(event: CacheEvent): void {
    if (event.type === 'LISTED') {
      if (isAuditedKind(event.kind)) this.auditor.replaceKind(event.kind, event.objects);
      else this.auditor.invalidateAll();
    } else if (event.kind === 'Namespace') {
      this.auditor.invalidateNamespace(stringAt(event.object, 'metadata', 'name') ?? '');
    } else if (event.kind === 'Node') {
      // Nodes report status every few seconds; only a change in the set of zones matters to a verdict.
      const zones = this.state.lookup.nodeZones();
      const now = zones.known ? zones.value.join(',') : '';
      if (now === this.zones) return;
      this.zones = now;
      this.auditor.invalidateAll();
    } else {
      if (event.type === 'DELETED') this.auditor.remove(event.object);
      else this.auditor.upsert(event.object);
      // A class's change moves the verdict of every claim that uses it.
      if (event.kind === 'StorageClass' || event.kind === 'VolumeAttributesClass') this.auditor.invalidateAll();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(this.debounceMs, this.lastRunMs + this.debounceMs * 2 - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, wait);
    this.timer.unref();
  }

  /**
   * Judges what is pending, in slices of SLICE_MS with the event loop free in between (admission requests share
   * it: a full audit of 10,000 claims is about half a second of CPU), then publishes metrics and reports.
   */
  private async run(): Promise<void> {
    const engine = this.state.engine;
    if (this.running || !engine || !this.cache.initialSyncDone) return;
    this.running = true;
    try {
      const started = process.hrtime.bigint();
      const judged = this.auditor.begin();
      while (!this.auditor.continueRun(engine, SLICE_MS)) await new Promise((resolve) => setImmediate(resolve));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.lastRunMs = Date.now();
      this.metrics.auditDuration.observe({ scope: judged === this.auditor.size ? 'full' : 'incremental' }, seconds);
      this.metrics.auditLastRun.set(this.lastRunMs / 1000);
      this.metrics.auditObjects.set(this.auditor.size);
      this.metrics.auditViolations.reset();
      for (const { policy, rule, namespace, count } of this.auditor.violations().values())
        this.metrics.auditViolations.set({ policy, rule, namespace }, count);
      this.logger.debug({ judged, objects: this.auditor.size, seconds }, 'audit run');
      const reports = this.options.reports;
      this.publishCosts(engine);
      this.auditWhenIdle(engine);
      if (reports?.elector.isLeader) void reports.writer.sync(this.auditor.reports());
    } finally {
      this.running = false;
    }
    // Changes that arrived during the run.
    if (this.auditor.pending) this.schedule();
  }
}
