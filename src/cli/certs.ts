import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { arrayAt, isObject, objectAt, stringAt, type JsonObject } from '../core/json.js';
import { makeCertificateAuthority, makeClientCertificate, makeServingCertificate } from '../server/tls.js';
import { integerOption, listOption, stringOption, UsageError, type OptionSpec, type ParsedOptions } from './options.js';

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
const CA_INJECTION_ANNOTATION = 'cert-manager.io/inject-ca-from';

export const CERTS_OPTIONS: OptionSpec[] = [
  { name: 'out', type: 'string', help: 'folder to write ca.crt, tls.crt, tls.key, webhook-configurations.yaml (and kustomization.yaml for --service)' },
  { name: 'service', type: 'string', default: 'storage-policy-webhook', help: 'Service the API server calls (SANs <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local)' },
  { name: 'namespace', type: 'string', default: 'storage-policy-webhook', help: 'namespace of the Service' },
  { name: 'url', type: 'string', help: 'instead of a Service, a webhook outside the cluster at this https URL (its host becomes a SAN)' },
  { name: 'host', type: 'string', multiple: true, help: 'extra DNS name or IP for the certificate (repeatable)' },
  { name: 'days', type: 'string', default: '365', help: 'validity of the CA and the serving certificate' },
  { name: 'policy-reports', type: 'boolean', help: 'the overlay also includes deploy/components/policy-reports (PolicyReport CRDs, report RBAC, --policy-reports=true)' },
  { name: 'client', type: 'boolean', help: 'also write client.crt/client.key (signed by the same CA) for the API server, for serve --client-ca ca.crt (mTLS)' },
];

function serviceHosts(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/** The webhook configurations of deploy/, pointed at a URL or kept on the Service, with the CA in caBundle. */
async function renderWebhookConfigurations(caBundle: string, target: { url: string } | { service: string; namespace: string }): Promise<JsonObject[]> {
  const text = await readFile(join(DEPLOY_DIR, 'webhook-configurations.yaml'), 'utf8');
  return parseAllDocuments(text).map((document) => {
    const configuration = document.toJS() as JsonObject;
    const annotations = objectAt(configuration, 'metadata', 'annotations');
    if (annotations) delete annotations[CA_INJECTION_ANNOTATION];
    for (const webhook of arrayAt(configuration, 'webhooks') ?? []) {
      if (!isObject(webhook)) continue;
      const path = stringAt(webhook, 'clientConfig', 'service', 'path') ?? '/';
      webhook['clientConfig'] =
        'url' in target ? { url: new URL(path, target.url).toString(), caBundle } : { service: { name: target.service, namespace: target.namespace, path, port: 443 }, caBundle };
    }
    return configuration;
  });
}

export async function certs(values: ParsedOptions): Promise<string> {
  const out = stringOption(values, 'out');
  if (!out) throw new UsageError('certs needs --out DIR');
  if (!stringOption(values, 'url') && !relative(DEPLOY_DIR, resolve(out)).startsWith('..')) {
    throw new UsageError(`--out must be outside ${DEPLOY_DIR}: kustomize refuses an overlay inside its base`);
  }
  const days = integerOption(values, 'days', 1, 3650) ?? 365;
  const url = stringOption(values, 'url');
  const service = stringOption(values, 'service') ?? 'storage-policy-webhook';
  const namespace = stringOption(values, 'namespace') ?? 'storage-policy-webhook';
  let hosts: string[];
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url ${url} is not a URL`);
    }
    if (parsed.protocol !== 'https:') throw new UsageError('--url must be https: the API server calls webhooks over TLS only');
    hosts = [parsed.hostname.replace(/^\[|\]$/g, '')];
  } else {
    hosts = serviceHosts(service, namespace);
  }
  hosts.push(...listOption(values, 'host'));

  const ca = await makeCertificateAuthority('storage-policy-webhook CA', days);
  const serving = await makeServingCertificate(hosts, ca, days);
  const caBundle = Buffer.from(ca.cert).toString('base64');
  const configurations = await renderWebhookConfigurations(caBundle, url ? { url } : { service, namespace });

  await mkdir(out, { recursive: true });
  await writeFresh(join(out, 'ca.crt'), ca.cert, 0o644);
  await writeFresh(join(out, 'tls.crt'), serving.cert, 0o644);
  await writeFresh(join(out, 'tls.key'), serving.key, 0o600);
  if (values['client'] === true) {
    const client = await makeClientCertificate('kube-apiserver', ca, days);
    await writeFresh(join(out, 'client.crt'), client.cert, 0o644);
    await writeFresh(join(out, 'client.key'), client.key, 0o600);
  }
  await writeFresh(join(out, 'webhook-configurations.yaml'), configurations.map((configuration) => stringify(configuration)).join('---\n'), 0o644);
  if (!url) {
    // An overlay on deploy/: the Secret the Deployment mounts, and the configurations with caBundle.
    const overlay = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(resolve(out), DEPLOY_DIR)],
      ...(values['policy-reports'] === true ? { components: [relative(resolve(out), join(DEPLOY_DIR, 'components', 'policy-reports'))] } : {}),
      secretGenerator: [{ name: 'storage-policy-webhook-tls', namespace, type: 'kubernetes.io/tls', files: ['tls.crt', 'tls.key'], options: { disableNameSuffixHash: true } }],
      patches: configurations.map((configuration) => ({
        target: { kind: stringAt(configuration, 'kind') ?? '', name: stringAt(configuration, 'metadata', 'name') ?? '' },
        patch: stringify((arrayAt(configuration, 'webhooks') ?? []).map((_, index) => ({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: caBundle }))),
      })),
    };
    await writeFresh(join(out, 'kustomization.yaml'), stringify(overlay), 0o644);
  }
  return `wrote ${out}: CA and serving certificate for ${hosts.join(', ')} (valid ${days} days)${url ? `, webhook configurations for ${url}` : `; apply with: kubectl apply -k ${out}`}`;
}
