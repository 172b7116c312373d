import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { JsonObject } from '../src/core/json.js';
import { makeCertificateAuthority, makeServingCertificate } from '../src/server/tls.js';

/** Resources listed across the API group (cluster-scoped, or every namespace), filtered by one `key=value` label. */
const LISTED = [
  'policyreports',
  'clusterpolicyreports',
  'reports',
  'clusterreports',
  'validatingadmissionpolicies',
  'validatingadmissionpolicybindings',
  'mutatingadmissionpolicies',
  'mutatingadmissionpolicybindings',
];

/**
 * Objects with optimistic concurrency (Leases, Secrets, webhook configurations), PolicyReports and admission policies
 * by server-side apply, as the API server keeps them, on loopback; /version answers `minor`.
 */
export class FakeApiServer {
  server: Server | undefined;
  readonly objects = new Map<string, JsonObject>();
  writes: string[] = [];
  /** Requests answered 429 before any is served, as an API server whose new CRD's storage is initializing. */
  refuse = 0;
  /** What /version says. */
  minor = '37';
  private version = 1;

  async start(cert: { key: string; cert: string }): Promise<number> {
    this.server = createServer({ key: cert.key, cert: cert.cert }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', 'https://localhost');
        const path = url.pathname;
        const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject) : undefined;
        const refused = this.refuse > 0;
        if (refused) this.refuse -= 1;
        const [status, answer] = refused
          ? [429, { kind: 'Status', code: 429, message: 'storage is (re)initializing' }]
          : this.answer(request.method ?? 'GET', path, body, url.searchParams.get('labelSelector') ?? undefined);
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return (this.server?.address() as AddressInfo).port;
  }

  private store(path: string, body: JsonObject): JsonObject {
    this.version += 1;
    const stored = {
      ...body,
      metadata: { ...(body['metadata'] as JsonObject), resourceVersion: String(this.version) },
    };
    this.objects.set(path, stored);
    return stored;
  }

  private answer(
    method: string,
    path: string,
    body: JsonObject | undefined,
    labelSelector: string | undefined,
  ): [number, JsonObject] {
    const existing = this.objects.get(path);
    const plural = path.split('/').pop() ?? '';
    if (method === 'GET' && path === '/version') return [200, { major: '1', minor: this.minor }];
    if (method === 'GET' && path === '/apis/admissionregistration.k8s.io/v1')
      return [
        200,
        {
          kind: 'APIResourceList',
          resources: LISTED.filter(
            (resource) =>
              resource.includes('admission') && (Number(this.minor) >= 36 || !resource.startsWith('mutating')),
          ).map((name) => ({ name })),
        },
      ];
    if (method === 'GET' && LISTED.includes(plural)) {
      // A list across namespaces: every stored object of that resource in that API group.
      const group = path.slice(0, path.lastIndexOf('/'));
      const [key, value] = (labelSelector ?? '').split('=');
      const items = [...this.objects.entries()]
        .filter(([stored]) => stored.startsWith(group) && stored.includes(`/${plural}/`))
        .map(([, object]) => object)
        .filter(
          (object) =>
            !key ||
            ((object['metadata'] as JsonObject)['labels'] as Record<string, string> | undefined)?.[key] === value,
        );
      return [200, { kind: 'List', metadata: { resourceVersion: String(this.version) }, items }];
    }
    if (method === 'GET') return existing ? [200, existing] : [404, { kind: 'Status', code: 404 }];
    if (method === 'POST' && body) {
      const target = `${path}/${(body['metadata'] as JsonObject)['name'] as string}`;
      if (this.objects.has(target)) return [409, { kind: 'Status', code: 409 }];
      return [201, this.store(target, body)];
    }
    if (method === 'PUT' && body) {
      if (
        !existing ||
        (body['metadata'] as JsonObject)['resourceVersion'] !== (existing['metadata'] as JsonObject)['resourceVersion']
      )
        return [409, { kind: 'Status', code: 409 }];
      return [200, this.store(path, body)];
    }
    if (method === 'PATCH' && body) {
      this.writes.push(`apply ${path}`);
      return [200, this.store(path, body)];
    }
    if (method === 'DELETE') {
      this.writes.push(`delete ${path}`);
      return this.objects.delete(path) ? [200, { kind: 'Status', code: 200 }] : [404, { kind: 'Status', code: 404 }];
    }
    return [405, { kind: 'Status', code: 405 }];
  }

  /** Starts on a loopback port with a certificate of its own CA, and returns a kubeconfig that trusts it. */
  startWithConfig(): Promise<KubeConfig> {
    return loopbackKubeConfig((cert) => this.start(cert));
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/**
 * A loopback HTTPS server started by `start` with a serving certificate of a new CA, and a kubeconfig that trusts
 * that CA and sends `token`.
 */
export async function loopbackKubeConfig(
  start: (cert: { key: string; cert: string }) => Promise<number>,
  token = 't',
): Promise<KubeConfig> {
  const ca = await makeCertificateAuthority('loopback apiserver CA');
  const port = await start(await makeServingCertificate(['127.0.0.1'], ca));
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [
      { name: 'loopback', server: `https://127.0.0.1:${port}`, caData: Buffer.from(ca.cert).toString('base64') },
    ],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'c', cluster: 'loopback', user: 'u' }],
    currentContext: 'c',
  });
  return config;
}
