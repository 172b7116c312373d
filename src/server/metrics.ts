import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The API server's own webhook latency buckets (apiserver_admission_webhook_admission_duration_seconds:
 * 5 ms, 25 ms, 100 ms, 500 ms, 1 s, 2.5 s), so the two histograms line up, plus finer ones below 5 ms,
 * where this webhook's answers live.
 */
const ADMISSION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 2.5];

/** One registry per server, so tests and several servers in one process do not share counts. */
export class WebhookMetrics {
  readonly registry = new Registry();

  readonly admissionDuration = new Histogram({
    name: 'storage_policy_admission_duration_seconds',
    help: 'Time to answer an AdmissionReview, from parsed body to response.',
    labelNames: ['webhook', 'kind', 'operation', 'decision'] as const,
    buckets: ADMISSION_BUCKETS,
    registers: [this.registry],
  });

  readonly findings = new Counter({
    name: 'storage_policy_findings_total',
    help: 'Findings by policy, rule and the action taken (deny, warn, audit).',
    labelNames: ['policy', 'rule', 'action'] as const,
    registers: [this.registry],
  });

  readonly mutations = new Counter({
    name: 'storage_policy_mutations_total',
    help: 'Mutations applied, by policy and rule.',
    labelNames: ['policy', 'rule'] as const,
    registers: [this.registry],
  });

  readonly connectionsCut = new Counter({
    name: 'storage_policy_connections_cut_total',
    help: 'Admission connections or HTTP/2 streams cut: by a request deadline (deadline) or refused by the per-address cap (per-address).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly badRequests = new Counter({
    name: 'storage_policy_bad_requests_total',
    help: 'Requests answered with a 4xx client error (malformed or not an AdmissionReview v1).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly reloads = new Counter({
    name: 'storage_policy_policy_reloads_total',
    help: 'Policy set reloads by result (success, failure).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly lastGoodReload = new Gauge({
    name: 'storage_policy_policy_last_success_timestamp_seconds',
    help: 'Unix time the serving policy set was loaded.',
    registers: [this.registry],
  });

  readonly policiesLoaded = new Gauge({
    name: 'storage_policy_policies_loaded',
    help: 'Policies in the serving set.',
    registers: [this.registry],
  });

  readonly cacheSynced = new Gauge({
    name: 'storage_policy_cluster_cache_synced',
    help: '1 when the cluster cache for the kind is synced and its watch healthy, else 0.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiration = new Gauge({
    name: 'storage_policy_certificate_expiration_timestamp_seconds',
    help: "When the serving certificate this replica serves expires (its notAfter, Unix seconds), as cert-manager's certmanager_certificate_expiration_timestamp_seconds.",
    registers: [this.registry],
  });

  readonly buildInfo = new Gauge({
    name: 'storage_policy_build_info',
    help: 'Always 1; the version of the webhook and of the Node.js running it, to join on or to count versions in a rollout.',
    labelNames: ['version', 'node_version'] as const,
    registers: [this.registry],
  });

  readonly exceptions = new Gauge({
    name: 'storage_policy_exceptions',
    help: 'Active StoragePolicyExceptions (1 each), by the policy they exempt from and their name.',
    labelNames: ['policy', 'exception'] as const,
    registers: [this.registry],
  });

  readonly exceptionExpiry = new Gauge({
    name: 'storage_policy_exception_expiry_timestamp_seconds',
    help: 'When each active StoragePolicyException expires (Unix seconds); permanent ones are left out.',
    labelNames: ['exception'] as const,
    registers: [this.registry],
  });

  readonly auditViolations = new Gauge({
    name: 'storage_policy_audit_violations',
    help: 'Existing objects failing or warned by a rule (fail and warn results of the last audit), by policy, rule and namespace.',
    labelNames: ['policy', 'rule', 'namespace'] as const,
    registers: [this.registry],
  });

  readonly namespaceMonthlyCost = new Gauge({
    name: 'storage_policy_namespace_monthly_cost',
    help: 'What the claims of a namespace cost a month at list price (the price table of the policies that govern them), from the last audit.',
    labelNames: ['namespace', 'currency'] as const,
    registers: [this.registry],
  });

  readonly namespaceIdleMonthlyCost = new Gauge({
    name: 'storage_policy_namespace_idle_monthly_cost',
    help: "What a namespace's idle claims cost a month at list price: bound claims no pod has used for longer than a governing policy's cost.idleAfter, from the last audit.",
    labelNames: ['namespace', 'currency'] as const,
    registers: [this.registry],
  });

  readonly namespaceCostBudget = new Gauge({
    name: 'storage_policy_namespace_cost_budget',
    help: "The monthly cost budget of a namespace's claims (the smallest cost.maxPerNamespace of the policies that govern them), for each namespace the last audit saw.",
    labelNames: ['namespace', 'currency'] as const,
    registers: [this.registry],
  });

  readonly auditDuration = new Histogram({
    name: 'storage_policy_audit_duration_seconds',
    help: 'Time an audit run took: full (every object judged) or incremental (the namespaces that changed).',
    labelNames: ['scope'] as const,
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly auditLastRun = new Gauge({
    name: 'storage_policy_audit_last_run_timestamp_seconds',
    help: 'Unix time the last audit run finished.',
    registers: [this.registry],
  });

  readonly auditObjects = new Gauge({
    name: 'storage_policy_audit_objects',
    help: 'Objects the audit holds (PVCs, StatefulSets, StorageClasses, VolumeAttributesClasses).',
    registers: [this.registry],
  });

  readonly auditLeader = new Gauge({
    name: 'storage_policy_audit_leader',
    help: '1 while this replica holds the audit Lease and writes the PolicyReports, else 0.',
    registers: [this.registry],
  });

  readonly floorLeader = new Gauge({
    name: 'storage_policy_floor_leader',
    help: '1 while this replica holds the floor Lease and keeps the admission-policy floor (--admission-policies managed), else 0.',
    registers: [this.registry],
  });

  readonly floorObjects = new Gauge({
    name: 'storage_policy_floor_objects',
    help: 'Admission policies and bindings of the floor the last sync applied (--admission-policies managed).',
    registers: [this.registry],
  });

  readonly floorSyncs = new Counter({
    name: 'storage_policy_floor_syncs_total',
    help: 'Syncs of the admission-policy floor by result (success, failure).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly reportWrites = new Counter({
    name: 'storage_policy_report_writes_total',
    help: 'PolicyReport writes by operation (apply, delete) and result (success, failure).',
    labelNames: ['operation', 'result'] as const,
    registers: [this.registry],
  });

  private readonly admissionChildren = new Map<string, { observe(seconds: number): void }>();

  /** One admission's duration; the labelled child is looked up by one string instead of hashing four labels each time. */
  observeAdmission(webhook: string, kind: string, operation: string, decision: string, seconds: number): void {
    const key = `${webhook}\u0000${kind}\u0000${operation}\u0000${decision}`;
    let child = this.admissionChildren.get(key);
    if (!child) {
      child = this.admissionDuration.labels({ webhook, kind, operation, decision });
      this.admissionChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** `version` is the package's; process metrics keep prom-client's standard process_* and nodejs_* names, which the usual dashboards query. */
  constructor(options: { processMetrics?: boolean; version?: string } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.buildInfo.set({ version: options.version ?? 'unknown', node_version: process.version }, 1);
  }
}
