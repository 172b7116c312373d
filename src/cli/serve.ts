import { pino, type Logger } from 'pino';
import { hostname } from 'node:os';
import { ClusterCache } from '../lookup/cluster-cache.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { loadKubeConfig } from '../lookup/kube-api.js';
import { loadInventory } from '../lookup/inventory.js';
import { NO_CLUSTER, type ClusterLookup } from '../lookup/lookup.js';
import { BUNDLED_POLICIES_DIR } from '../policy/load.js';
import {
  FAILURE_POLICIES,
  isFailurePolicy,
  type FailurePolicy,
  type WebhookRegistration,
  type WebhookTarget,
} from '../admission/webhook-configurations.js';
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { isReportApi, REPORT_API_VERSION, REPORT_APIS } from '../audit/reports.js';
import { isActive } from '../engine/exceptions.js';
import { AuditLoop } from '../server/audit-loop.js';
import { CertificateAuthority, DEFAULT_ROTATION, SelfManagedCertificates } from '../server/certificate-authority.js';
import { LeaseElector } from '../server/leader.js';
import { ReportWriter } from '../server/report-writer.js';
import {
  buildOpsServer,
  buildServer,
  DEFAULT_BODY_LIMIT,
  DEFAULT_LIMITS,
  DEFAULT_OVERLOAD,
  setServingCertificate,
} from '../server/app.js';
import { heapGuardBytes } from '../server/memory.js';
import { WebhookMetrics } from '../server/metrics.js';
import { certificateExpiry, CertificateReloader, PolicyReloader, readKeyPair } from '../server/reload.js';
import { WebhookState } from '../server/state.js';
import { DEFAULT_SELF_SIGNED_HOSTS, makeServingCertificate, TLS_POLICY } from '../server/tls.js';
import {
  certificateHost,
  httpsUrlOption,
  integerOption,
  listOption,
  stringOption,
  UsageError,
  type OptionSpec,
  type ParsedOptions,
} from './options.js';

export const SERVE_OPTIONS: OptionSpec[] = [
  { name: 'port', type: 'string', env: 'PORT', default: '8443', help: 'TLS port to listen on (0: any free port)' },
  {
    name: 'host',
    type: 'string',
    env: 'HOST',
    default: '0.0.0.0',
    help: 'address to listen on (:: for IPv6 and IPv4)',
  },
  {
    name: 'cert',
    type: 'string',
    env: 'TLS_CERT_FILE',
    help: 'PEM serving certificate, reloaded when it changes; without --cert/--key a self-signed one is generated',
  },
  { name: 'key', type: 'string', env: 'TLS_KEY_FILE', help: 'PEM private key of --cert' },
  {
    name: 'policies',
    type: 'string',
    env: 'POLICIES_DIR',
    default: BUNDLED_POLICIES_DIR,
    help: 'folder of policy files, reloaded when it changes and on SIGHUP',
  },
  {
    name: 'watch',
    type: 'string',
    env: 'WATCH',
    default: 'true',
    help: 'true or false: watch the policy folder and certificate files for changes',
  },
  {
    name: 'inventory',
    type: 'string',
    env: 'INVENTORY',
    multiple: true,
    help: 'YAML of StorageClasses, Namespaces, PVCs standing in for the cluster',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    help: 'kubeconfig for the live cluster cache (in a pod, the service account is used)',
  },
  {
    name: 'cluster-cache',
    type: 'string',
    env: 'CLUSTER_CACHE',
    default: 'auto',
    help: 'auto (on with --kubeconfig or inside a pod), on, or off',
  },
  {
    name: 'client-ca',
    type: 'string',
    env: 'CLIENT_CA_FILE',
    help: 'PEM CA: require client certificates signed by it (mTLS with the API server)',
  },
  {
    name: 'max-event-loop-delay-ms',
    type: 'string',
    env: 'MAX_EVENT_LOOP_DELAY_MS',
    default: String(DEFAULT_OVERLOAD.maxEventLoopDelayMs),
    help: 'admission answers 503 + Retry-After beyond this event loop delay',
  },
  {
    name: 'max-connections',
    type: 'string',
    env: 'MAX_CONNECTIONS',
    default: String(DEFAULT_OVERLOAD.maxConnections),
    help: 'admission connections beyond this are refused',
  },
  {
    name: 'max-connections-per-address',
    type: 'string',
    env: 'MAX_CONNECTIONS_PER_ADDRESS',
    default: String(DEFAULT_LIMITS.maxConnectionsPerAddress),
    help: 'admission connections one client address may hold, so one client cannot take every slot',
  },
  {
    name: 'max-concurrent-streams',
    type: 'string',
    env: 'MAX_CONCURRENT_STREAMS',
    default: String(DEFAULT_LIMITS.maxConcurrentStreams),
    help: 'HTTP/2 streams one connection may have open at once',
  },
  {
    name: 'max-inflight-body-bytes',
    type: 'string',
    env: 'MAX_INFLIGHT_BODY_BYTES',
    default: String(DEFAULT_LIMITS.inFlightBodyBytes),
    help: 'request bytes received or judged at once; beyond, 503 with Retry-After',
  },
  {
    name: 'request-timeout-seconds',
    type: 'string',
    env: 'REQUEST_TIMEOUT_SECONDS',
    default: String(DEFAULT_LIMITS.requestTimeoutSeconds),
    help: 'headers and body of a request (HTTP/1.1) or stream (HTTP/2) must arrive within this, or it is dropped',
  },
  {
    name: 'ops-port',
    type: 'string',
    env: 'OPS_PORT',
    default: '8080',
    help: 'plain HTTP port for /healthz, /readyz and /metrics (0: any free port)',
  },
  { name: 'ops-host', type: 'string', env: 'OPS_HOST', default: '0.0.0.0', help: 'listen address of the ops port' },
  {
    name: 'max-body-bytes',
    type: 'string',
    env: 'MAX_BODY_BYTES',
    default: String(DEFAULT_BODY_LIMIT),
    help: 'largest AdmissionReview body accepted (413 beyond)',
  },
  {
    name: 'shutdown-delay-seconds',
    type: 'string',
    env: 'SHUTDOWN_DELAY_SECONDS',
    default: '5',
    help: 'on SIGTERM, seconds /readyz fails before the listener closes, so endpoints drop the pod first',
  },
  {
    name: 'shutdown-timeout-seconds',
    type: 'string',
    env: 'SHUTDOWN_TIMEOUT_SECONDS',
    default: '20',
    help: 'on SIGTERM, the most seconds in-flight requests get before the process exits',
  },
  {
    name: 'audit',
    type: 'string',
    env: 'AUDIT',
    default: 'true',
    help: 'true or false: with the cluster cache, audit existing objects in the background (metrics, PolicyReports)',
  },
  {
    name: 'audit-interval-seconds',
    type: 'string',
    env: 'AUDIT_INTERVAL_SECONDS',
    default: '3600',
    help: 'a full audit at least this often, besides the ones changes and reloads start',
  },
  {
    name: 'policy-reports',
    type: 'string',
    env: 'POLICY_REPORTS',
    default: 'false',
    help: 'true or false: the audit Lease holder writes PolicyReports (needs the wgpolicyk8s.io CRDs and deploy/components/policy-reports RBAC)',
  },
  {
    name: 'report-api',
    type: 'string',
    env: 'REPORT_API',
    default: REPORT_API_VERSION,
    help: `with --policy-reports: the report API to write, ${Object.keys(REPORT_APIS).join(' or ')} (Report and ClusterReport, the successor Kyverno 1.15+ writes)`,
  },
  {
    name: 'lease-namespace',
    type: 'string',
    env: 'POD_NAMESPACE',
    help: "namespace of the audit and certificate Leases and of the certificate Secret (in a pod: the pod's own)",
  },
  {
    name: 'certificates',
    type: 'string',
    env: 'CERTIFICATES',
    default: 'auto',
    help: 'auto (--cert/--key files when given, else a generated self-signed one for trying it out) or managed (a CA and serving certificate in a Secret, rotated, and the webhook entries registered with that CA; needs a cluster)',
  },
  {
    name: 'tls-secret',
    type: 'string',
    env: 'TLS_SECRET',
    default: 'storage-policy-webhook-tls',
    help: 'with --certificates managed: the Secret holding the CA and serving certificate',
  },
  {
    name: 'webhook-configuration',
    type: 'string',
    env: 'WEBHOOK_CONFIGURATION',
    default: 'storage-policy-webhook',
    help: 'with --certificates managed: name of the Mutating and ValidatingWebhookConfiguration whose webhook entries it registers (installed empty)',
  },
  {
    name: 'service',
    type: 'string',
    env: 'SERVICE_NAME',
    default: 'storage-policy-webhook',
    help: 'with --certificates managed: the Service the API server calls (the certificate names <service>.<namespace>.svc)',
  },
  {
    name: 'tls-host',
    type: 'string',
    multiple: true,
    help: 'with --certificates managed: another DNS name or IP for the serving certificate (repeatable)',
  },
  {
    name: 'webhook-url',
    type: 'string',
    env: 'WEBHOOK_URL',
    help: 'with --certificates managed: register the webhooks at this https URL (a webhook outside the cluster) instead of the Service; its host joins the certificate',
  },
  {
    name: 'failure-policy',
    type: 'string',
    env: 'FAILURE_POLICY',
    default: 'Fail',
    help: 'with --certificates managed: the failurePolicy registered once this replica serves and a policy is loaded; until then, and with no policy, Ignore (Fail or Ignore)',
  },
  {
    name: 'timeout-seconds',
    type: 'string',
    env: 'WEBHOOK_TIMEOUT_SECONDS',
    default: '5',
    help: 'with --certificates managed: timeoutSeconds of the registered webhooks (1 to 30)',
  },
  {
    name: 'exclude-namespaces',
    type: 'string',
    env: 'EXCLUDE_NAMESPACES',
    default: 'kube-system',
    help: 'with --certificates managed: comma-separated namespaces never sent to the webhook, beside its own',
  },
  {
    name: 'ca-lifetime-seconds',
    type: 'string',
    env: 'CA_LIFETIME_SECONDS',
    default: String(DEFAULT_ROTATION.caLifetimeMs / 1000),
    help: 'with --certificates managed: CA lifetime; a new CA is staged with a third left',
  },
  {
    name: 'certificate-lifetime-seconds',
    type: 'string',
    env: 'CERTIFICATE_LIFETIME_SECONDS',
    default: String(DEFAULT_ROTATION.servingLifetimeMs / 1000),
    help: 'with --certificates managed: serving certificate lifetime; renewed with a third left',
  },
  {
    name: 'certificate-overlap-seconds',
    type: 'string',
    env: 'CERTIFICATE_OVERLAP_SECONDS',
    default: String(DEFAULT_ROTATION.overlapMs / 1000),
    help: 'with --certificates managed: how long a new CA is trusted before it signs, and the old one after',
  },
  {
    name: 'log-level',
    type: 'string',
    env: 'LOG_LEVEL',
    default: 'info',
    help: 'pino level: fatal, error, warn, info, debug, trace',
  },
];

interface Lookups {
  lookup: ClusterLookup;
  cache: ClusterCache | undefined;
  config: KubeConfig | undefined;
}

async function lookupsFor(values: ParsedOptions, logger: Logger): Promise<Lookups> {
  const inventory = listOption(values, 'inventory');
  const kubeconfig = stringOption(values, 'kubeconfig');
  const mode = stringOption(values, 'cluster-cache') ?? 'auto';
  if (!['auto', 'on', 'off'].includes(mode))
    throw new UsageError(`--cluster-cache must be auto, on or off, not ${mode}`);
  const useCache =
    mode === 'on' ||
    (mode === 'auto' && (kubeconfig !== undefined || process.env['KUBERNETES_SERVICE_HOST'] !== undefined));
  if (useCache && inventory.length > 0)
    throw new UsageError(
      '--inventory and the cluster cache are alternatives; pass --cluster-cache off to use the inventory',
    );
  if (useCache) {
    const state = new ClusterState('cluster cache not synced yet');
    const config = await loadKubeConfig(kubeconfig);
    return { lookup: state, cache: new ClusterCache(config, state, logger), config };
  }
  if (inventory.length > 0)
    return loadInventory(inventory).then((state) => ({ lookup: state, cache: undefined, config: undefined }));
  return { lookup: NO_CLUSTER, cache: undefined, config: undefined };
}

function booleanOption(values: ParsedOptions, name: string): boolean {
  const text = stringOption(values, name);
  if (text !== 'true' && text !== 'false') throw new UsageError(`--${name} must be true or false, not ${text ?? ''}`);
  return text === 'true';
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

interface AuditParts {
  state: WebhookState;
  cache: ClusterCache;
  config: KubeConfig;
  metrics: WebhookMetrics;
  logger: Logger;
  writeReports: boolean;
}

/** The pod's namespace: --lease-namespace (POD_NAMESPACE), else the service account's. */
async function ownNamespace(values: ParsedOptions, needed: string): Promise<string> {
  const namespace =
    stringOption(values, 'lease-namespace') ??
    (await readFile(SERVICE_ACCOUNT_NAMESPACE, 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    ));
  if (!namespace) throw new UsageError(`${needed} needs --lease-namespace (POD_NAMESPACE) outside a pod`);
  return namespace;
}

const IDENTITY = process.env['POD_NAME'] ?? `${hostname()}-${process.pid}`;

/** The background audit; with --policy-reports, one replica (the Lease holder) writes the reports. */
async function auditLoopFor(values: ParsedOptions, parts: AuditParts): Promise<AuditLoop> {
  const { state, cache, config, metrics, logger } = parts;
  const intervalMs = (integerOption(values, 'audit-interval-seconds', 10, 7 * 86_400) ?? 3600) * 1000;
  if (!parts.writeReports) return new AuditLoop(state, cache, metrics, logger, { intervalMs });
  const namespace = await ownNamespace(values, '--policy-reports');
  const elector = new LeaseElector(
    config,
    { namespace, name: 'storage-policy-webhook-audit', identity: IDENTITY },
    logger,
  );
  const api = stringOption(values, 'report-api') ?? REPORT_API_VERSION;
  if (!isReportApi(api))
    throw new UsageError(`--report-api must be ${Object.keys(REPORT_APIS).join(' or ')}, not ${api}`);
  const writer = new ReportWriter(config, metrics, logger, { mayWrite: () => elector.isLeader, api });
  return new AuditLoop(state, cache, metrics, logger, { intervalMs, reports: { writer, elector } });
}

/**
 * --certificates managed: the Secret, its Lease holder, the hosts the serving certificate names, and what the
 * holder registers. `guarding` says whether this replica serves with a policy loaded: until it does, the webhooks
 * are registered with failurePolicy Ignore, so a webhook that never starts or has nothing to enforce can never be
 * the reason a write fails.
 */
async function managedCertificates(
  values: ParsedOptions,
  config: KubeConfig | undefined,
  logger: Logger,
  guarding: () => boolean,
): Promise<SelfManagedCertificates> {
  const namespace = await ownNamespace(values, '--certificates managed');
  const kubeConfig = config ?? (await loadKubeConfig(stringOption(values, 'kubeconfig')));
  const service = stringOption(values, 'service') ?? 'storage-policy-webhook';
  const seconds = (name: string, fallbackMs: number): number =>
    (integerOption(values, name, 1, 100 * 365 * 86_400) ?? fallbackMs / 1000) * 1000;
  const configured = stringOption(values, 'failure-policy') ?? 'Fail';
  if (!isFailurePolicy(configured))
    throw new UsageError(`--failure-policy must be ${FAILURE_POLICIES.join(' or ')}, not ${configured}`);
  const url = httpsUrlOption(values, 'webhook-url');
  const target: WebhookTarget = url ? { url: url.toString() } : { service: { name: service, namespace, port: 443 } };
  const timeoutSeconds = integerOption(values, 'timeout-seconds', 1, 30) ?? 5;
  const excluded = (stringOption(values, 'exclude-namespaces') ?? 'kube-system')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name !== namespace);
  let registered: FailurePolicy | undefined;
  const registration = (caBundle: string): WebhookRegistration => {
    const failurePolicy = guarding() ? configured : 'Ignore';
    if (failurePolicy !== registered) {
      registered = failurePolicy;
      logger.info({ failurePolicy, configured, guarding: guarding() }, 'webhook registration: failurePolicy');
    }
    return {
      target,
      caBundle,
      failurePolicy,
      timeoutSeconds,
      excludedNamespaces: ['kube-system', namespace, ...excluded].filter(
        (name, index, all) => all.indexOf(name) === index,
      ),
    };
  };
  const authority = new CertificateAuthority(
    kubeConfig,
    {
      namespace,
      secretName: stringOption(values, 'tls-secret') ?? 'storage-policy-webhook-tls',
      configuration: stringOption(values, 'webhook-configuration') ?? 'storage-policy-webhook',
      registration,
      hosts: [
        `${service}.${namespace}.svc`,
        `${service}.${namespace}.svc.cluster.local`,
        service,
        `${service}.${namespace}`,
        ...(url ? [certificateHost(url)] : []),
        ...listOption(values, 'tls-host'),
      ],
      times: {
        caLifetimeMs: seconds('ca-lifetime-seconds', DEFAULT_ROTATION.caLifetimeMs),
        servingLifetimeMs: seconds('certificate-lifetime-seconds', DEFAULT_ROTATION.servingLifetimeMs),
        overlapMs: seconds('certificate-overlap-seconds', DEFAULT_ROTATION.overlapMs),
      },
    },
    logger,
  );
  const elector = new LeaseElector(
    kubeConfig,
    { namespace, name: 'storage-policy-webhook-certificates', identity: IDENTITY },
    logger,
  );
  // Rounds at least three times per overlap, so each step follows the one before within a fraction of it.
  return new SelfManagedCertificates(authority, elector, logger, Math.min(5_000, authority.times.overlapMs / 3));
}

export async function serve(values: ParsedOptions): Promise<void> {
  // Log lines are buffered (4 KiB) instead of one write(2) per admission; flushed on exit and every second.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = pino(
    { level: stringOption(values, 'log-level') ?? 'info', base: { service: 'storage-policy-webhook' } },
    destination,
  );
  setInterval(() => destination.flush(), 1000).unref();
  process.once('exit', () => {
    try {
      destination.flushSync();
    } catch {
      // A write still in flight at exit: the kernel has the rest of the buffer already.
    }
  });
  const port = integerOption(values, 'port', 0, 65535) ?? 8443;
  const bodyLimit = integerOption(values, 'max-body-bytes', 1024, 64 * 1024 * 1024) ?? DEFAULT_BODY_LIMIT;
  const shutdownDelay = integerOption(values, 'shutdown-delay-seconds', 0, 300) ?? 5;
  const shutdownTimeout = integerOption(values, 'shutdown-timeout-seconds', 1, 600) ?? 20;
  const watchFiles = stringOption(values, 'watch') !== 'false';
  const policiesDir = stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR;
  const certFile = stringOption(values, 'cert');
  const keyFile = stringOption(values, 'key');
  if (Boolean(certFile) !== Boolean(keyFile)) throw new UsageError('--cert and --key go together');

  const auditing = booleanOption(values, 'audit');
  const writeReports = booleanOption(values, 'policy-reports');
  const metrics = new WebhookMetrics();
  const { lookup, cache, config } = await lookupsFor(values, logger);
  const state = new WebhookState(lookup, () => cache?.initialSyncDone ?? true);
  const reloader = new PolicyReloader(state, policiesDir, metrics, logger);
  if (!(await reloader.reload('startup'))) {
    process.stderr.write(`${state.lastReloadError ?? 'invalid policy set'}\n`);
    process.exitCode = 1;
    return;
  }
  const audit =
    cache && config && auditing
      ? await auditLoopFor(values, { state, cache, config, metrics, logger, writeReports })
      : undefined;
  audit?.start();
  cache?.start();

  const clientCaFile = stringOption(values, 'client-ca');
  const clientCa = clientCaFile ? await readFile(clientCaFile) : undefined;
  let tls: { key: string | Buffer; cert: string | Buffer };
  let notAfter: () => Date;
  let certificates: CertificateReloader | undefined;
  let managed: SelfManagedCertificates | undefined;
  let listening = false;
  const certificateMode = stringOption(values, 'certificates') ?? 'auto';
  if (certificateMode !== 'auto' && certificateMode !== 'managed')
    throw new UsageError(`--certificates must be auto or managed, not ${certificateMode}`);
  if (certificateMode === 'managed') {
    if (certFile) throw new UsageError('--certificates managed and --cert/--key are alternatives');
    const self = await managedCertificates(
      values,
      config,
      logger,
      () => listening && (state.policySet?.policies.length ?? 0) > 0,
    );
    managed = self;
    // The first pair is served at startup; later ones (renewal, CA rotation) go into the live TLS server, which
    // exists by then: they come from a timer, and nothing is awaited between here and building the server.
    tls = await self.start((pair) =>
      setServingCertificate(app, {
        ...TLS_POLICY,
        ...(clientCa ? { ca: clientCa } : {}),
        key: pair.key,
        cert: pair.cert,
      }),
    );
    notAfter = () => self.notAfter;
  } else if (certFile && keyFile) {
    const pair = await readKeyPair(certFile, keyFile);
    tls = pair;
    certificates = new CertificateReloader(
      certFile,
      keyFile,
      (next) =>
        setServingCertificate(app, {
          ...TLS_POLICY,
          ...(clientCa ? { ca: clientCa } : {}),
          key: next.key,
          cert: next.cert,
        }),
      logger,
      pair.notAfter,
    );
    const reloading = certificates;
    notAfter = () => reloading.notAfter;
  } else {
    logger.warn(
      { hosts: DEFAULT_SELF_SIGNED_HOSTS },
      'no --cert/--key: serving a generated self-signed certificate (fine for trying it out, not for a cluster)',
    );
    tls = await makeServingCertificate(DEFAULT_SELF_SIGNED_HOSTS);
    const expiry = certificateExpiry(tls.cert);
    notAfter = () => expiry;
  }

  const beforeScrape = (): void => {
    metrics.certificateExpiry.set((notAfter().getTime() - Date.now()) / 1000);
    // Exceptions end with time, not with a reload: recounted at each scrape.
    metrics.exceptions.reset();
    metrics.exceptionExpiry.reset();
    for (const exception of (state.policySet?.exceptions ?? []).filter((candidate) =>
      isActive(candidate, Date.now()),
    )) {
      for (const { name } of exception.policies) metrics.exceptions.set({ policy: name, exception: exception.name }, 1);
      if (exception.expiresAt !== undefined)
        metrics.exceptionExpiry.set({ exception: exception.name }, Date.parse(exception.expiresAt) / 1000);
    }
    if (cache)
      for (const [kind, status] of Object.entries(cache.status()))
        metrics.cacheSynced.set({ kind }, status === 'synced' ? 1 : 0);
  };
  const overload = {
    maxEventLoopDelayMs:
      integerOption(values, 'max-event-loop-delay-ms', 10, 60_000) ?? DEFAULT_OVERLOAD.maxEventLoopDelayMs,
    maxHeapUsedBytes: heapGuardBytes(DEFAULT_OVERLOAD.maxHeapUsedBytes),
    maxConnections: integerOption(values, 'max-connections', 1, 1_000_000) ?? DEFAULT_OVERLOAD.maxConnections,
  };
  const limits = {
    requestTimeoutSeconds:
      integerOption(values, 'request-timeout-seconds', 1, 300) ?? DEFAULT_LIMITS.requestTimeoutSeconds,
    maxConnectionsPerAddress:
      integerOption(values, 'max-connections-per-address', 1, 1_000_000) ?? DEFAULT_LIMITS.maxConnectionsPerAddress,
    maxConcurrentStreams:
      integerOption(values, 'max-concurrent-streams', 1, 10_000) ?? DEFAULT_LIMITS.maxConcurrentStreams,
    inFlightBodyBytes:
      integerOption(values, 'max-inflight-body-bytes', 1024, 4 * 1024 ** 3) ?? DEFAULT_LIMITS.inFlightBodyBytes,
  };
  const app = buildServer({
    state,
    logger,
    tls,
    bodyLimit,
    metrics,
    overload,
    limits,
    ...(clientCa ? { clientCa } : {}),
  });
  const ops = buildOpsServer({ state, logger, metrics, beforeScrape });
  await app.listen({ port, host: stringOption(values, 'host') ?? '0.0.0.0' });
  listening = true;
  await ops.listen({
    port: integerOption(values, 'ops-port', 0, 65535) ?? 8080,
    host: stringOption(values, 'ops-host') ?? '0.0.0.0',
  });
  logger.info(
    {
      address: app.server.address(),
      opsAddress: ops.server.address(),
      policiesDir,
      lookup: cache ? 'cluster cache' : listOption(values, 'inventory').length > 0 ? 'inventory' : 'none',
      audit: audit ? (writeReports ? 'metrics and PolicyReports' : 'metrics') : 'off',
      watch: watchFiles,
      limits,
      heapGuardBytes: overload.maxHeapUsedBytes,
    },
    'storage-policy-webhook serving',
  );

  const stopWatching = watchFiles ? [reloader.watch(), ...(certificates ? [certificates.watch()] : [])] : [];
  process.on('SIGHUP', () => {
    void reloader.reload('SIGHUP');
    void certificates?.reload();
  });

  /**
   * A rollout: readiness fails first (for the delay, so endpoints drop this pod), then the admission
   * listener stops accepting, every HTTP/2 session gets GOAWAY and HTTP/1.1 connections close after their
   * response; nothing on an open connection is answered 503. Exit 0 once they are all closed.
   */
  const shutdown = (signal: string): void => {
    state.draining = true;
    app.connections?.announceDrain();
    logger.info(
      { signal, delaySeconds: shutdownDelay },
      'draining: /readyz now fails, HTTP/1.1 responses say Connection: close',
    );
    setTimeout(
      () => {
        logger.error(
          { timeoutSeconds: shutdownTimeout, open: app.connections?.open },
          'connections did not drain in time; exiting',
        );
        process.exit(1);
      },
      (shutdownDelay + shutdownTimeout) * 1000,
    ).unref();
    setTimeout(() => {
      stopWatching.forEach((stop) => stop());
      cache?.stop();
      // The audit Lease is released before exit, so another replica writes reports at once, not after 15 s.
      const released = Promise.all([audit?.stop(), managed?.stop()]);
      logger.info(
        { open: app.connections?.open },
        'closing the admission listener: GOAWAY to HTTP/2 sessions, Connection: close on HTTP/1.1',
      );
      void (app.connections?.drain() ?? Promise.resolve())
        .then(() => Promise.all([app.close(), ops.close(), released]))
        .then(
          () => {
            logger.info('stopped');
            process.exit(0);
          },
          () => process.exit(1),
        );
    }, shutdownDelay * 1000);
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
