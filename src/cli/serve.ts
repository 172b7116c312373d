import { readFile } from 'node:fs/promises';
import { pino, type Logger } from 'pino';
import { NO_CLUSTER, type ClusterLookup } from '../lookup/lookup.js';
import { loadInventory } from '../lookup/inventory.js';
import { ClusterCache, loadKubeConfig } from '../lookup/cluster-cache.js';
import { ClusterState } from '../lookup/cluster-state.js';
import { BUNDLED_POLICIES_DIR, loadPolicyDir, PolicyLoadError } from '../policy/load.js';
import { buildServer, DEFAULT_BODY_LIMIT } from '../server/app.js';
import { WebhookState } from '../server/state.js';
import { DEFAULT_SELF_SIGNED_HOSTS, makeServingCertificate } from '../server/tls.js';
import { integerOption, listOption, stringOption, UsageError, type OptionSpec, type ParsedOptions } from './options.js';

export const SERVE_OPTIONS: OptionSpec[] = [
  { name: 'port', type: 'string', env: 'PORT', default: '8443', help: 'TLS port to listen on (0: any free port)' },
  { name: 'host', type: 'string', env: 'HOST', default: '0.0.0.0', help: 'address to listen on (:: for IPv6 and IPv4)' },
  { name: 'cert', type: 'string', env: 'TLS_CERT_FILE', help: 'PEM serving certificate; without --cert/--key a self-signed one is generated' },
  { name: 'key', type: 'string', env: 'TLS_KEY_FILE', help: 'PEM private key of --cert' },
  { name: 'policies', type: 'string', env: 'POLICIES_DIR', default: BUNDLED_POLICIES_DIR, help: 'folder of policy files' },
  { name: 'inventory', type: 'string', env: 'INVENTORY', multiple: true, help: 'YAML of StorageClasses, Namespaces, PVCs standing in for the cluster' },
  { name: 'kubeconfig', type: 'string', help: 'kubeconfig for the live cluster cache (in a pod, the service account is used)' },
  { name: 'cluster-cache', type: 'string', env: 'CLUSTER_CACHE', default: 'auto', help: 'auto (on with --kubeconfig or inside a pod), on, or off' },
  { name: 'max-body-bytes', type: 'string', env: 'MAX_BODY_BYTES', default: String(DEFAULT_BODY_LIMIT), help: 'largest AdmissionReview body accepted (413 beyond)' },
  { name: 'log-level', type: 'string', env: 'LOG_LEVEL', default: 'info', help: 'pino level: fatal, error, warn, info, debug, trace' },
];

async function tlsMaterial(values: ParsedOptions, logger: Logger): Promise<{ key: string | Buffer; cert: string | Buffer }> {
  const certFile = stringOption(values, 'cert');
  const keyFile = stringOption(values, 'key');
  if (certFile && keyFile) return { cert: await readFile(certFile), key: await readFile(keyFile) };
  if (certFile || keyFile) throw new UsageError('--cert and --key go together');
  logger.warn({ hosts: DEFAULT_SELF_SIGNED_HOSTS }, 'no --cert/--key: serving a generated self-signed certificate (fine for trying it out, not for a cluster)');
  return makeServingCertificate(DEFAULT_SELF_SIGNED_HOSTS);
}

export async function serve(values: ParsedOptions): Promise<void> {
  const logger = pino({ level: stringOption(values, 'log-level') ?? 'info', base: { service: 'storage-policy-webhook' } });
  const port = integerOption(values, 'port', 0, 65535) ?? 8443;
  const bodyLimit = integerOption(values, 'max-body-bytes', 1024, 64 * 1024 * 1024) ?? DEFAULT_BODY_LIMIT;
  const policiesDir = stringOption(values, 'policies') ?? BUNDLED_POLICIES_DIR;
  const inventory = listOption(values, 'inventory');
  const kubeconfig = stringOption(values, 'kubeconfig');
  const cacheMode = stringOption(values, 'cluster-cache') ?? 'auto';
  if (!['auto', 'on', 'off'].includes(cacheMode)) throw new UsageError(`--cluster-cache must be auto, on or off, not ${cacheMode}`);
  const useCache = cacheMode === 'on' || (cacheMode === 'auto' && (kubeconfig !== undefined || process.env['KUBERNETES_SERVICE_HOST'] !== undefined));
  if (useCache && inventory.length > 0) throw new UsageError('--inventory and the cluster cache are alternatives; pass --cluster-cache off to use the inventory');
  let lookup: ClusterLookup = NO_CLUSTER;
  let cache: ClusterCache | undefined;
  if (useCache) {
    const state = new ClusterState('cluster cache not synced yet');
    cache = new ClusterCache(loadKubeConfig(kubeconfig), state, logger);
    cache.start();
    lookup = state;
  } else if (inventory.length > 0) {
    lookup = await loadInventory(inventory);
  }
  const state = new WebhookState(lookup, () => cache?.initialSyncDone ?? true);

  try {
    state.swap(await loadPolicyDir(policiesDir));
  } catch (error) {
    if (error instanceof PolicyLoadError) {
      cache?.stop();
      logger.fatal({ problems: error.problems }, 'the policy set is invalid; not starting');
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }

  const app = buildServer({ state, logger, tls: await tlsMaterial(values, logger), bodyLimit });
  await app.listen({ port, host: stringOption(values, 'host') ?? '0.0.0.0' });
  logger.info({ port, policies: state.policySet?.policies.map((policy) => policy.name), policiesDir, lookup: cache ? 'cluster cache' : inventory.length > 0 ? 'inventory' : 'none' }, 'storage-policy-webhook serving');

  const reload = async (): Promise<void> => {
    try {
      state.swap(await loadPolicyDir(policiesDir));
      logger.info({ policies: state.policySet?.policies.length }, 'policies reloaded');
    } catch (error) {
      state.lastReloadError = (error as Error).message;
      logger.error({ problems: error instanceof PolicyLoadError ? error.problems : undefined, err: error }, 'policy reload failed; the last good set keeps serving');
    }
  };
  process.on('SIGHUP', () => void reload());
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    cache?.stop();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
