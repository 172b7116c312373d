import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { FailurePolicy, WebhookRegistration, WebhookTarget } from '../admission/webhook-configurations.js';
import { isActive } from '../engine/exceptions.js';
import { ClusterCache } from '../lookup/cluster-cache.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { loadInventory } from '../lookup/inventory.js';
import { loadKubeConfig } from '../lookup/kube-api.js';
import { NO_CLUSTER, type ClusterLookup } from '../lookup/lookup.js';
import { buildServer, DEFAULT_OVERLOAD, setServingCertificate } from '../server/app.js';
import { buildOpsServer } from '../server/ops-server.js';
import { AuditLoop } from '../server/audit-loop.js';
import { CertificateAuthority, SelfManagedCertificates } from '../server/certificate-authority.js';
import { FloorSync } from '../server/floor-sync.js';
import { LeaseElector } from '../server/leader.js';
import { heapGuardBytes } from '../server/memory.js';
import { WebhookMetrics } from '../server/metrics.js';
import { certificateExpiry, CertificateReloader, readKeyPair } from '../server/reload.js';
import { PolicyReloader } from '../server/reload.js';
import { ReportWriter } from '../server/report-writer.js';
import { WebhookState } from '../server/state.js';
import { DEFAULT_SELF_SIGNED_HOSTS, makeServingCertificate, TLS_POLICY } from '../server/tls.js';
import { certificateHost, UsageError } from './options.js';
import type { ServeConfig } from './serve-config.js';
import { VERSION } from './version.js';

interface Lookups {
  lookup: ClusterLookup;
  cache: ClusterCache | undefined;
  config: KubeConfig | undefined;
}

async function lookupsFor(config: ServeConfig, logger: Logger): Promise<Lookups> {
  const useCache =
    config.clusterCache === 'on' ||
    (config.clusterCache === 'auto' &&
      (config.kubeconfig !== undefined || process.env['KUBERNETES_SERVICE_HOST'] !== undefined));
  if (useCache && config.inventory.length > 0)
    throw new UsageError(
      '--inventory and the cluster cache are alternatives; pass --cluster-cache off to use the inventory',
    );
  if (useCache) {
    const state = new ClusterState('cluster cache not synced yet');
    const kubeConfig = await loadKubeConfig(config.kubeconfig);
    return { lookup: state, cache: new ClusterCache(kubeConfig, state, logger), config: kubeConfig };
  }
  if (config.inventory.length > 0)
    return loadInventory(config.inventory).then((state) => ({ lookup: state, cache: undefined, config: undefined }));
  return { lookup: NO_CLUSTER, cache: undefined, config: undefined };
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

interface AuditParts {
  state: WebhookState;
  cache: ClusterCache;
  kubeConfig: KubeConfig;
  metrics: WebhookMetrics;
  logger: Logger;
}

/** The pod's namespace: --lease-namespace (POD_NAMESPACE), else the service account's. */
async function ownNamespace(config: ServeConfig, needed: string): Promise<string> {
  const namespace =
    config.leaseNamespace ??
    (await readFile(SERVICE_ACCOUNT_NAMESPACE, 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    ));
  if (!namespace) throw new UsageError(`${needed} needs --lease-namespace (POD_NAMESPACE) outside a pod`);
  return namespace;
}

const IDENTITY = process.env['POD_NAME'] ?? `${hostname()}-${process.pid}`;

/** The namespaces never sent to the webhook: kube-system, its own, and --exclude-namespaces. */
function excludedNamespacesOf(config: ServeConfig, namespace: string): string[] {
  const excluded = config.excludeNamespaces
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  return ['kube-system', namespace, ...excluded].filter((name, index, all) => all.indexOf(name) === index);
}

/** --admission-policies managed: the Lease holder keeps the floor's API objects in step with the loaded policies. */
async function floorSyncFor(config: ServeConfig, parts: AuditParts): Promise<FloorSync> {
  const { state, cache, kubeConfig, metrics, logger } = parts;
  const namespace = await ownNamespace(config, '--admission-policies managed');
  const elector = new LeaseElector(
    kubeConfig,
    { namespace, name: `${config.service}-floor`, identity: IDENTITY },
    logger,
  );
  const floor = new FloorSync(kubeConfig, state, elector, metrics, logger, {
    owner: config.webhookConfiguration,
    excludedNamespaces: excludedNamespacesOf(config, namespace),
  });
  // The provisioner facts are compiled for the classes the cluster has.
  cache.onEvent((event) => {
    if (event.kind === 'StorageClass') floor.request();
  });
  return floor;
}

/** The background audit; with --policy-reports, one replica (the Lease holder) writes the reports. */
async function auditLoopFor(config: ServeConfig, parts: AuditParts): Promise<AuditLoop> {
  const { state, cache, kubeConfig, metrics, logger } = parts;
  const intervalMs = config.auditIntervalSeconds * 1000;
  if (!config.policyReports) return new AuditLoop(state, cache, metrics, logger, { intervalMs });
  const namespace = await ownNamespace(config, '--policy-reports');
  const elector = new LeaseElector(
    kubeConfig,
    { namespace, name: `${config.service}-audit`, identity: IDENTITY },
    logger,
  );
  const writer = new ReportWriter(kubeConfig, metrics, logger, {
    mayWrite: () => elector.isLeader,
    api: config.reportApi,
  });
  return new AuditLoop(state, cache, metrics, logger, { intervalMs, reports: { writer, elector } });
}

/**
 * --certificates managed: the Secret, its Lease holder, the hosts the serving certificate names, and what the
 * holder registers. `guarding` says whether this replica serves with a policy loaded: until it does, the webhooks
 * are registered with failurePolicy Ignore, so a webhook that never starts or has nothing to enforce can never be
 * the reason a write fails.
 */
async function managedCertificates(
  config: ServeConfig,
  kubeConfig: KubeConfig | undefined,
  logger: Logger,
  guarding: () => boolean,
): Promise<SelfManagedCertificates> {
  const namespace = await ownNamespace(config, '--certificates managed');
  const client = kubeConfig ?? (await loadKubeConfig(config.kubeconfig));
  const { service, webhookUrl: url, failurePolicy: configured, timeoutSeconds } = config;
  const target: WebhookTarget = url ? { url: url.toString() } : { service: { name: service, namespace, port: 443 } };
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
      excludedNamespaces: excludedNamespacesOf(config, namespace),
    };
  };
  const authority = new CertificateAuthority(
    client,
    {
      namespace,
      secretName: config.tlsSecret,
      configuration: config.webhookConfiguration,
      registration,
      hosts: [
        `${service}.${namespace}.svc`,
        `${service}.${namespace}.svc.cluster.local`,
        service,
        `${service}.${namespace}`,
        ...(url ? [certificateHost(url)] : []),
        ...config.tlsHosts,
      ],
      times: {
        caLifetimeMs: config.caLifetimeSeconds * 1000,
        servingLifetimeMs: config.certificateLifetimeSeconds * 1000,
        overlapMs: config.certificateOverlapSeconds * 1000,
      },
    },
    logger,
  );
  const elector = new LeaseElector(client, { namespace, name: `${service}-certificates`, identity: IDENTITY }, logger);
  // Rounds at least three times per overlap, so each step follows the one before within a fraction of it.
  return new SelfManagedCertificates(authority, elector, logger, Math.min(5_000, authority.times.overlapMs / 3));
}

/** Log lines are buffered (4 KiB) instead of one write(2) per admission; flushed on exit and every second. */
function bufferedLogger(level: string): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  // Level names ("level":"warn"), as log pipelines and people filter on them, and ISO timestamps.
  const logger = pino(
    {
      level,
      base: { service: 'storage-policy-webhook' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
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
  return logger;
}

/** The serving certificate in one of its three modes, and how a new one reaches the live server. */
interface ServingCertificate {
  tls: { key: string | Buffer; cert: string | Buffer };
  notAfter: () => Date;
  reloader?: CertificateReloader;
  managed?: SelfManagedCertificates;
}

async function servingCertificate(
  config: ServeConfig,
  parts: { kubeConfig: KubeConfig | undefined; logger: Logger; guarding: () => boolean },
  install: (pair: { key: string | Buffer; cert: string | Buffer }) => void,
): Promise<ServingCertificate> {
  if (config.certificates === 'managed') {
    const managed = await managedCertificates(config, parts.kubeConfig, parts.logger, parts.guarding);
    // The first pair is served at startup; later ones (renewal, CA rotation) come from a timer, once the server exists.
    const tls = await managed.start(install);
    return { tls, notAfter: () => managed.notAfter, managed };
  }
  if (config.cert !== undefined && config.key !== undefined) {
    const pair = await readKeyPair(config.cert, config.key);
    const reloader = new CertificateReloader(config.cert, config.key, install, parts.logger, pair.notAfter);
    return { tls: pair, notAfter: () => reloader.notAfter, reloader };
  }
  parts.logger.warn(
    { hosts: DEFAULT_SELF_SIGNED_HOSTS },
    'no --cert/--key: serving a generated self-signed certificate (fine for trying it out, not for a cluster)',
  );
  const tls = await makeServingCertificate(DEFAULT_SELF_SIGNED_HOSTS);
  const expiry = certificateExpiry(tls.cert);
  return { tls, notAfter: () => expiry };
}

/** What /metrics recomputes at each scrape: what ends with time (certificates, exceptions), not with an event. */
function scrapeRefresh(
  metrics: WebhookMetrics,
  state: WebhookState,
  cache: ClusterCache | undefined,
  notAfter: () => Date,
): () => void {
  return () => {
    metrics.certificateExpiration.set(notAfter().getTime() / 1000);
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
        // A kind whose CRDs the cluster lacks is synced as absent: nothing is missing from the cache.
        metrics.cacheSynced.set({ kind }, status === 'synced' || status === 'not installed' ? 1 : 0);
  };
}

export async function serve(config: ServeConfig): Promise<void> {
  const logger = bufferedLogger(config.logLevel);
  const metrics = new WebhookMetrics({ version: VERSION });
  const { lookup, cache, config: kubeConfig } = await lookupsFor(config, logger);
  const state = new WebhookState(lookup, () => cache?.initialSyncDone ?? true);
  const reloader = new PolicyReloader(state, config.policies, metrics, logger);
  if (!(await reloader.reload('startup'))) {
    process.stderr.write(`${state.lastReloadError ?? 'invalid policy set'}\n`);
    process.exitCode = 1;
    return;
  }
  const audit =
    cache && kubeConfig && config.audit
      ? await auditLoopFor(config, { state, cache, kubeConfig, metrics, logger })
      : undefined;
  audit?.start();
  if (config.admissionPolicies === 'managed' && !(cache && kubeConfig))
    throw new UsageError('--admission-policies managed needs a cluster (--kubeconfig or in-cluster credentials)');
  const floor =
    config.admissionPolicies === 'managed' && cache && kubeConfig
      ? await floorSyncFor(config, { state, cache, kubeConfig, metrics, logger })
      : undefined;
  floor?.start();
  cache?.start();

  const clientCa = config.clientCa === undefined ? undefined : await readFile(config.clientCa);
  let listening = false;
  const certificate = await servingCertificate(
    config,
    { kubeConfig, logger, guarding: () => listening && (state.policySet?.policies.length ?? 0) > 0 },
    (pair) =>
      setServingCertificate(app, {
        ...TLS_POLICY,
        ...(clientCa ? { ca: clientCa } : {}),
        key: pair.key,
        cert: pair.cert,
      }),
  );
  const overload = {
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    maxHeapUsedBytes: heapGuardBytes(DEFAULT_OVERLOAD.maxHeapUsedBytes),
    maxConnections: config.maxConnections,
  };
  const limits = {
    requestTimeoutSeconds: config.requestTimeoutSeconds,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    maxConcurrentStreams: config.maxConcurrentStreams,
    inFlightBodyBytes: config.maxInflightBodyBytes,
  };
  const app = buildServer({
    state,
    logger,
    tls: certificate.tls,
    bodyLimit: config.maxBodyBytes,
    metrics,
    overload,
    limits,
    ...(clientCa ? { clientCa } : {}),
  });
  const beforeScrape = scrapeRefresh(metrics, state, cache, certificate.notAfter);
  const ops = buildOpsServer({ state, logger, metrics, beforeScrape });
  await app.listen({ port: config.port, host: config.host });
  listening = true;
  await ops.listen({ port: config.opsPort, host: config.opsHost });
  logger.info(
    {
      address: app.server.address(),
      opsAddress: ops.server.address(),
      policiesDir: config.policies,
      lookup: cache ? 'cluster cache' : config.inventory.length > 0 ? 'inventory' : 'none',
      audit: audit ? (config.policyReports ? 'metrics and PolicyReports' : 'metrics') : 'off',
      watch: config.watch,
      limits,
      heapGuardBytes: overload.maxHeapUsedBytes,
    },
    'storage-policy-webhook serving',
  );

  const stopWatching = config.watch
    ? [reloader.watch(), ...(certificate.reloader ? [certificate.reloader.watch()] : [])]
    : [];
  process.on('SIGHUP', () => {
    void reloader.reload('SIGHUP');
    void certificate.reloader?.reload();
  });
  const stopping = (): Promise<unknown> => {
    stopWatching.forEach((stop) => stop());
    cache?.stop();
    // The audit Lease is released before exit, so another replica writes reports at once, not after 15 s.
    return Promise.all([audit?.stop(), floor?.stop(), certificate.managed?.stop()]);
  };
  const shutdown = drainOnSignal({ app, ops, state, logger, config, stopping });
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/**
 * A rollout: readiness fails first (for the delay, so endpoints drop this pod), then the admission
 * listener stops accepting, every HTTP/2 session gets GOAWAY and HTTP/1.1 connections close after their
 * response; nothing on an open connection is answered 503. Exit 0 once they are all closed.
 */
function drainOnSignal(parts: {
  app: FastifyInstance;
  ops: FastifyInstance;
  state: WebhookState;
  logger: Logger;
  config: ServeConfig;
  stopping: () => Promise<unknown>;
}): (signal: string) => void {
  const { app, ops, state, logger } = parts;
  const { shutdownDelaySeconds: delay, shutdownTimeoutSeconds: timeout } = parts.config;
  return (signal) => {
    state.draining = true;
    app.connections?.announceDrain();
    logger.info(
      { signal, delaySeconds: delay },
      'draining: /readyz now fails, HTTP/1.1 responses say Connection: close',
    );
    setTimeout(
      () => {
        logger.error(
          { timeoutSeconds: timeout, open: app.connections?.open },
          'connections did not drain in time; exiting',
        );
        process.exit(1);
      },
      (delay + timeout) * 1000,
    ).unref();
    setTimeout(() => {
      const released = parts.stopping();
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
    }, delay * 1000);
  };
}
