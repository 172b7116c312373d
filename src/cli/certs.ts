import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { webhookConfigurations } from '../admission/webhook-configurations.js';
import { arrayAt, stringAt } from '../core/json.js';
import { makeCertificateAuthority, makeClientCertificate, makeServingCertificate } from '../server/tls.js';
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

/**
 * Writes a new file beside the target with the given mode (O_EXCL: never an existing file, never through a
 * symlink) and renames it over the target: a key never exists with a wider mode, even for a moment, and a
 * symlink planted at the target is replaced, not followed.
 */
async function writeFresh(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

const DEPLOY_DIR = fileURLToPath(new URL('../../../deploy', import.meta.url));

export const CERTS_OPTIONS: OptionSpec[] = [
  {
    name: 'out',
    type: 'string',
    help: 'folder to write ca.crt, tls.crt, tls.key, webhook-configurations.yaml (and kustomization.yaml for --service)',
  },
  {
    name: 'service',
    type: 'string',
    default: 'storage-policy-webhook',
    help: 'Service the API server calls (SANs <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local)',
  },
  { name: 'namespace', type: 'string', default: 'storage-policy-webhook', help: 'namespace of the Service' },
  {
    name: 'url',
    type: 'string',
    help: 'instead of a Service, a webhook outside the cluster at this https URL (its host becomes a SAN)',
  },
  { name: 'host', type: 'string', multiple: true, help: 'extra DNS name or IP for the certificate (repeatable)' },
  { name: 'days', type: 'string', default: '365', help: 'validity of the CA and the serving certificate' },
  {
    name: 'ca-cert',
    type: 'string',
    help: 'renew with this CA (PEM) instead of a new one, so the caBundle the API server trusts stays valid',
  },
  { name: 'ca-key', type: 'string', help: 'private key of --ca-cert (ca.key, written by an earlier run)' },
  {
    name: 'base',
    type: 'string',
    help: 'what the overlay builds on: a kustomize base reference your GitOps tool can reach (a git URL of deploy/, or a path in your repository); default: this package’s deploy/ by relative path',
  },
  {
    name: 'policy-reports',
    type: 'boolean',
    help: 'the overlay also includes deploy/components/policy-reports (PolicyReport CRDs, report RBAC, --policy-reports=true)',
  },
  {
    name: 'client',
    type: 'boolean',
    help: 'also write client.crt/client.key (signed by the same CA) for the API server, for serve --client-ca ca.crt (mTLS)',
  },
];

function serviceHosts(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

/** The base's Deployment switched from --certificates managed to the mounted Secret (the test op fails loudly if the base moved). */
const SERVE_FROM_SECRET = [
  { op: 'test', path: '/spec/template/spec/containers/0/args/2', value: '--certificates=managed' },
  {
    op: 'replace',
    path: '/spec/template/spec/containers/0/args/2',
    value: '--cert=/etc/storage-policy-webhook/tls/tls.crt',
  },
  {
    op: 'add',
    path: '/spec/template/spec/containers/0/args/3',
    value: '--key=/etc/storage-policy-webhook/tls/tls.key',
  },
  {
    op: 'add',
    path: '/spec/template/spec/containers/0/volumeMounts/-',
    value: { name: 'tls', mountPath: '/etc/storage-policy-webhook/tls', readOnly: true },
  },
  {
    op: 'add',
    path: '/spec/template/spec/volumes/-',
    value: { name: 'tls', secret: { secretName: 'storage-policy-webhook-tls' } },
  },
];

/** A folder inside a kustomize base reference: a path, or a remote URL whose ?ref= query stays at the end. */
function withinBase(base: string, folder: string): string {
  const [location = '', query] = base.split('?', 2);
  return `${location.replace(/\/$/, '')}/${folder}${query === undefined ? '' : `?${query}`}`;
}

/** The CA to sign with: the one given (renewal keeps the caBundle), or a new one; and the days left to sign for. */
async function certificateAuthority(
  certFile: string | undefined,
  keyFile: string | undefined,
  days: number,
): Promise<{ cert: string; key: string; days: number }> {
  if (Boolean(certFile) !== Boolean(keyFile)) throw new UsageError('--ca-cert and --ca-key go together');
  if (!certFile || !keyFile) return { ...(await makeCertificateAuthority('storage-policy-webhook CA', days)), days };
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  const authority = new X509Certificate(cert);
  if (!authority.ca) throw new UsageError(`--ca-cert ${certFile} is not a CA certificate`);
  if (!authority.checkPrivateKey(createPrivateKey(key)))
    throw new UsageError(`--ca-key ${keyFile} is not the key of ${certFile}`);
  // A serving certificate cannot outlive its CA: shortened to the CA's remaining life.
  const left = Math.floor((new Date(authority.validTo).getTime() - Date.now()) / 86_400_000);
  if (left < 1)
    throw new UsageError(
      `--ca-cert ${certFile} expires ${authority.validTo}; make a new CA (leave out --ca-cert/--ca-key) and roll the caBundle`,
    );
  return { cert, key, days: Math.min(days, left) };
}

export async function certs(values: ParsedOptions): Promise<string> {
  const out = stringOption(values, 'out');
  if (!out) throw new UsageError('certs needs --out DIR');
  if (!stringOption(values, 'url') && !relative(DEPLOY_DIR, resolve(out)).startsWith('..')) {
    throw new UsageError(`--out must be outside ${DEPLOY_DIR}: kustomize refuses an overlay inside its base`);
  }
  const days = integerOption(values, 'days', 1, 3650) ?? 365;
  const url = httpsUrlOption(values, 'url');
  const service = stringOption(values, 'service') ?? 'storage-policy-webhook';
  const namespace = stringOption(values, 'namespace') ?? 'storage-policy-webhook';
  const hosts = url ? [certificateHost(url)] : serviceHosts(service, namespace);
  hosts.push(...listOption(values, 'host'));

  const ca = await certificateAuthority(stringOption(values, 'ca-cert'), stringOption(values, 'ca-key'), days);
  const serving = await makeServingCertificate(hosts, ca, ca.days);
  const configurations = webhookConfigurations('storage-policy-webhook', {
    target: url ? { url: url.toString() } : { service: { name: service, namespace, port: 443 } },
    caBundle: ca.cert,
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    excludedNamespaces: ['kube-system', namespace],
  });

  await mkdir(out, { recursive: true });
  await writeFresh(join(out, 'ca.crt'), ca.cert, 0o644);
  // Kept so the next renewal signs with the same CA (--ca-cert/--ca-key): the caBundle then never changes.
  await writeFresh(join(out, 'ca.key'), ca.key, 0o600);
  await writeFresh(join(out, 'tls.crt'), serving.cert, 0o644);
  await writeFresh(join(out, 'tls.key'), serving.key, 0o600);
  if (values['client'] === true) {
    const client = await makeClientCertificate('kube-apiserver', ca, days);
    await writeFresh(join(out, 'client.crt'), client.cert, 0o644);
    await writeFresh(join(out, 'client.key'), client.key, 0o600);
  }
  await writeFresh(
    join(out, 'webhook-configurations.yaml'),
    configurations.map((configuration) => stringify(configuration)).join('---\n'),
    0o644,
  );
  if (!url) {
    // An overlay on deploy/: the Secret the Deployment mounts instead of managing its own, and the webhook entries
    // (with caBundle) in the base's empty configurations, which no pod registers any more.
    const base = stringOption(values, 'base');
    const components =
      values['policy-reports'] === true
        ? [
            base
              ? withinBase(base, 'components/policy-reports')
              : relative(resolve(out), join(DEPLOY_DIR, 'components', 'policy-reports')),
          ]
        : [];
    const overlay = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [base ?? relative(resolve(out), DEPLOY_DIR)],
      ...(components.length > 0 ? { components } : {}),
      secretGenerator: [
        {
          name: 'storage-policy-webhook-tls',
          namespace,
          type: 'kubernetes.io/tls',
          files: ['tls.crt', 'tls.key'],
          options: { disableNameSuffixHash: true },
        },
      ],
      patches: [
        { target: { kind: 'Deployment', name: 'storage-policy-webhook' }, patch: stringify(SERVE_FROM_SECRET) },
        ...configurations.map((configuration) => ({
          target: {
            kind: stringAt(configuration, 'kind') ?? '',
            name: stringAt(configuration, 'metadata', 'name') ?? '',
          },
          patch: stringify([{ op: 'add', path: '/webhooks', value: arrayAt(configuration, 'webhooks') ?? [] }]),
        })),
      ],
    };
    await writeFresh(join(out, 'kustomization.yaml'), stringify(overlay), 0o644);
  }
  return `wrote ${out}: CA and serving certificate for ${hosts.join(', ')} (valid ${ca.days} days)${url ? `, webhook configurations for ${url.toString()}` : `; apply with: kubectl apply -k ${out}`}`;
}
