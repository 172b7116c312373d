import { FAILURE_POLICIES, type FailurePolicy } from '../admission/webhook-configurations.js';
import { REPORT_API_VERSION, REPORT_APIS, type ReportApi } from '../audit/reports.js';
import { BUNDLED_POLICIES_DIR } from '../policy/load.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_LIMITS, DEFAULT_OVERLOAD } from '../server/app.js';
import { DEFAULT_ROTATION } from '../server/certificate-authority.js';
import {
  httpsUrlOption,
  listOption,
  stringOption,
  UsageError,
  type OptionSpec,
  type ParsedOptions,
} from './options.js';

// What `serve` is configured with, parsed once from flags and the environment into typed values. Each setting is
// written once here (flag, variable, default, range, help): --help, the parser and the defaults come from it, and a
// typo in a boolean, a number or a choice is refused alike.

interface Setting<T> {
  spec: OptionSpec;
  read(values: ParsedOptions): T;
}

interface Described {
  env?: string;
  help: string;
}

function text(name: string, fallback: string, described: Described): Setting<string> {
  return {
    spec: { name, type: 'string', default: fallback, ...described },
    read: (values) => stringOption(values, name) ?? fallback,
  };
}

function optionalText(name: string, described: Described): Setting<string | undefined> {
  return { spec: { name, type: 'string', ...described }, read: (values) => stringOption(values, name) };
}

function list(name: string, described: Described): Setting<string[]> {
  return { spec: { name, type: 'string', multiple: true, ...described }, read: (values) => listOption(values, name) };
}

function integer(
  name: string,
  fallback: number,
  range: [min: number, max: number],
  described: Described,
): Setting<number> {
  const [min, max] = range;
  return {
    spec: { name, type: 'string', default: String(fallback), ...described },
    read: (values) => {
      const given = stringOption(values, name) ?? String(fallback);
      const value = Number(given);
      if (given.trim() === '' || !Number.isInteger(value) || value < min || value > max)
        throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(given)}`);
      return value;
    },
  };
}

function choice<T extends string>(name: string, choices: readonly T[], fallback: T, described: Described): Setting<T> {
  return {
    spec: { name, type: 'string', default: fallback, ...described },
    read: (values) => {
      const given = stringOption(values, name) ?? fallback;
      const chosen = choices.find((candidate) => candidate === given);
      if (chosen === undefined)
        throw new UsageError(`--${name} must be ${choices.join(', ')}, not ${JSON.stringify(given)}`);
      return chosen;
    },
  };
}

function flag(name: string, fallback: boolean, described: Described): Setting<boolean> {
  const setting = choice(name, ['true', 'false'], fallback ? 'true' : 'false', described);
  return { spec: setting.spec, read: (values) => setting.read(values) === 'true' };
}

function httpsUrl(name: string, described: Described): Setting<URL | undefined> {
  return { spec: { name, type: 'string', ...described }, read: (values) => httpsUrlOption(values, name) };
}

const MANAGED = 'with --certificates managed:';
const YEARS_100 = 100 * 365 * 86_400;

const SETTINGS = {
  port: integer('port', 8443, [0, 65535], { env: 'PORT', help: 'TLS port to listen on (0: any free port)' }),
  host: text('host', '0.0.0.0', { env: 'HOST', help: 'address to listen on (:: for IPv6 and IPv4)' }),
  cert: optionalText('cert', {
    env: 'TLS_CERT_FILE',
    help: 'PEM serving certificate, reloaded when it changes; without --cert/--key a self-signed one is generated',
  }),
  key: optionalText('key', { env: 'TLS_KEY_FILE', help: 'PEM private key of --cert' }),
  policies: text('policies', BUNDLED_POLICIES_DIR, {
    env: 'POLICIES_DIR',
    help: 'folder of policy files, reloaded when it changes and on SIGHUP',
  }),
  watch: flag('watch', true, {
    env: 'WATCH',
    help: 'true or false: watch the policy folder and certificate files for changes',
  }),
  inventory: list('inventory', {
    env: 'INVENTORY',
    help: 'YAML of StorageClasses, Namespaces, PVCs standing in for the cluster',
  }),
  kubeconfig: optionalText('kubeconfig', {
    help: 'kubeconfig for the live cluster cache (in a pod, the service account is used)',
  }),
  clusterCache: choice('cluster-cache', ['auto', 'on', 'off'], 'auto', {
    env: 'CLUSTER_CACHE',
    help: 'auto (on with --kubeconfig or inside a pod), on, or off',
  }),
  clientCa: optionalText('client-ca', {
    env: 'CLIENT_CA_FILE',
    help: 'PEM CA: require client certificates signed by it (mTLS with the API server)',
  }),
  maxEventLoopDelayMs: integer('max-event-loop-delay-ms', DEFAULT_OVERLOAD.maxEventLoopDelayMs, [10, 60_000], {
    env: 'MAX_EVENT_LOOP_DELAY_MS',
    help: 'admission answers 503 + Retry-After beyond this event loop delay',
  }),
  maxConnections: integer('max-connections', DEFAULT_OVERLOAD.maxConnections, [1, 1_000_000], {
    env: 'MAX_CONNECTIONS',
    help: 'admission connections beyond this are refused',
  }),
  maxConnectionsPerAddress: integer(
    'max-connections-per-address',
    DEFAULT_LIMITS.maxConnectionsPerAddress,
    [1, 1_000_000],
    {
      env: 'MAX_CONNECTIONS_PER_ADDRESS',
      help: 'admission connections one client address may hold, so one client cannot take every slot',
    },
  ),
  maxConcurrentStreams: integer('max-concurrent-streams', DEFAULT_LIMITS.maxConcurrentStreams, [1, 10_000], {
    env: 'MAX_CONCURRENT_STREAMS',
    help: 'HTTP/2 streams one connection may have open at once',
  }),
  maxInflightBodyBytes: integer('max-inflight-body-bytes', DEFAULT_LIMITS.inFlightBodyBytes, [1024, 4 * 1024 ** 3], {
    env: 'MAX_INFLIGHT_BODY_BYTES',
    help: 'request bytes received or judged at once; beyond, 503 with Retry-After',
  }),
  requestTimeoutSeconds: integer('request-timeout-seconds', DEFAULT_LIMITS.requestTimeoutSeconds, [1, 300], {
    env: 'REQUEST_TIMEOUT_SECONDS',
    help: 'headers and body of a request (HTTP/1.1) or stream (HTTP/2) must arrive within this, or it is dropped',
  }),
  opsPort: integer('ops-port', 8080, [0, 65535], {
    env: 'OPS_PORT',
    help: 'plain HTTP port for /healthz, /readyz and /metrics (0: any free port)',
  }),
  opsHost: text('ops-host', '0.0.0.0', { env: 'OPS_HOST', help: 'listen address of the ops port' }),
  maxBodyBytes: integer('max-body-bytes', DEFAULT_BODY_LIMIT, [1024, 64 * 1024 * 1024], {
    env: 'MAX_BODY_BYTES',
    help: 'largest AdmissionReview body accepted (413 beyond)',
  }),
  shutdownDelaySeconds: integer('shutdown-delay-seconds', 5, [0, 300], {
    env: 'SHUTDOWN_DELAY_SECONDS',
    help: 'on SIGTERM, seconds /readyz fails before the listener closes, so endpoints drop the pod first',
  }),
  shutdownTimeoutSeconds: integer('shutdown-timeout-seconds', 20, [1, 600], {
    env: 'SHUTDOWN_TIMEOUT_SECONDS',
    help: 'on SIGTERM, the most seconds in-flight requests get before the process exits',
  }),
  audit: flag('audit', true, {
    env: 'AUDIT',
    help: 'true or false: with the cluster cache, audit existing objects in the background (metrics, PolicyReports)',
  }),
  auditIntervalSeconds: integer('audit-interval-seconds', 3600, [10, 7 * 86_400], {
    env: 'AUDIT_INTERVAL_SECONDS',
    help: 'a full audit at least this often, besides the ones changes and reloads start',
  }),
  policyReports: flag('policy-reports', false, {
    env: 'POLICY_REPORTS',
    help: 'true or false: the audit Lease holder writes PolicyReports (needs the wgpolicyk8s.io CRDs and deploy/components/policy-reports RBAC)',
  }),
  reportApi: choice('report-api', Object.keys(REPORT_APIS) as ReportApi[], REPORT_API_VERSION, {
    env: 'REPORT_API',
    help: 'with --policy-reports: the report API to write (Report and ClusterReport are the successor Kyverno 1.15+ writes)',
  }),
  leaseNamespace: optionalText('lease-namespace', {
    env: 'POD_NAMESPACE',
    help: "namespace of the audit and certificate Leases and of the certificate Secret (in a pod: the pod's own)",
  }),
  certificates: choice('certificates', ['auto', 'managed'], 'auto', {
    env: 'CERTIFICATES',
    help: 'auto (--cert/--key files when given, else a generated self-signed one for trying it out) or managed (a CA and serving certificate in a Secret, rotated, and the webhook entries registered with that CA; needs a cluster)',
  }),
  tlsSecret: text('tls-secret', 'storage-policy-webhook-tls', {
    env: 'TLS_SECRET',
    help: `${MANAGED} the Secret holding the CA and serving certificate`,
  }),
  webhookConfiguration: text('webhook-configuration', 'storage-policy-webhook', {
    env: 'WEBHOOK_CONFIGURATION',
    help: `${MANAGED} name of the Mutating and ValidatingWebhookConfiguration whose webhook entries it registers (installed empty); with --admission-policies managed, the owner of the floor's objects`,
  }),
  admissionPolicies: choice('admission-policies', ['off', 'managed'], 'off', {
    env: 'ADMISSION_POLICIES',
    help: "managed: the Lease holder keeps the policies' lookup-free part in the cluster as ValidatingAdmissionPolicies (and MutatingAdmissionPolicies from 1.36) with bindings, in step with reloads and exceptions, owned by the ValidatingWebhookConfiguration (needs a cluster and deploy/components/admission-policies RBAC)",
  }),
  service: text('service', 'storage-policy-webhook', {
    env: 'SERVICE_NAME',
    help: 'the Service the API server calls (with --certificates managed the certificate names <service>.<namespace>.svc); the Leases are named <service>-certificates, <service>-audit and <service>-floor',
  }),
  tlsHosts: list('tls-host', { help: `${MANAGED} another DNS name or IP for the serving certificate (repeatable)` }),
  webhookUrl: httpsUrl('webhook-url', {
    env: 'WEBHOOK_URL',
    help: `${MANAGED} register the webhooks at this https URL (a webhook outside the cluster) instead of the Service; its host joins the certificate`,
  }),
  failurePolicy: choice<FailurePolicy>('failure-policy', FAILURE_POLICIES, 'Fail', {
    env: 'FAILURE_POLICY',
    help: `${MANAGED} the failurePolicy registered once this replica serves and a policy is loaded; until then, and with no policy, Ignore`,
  }),
  timeoutSeconds: integer('timeout-seconds', 5, [1, 30], {
    env: 'WEBHOOK_TIMEOUT_SECONDS',
    help: `${MANAGED} timeoutSeconds of the registered webhooks`,
  }),
  excludeNamespaces: text('exclude-namespaces', 'kube-system', {
    env: 'EXCLUDE_NAMESPACES',
    help: `${MANAGED} comma-separated namespaces never sent to the webhook, beside its own`,
  }),
  caLifetimeSeconds: integer('ca-lifetime-seconds', DEFAULT_ROTATION.caLifetimeMs / 1000, [1, YEARS_100], {
    env: 'CA_LIFETIME_SECONDS',
    help: `${MANAGED} CA lifetime; a new CA is staged with a third left`,
  }),
  certificateLifetimeSeconds: integer(
    'certificate-lifetime-seconds',
    DEFAULT_ROTATION.servingLifetimeMs / 1000,
    [1, YEARS_100],
    {
      env: 'CERTIFICATE_LIFETIME_SECONDS',
      help: `${MANAGED} serving certificate lifetime; renewed with a third left`,
    },
  ),
  certificateOverlapSeconds: integer('certificate-overlap-seconds', DEFAULT_ROTATION.overlapMs / 1000, [1, YEARS_100], {
    env: 'CERTIFICATE_OVERLAP_SECONDS',
    help: `${MANAGED} how long a new CA is trusted before it signs, and the old one after`,
  }),
  logLevel: choice('log-level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', {
    env: 'LOG_LEVEL',
    help: 'pino level',
  }),
};

type Settings = typeof SETTINGS;

/** Everything `serve` is configured with, typed. */
export type ServeConfig = { [Name in keyof Settings]: ReturnType<Settings[Name]['read']> };

export const SERVE_OPTIONS: OptionSpec[] = Object.values(SETTINGS).map((setting) => setting.spec);

/** Reads every setting once, refusing a malformed value of any of them; cross-setting checks included. */
export function serveConfig(values: ParsedOptions): ServeConfig {
  const entries = Object.entries(SETTINGS).map(([name, setting]) => [name, setting.read(values)] as const);
  const config = Object.fromEntries(entries) as ServeConfig;
  if ((config.cert === undefined) !== (config.key === undefined)) throw new UsageError('--cert and --key go together');
  if (config.certificates === 'managed' && config.cert !== undefined)
    throw new UsageError('--certificates managed and --cert/--key are alternatives');
  return config;
}
