import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCertificateAuthority, makeServingCertificate } from '../../src/server/tls.js';
import { eventually, freePort } from '../loopback.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Services get ClusterIPs from this loopback range, so a process bound to one stands in for a Service's pods. */
const SERVICE_CIDR = '127.96.0.0/24';
const CLI = join(ROOT, 'dist/src/cli/main.js');
const BALANCER = join(ROOT, 'dist/test/e2e/balancer.js');

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function httpsOk(url: string, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpsRequest(url, { ca, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
    request.end();
  });
}

/**
 * A real control plane on loopback: etcd and kube-apiserver built from the Go module proxy by
 * test/e2e/cluster/build.sh, certificates generated here, an admin kubeconfig, and the webhook
 * running as a local process registered through deploy/'s webhook configurations.
 */
/**
 * Edits a file (a policy in a test's copy of policies/) by replacing one text: throws when the text is not there, so
 * a test whose policy file has changed fails instead of testing the unedited policy.
 */
export async function editFile(path: string, text: string, replacement: string): Promise<void> {
  const before = await readFile(path, 'utf8');
  if (!before.includes(text)) throw new Error(`${path} no longer contains ${JSON.stringify(text)}`);
  await writeFile(path, before.replace(text, replacement));
}

/**
 * `storage-policy generate admission-policies` on the e2e fixtures' classes into `out` (the floor), as a user runs it;
 * `flags` adds --kubernetes-version, --static, ...
 */
export function generateFloor(out: string, ...flags: string[]): CommandResult {
  const result = spawnSync(
    process.execPath,
    [
      CLI,
      'generate',
      'admission-policies',
      ...flags,
      '--inventory',
      join(ROOT, 'test/e2e/fixtures/cluster.yaml'),
      '--out',
      out,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

export class LocalCluster {
  readonly processes = new Map<string, ChildProcess>();
  dir = '';
  kubeconfig = '';
  /** Authenticates as the webhook's ServiceAccount (storage-policy-webhook/storage-policy-webhook): only deploy/'s RBAC grants it anything. */
  serviceAccountKubeconfig = '';
  webhookPort = 0;
  webhookCa = '';
  private apiserverUrl = '';
  private clusterCa = '';
  /** The kubectl built with the control plane, of the same version. */
  private kubectlPath = 'kubectl';
  private readonly exitHandler = (): void => this.killAll('SIGKILL');

  /** The Kubernetes versions the suite runs on (test/e2e/cluster/versions.env), newest first. */
  static async versions(): Promise<string[]> {
    const pinned = await readFile(join(ROOT, 'test/e2e/cluster/versions.env'), 'utf8');
    const only = process.env['E2E_KUBERNETES_VERSION'];
    const versions = (/KUBERNETES_VERSIONS="([^"]*)"/.exec(pinned)?.[1] ?? '').split(/\s+/).filter(Boolean);
    return only ? versions.filter((version) => version === only) : versions;
  }

  /** Whether build.sh has already built this version (the cache folder it uses, outside the clone). */
  static isBuilt(version: string): boolean {
    const root =
      process.env['STORAGE_POLICY_CACHE'] ??
      join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'storage-policy-webhook');
    return existsSync(join(root, 'kubernetes', version, 'bin', 'kube-apiserver'));
  }

  /** kube-apiserver, kube-controller-manager, kubectl and etcd of one version, built once and cached outside the clone. */
  static build(version: string): { bin: string; seconds: number } {
    const started = Date.now();
    const build = spawnSync('bash', [join(ROOT, 'test/e2e/cluster/build.sh'), version], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      timeout: 40 * 60 * 1000,
    });
    if (build.status !== 0) throw new Error(`building Kubernetes ${version} failed (exit ${build.status})`);
    const bin = build.stdout.trim().split('\n').pop() ?? '';
    return { bin, seconds: Math.round((Date.now() - started) / 1000) };
  }

  /** helm built from the Go module proxy (test/e2e/cluster/build-helm.sh), cached outside the clone. */
  static buildHelm(): string {
    return LocalCluster.tool('build-helm.sh', 'building helm');
  }

  /** promtool of PROMTOOL_VERSION, built once and cached outside the clone. */
  static buildPromtool(): string {
    return LocalCluster.tool('build-promtool.sh', 'building promtool');
  }

  /** The folder of the Prometheus Operator's CRDs (PROMETHEUS_OPERATOR_VERSION), from the Go module proxy. */
  static prometheusOperatorCrds(): string {
    return LocalCluster.tool('prometheus-operator-crds.sh', "fetching the Prometheus Operator's CRDs");
  }

  /** Runs one of test/e2e/cluster's scripts and returns the path it prints on its last line. */
  private static tool(script: string, what: string): string {
    const built = spawnSync('bash', [join(ROOT, 'test/e2e/cluster', script)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      timeout: 30 * 60 * 1000,
    });
    if (built.status !== 0) throw new Error(`${what} failed (exit ${built.status})`);
    return built.stdout.trim().split('\n').pop() ?? '';
  }

  private start(name: string, command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    // The child writes its log file itself: piped through this process, every log line would cost the test (or the
    // bench's load generator) CPU on the same cores the API server and the webhook use.
    const log = openSync(join(this.dir, `${name}.log`), 'w');
    const child = spawn(command, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
    closeSync(log);
    this.processes.set(name, child);
    return child;
  }

  /** Starts etcd, kube-apiserver (with `apiserverArgs` added, e.g. an admission configuration) and kube-controller-manager. */
  async startControlPlane(bin: string, apiserverArgs: readonly string[] = []): Promise<void> {
    this.kubectlPath = join(bin, 'kubectl');
    process.on('exit', this.exitHandler);
    this.dir = await mkdtemp(join(tmpdir(), 'storage-policy-e2e-'));
    const [etcdClient, etcdPeer, apiserver] = [await freePort(), await freePort(), await freePort()];
    this.webhookPort = await freePort();

    const ca = await makeCertificateAuthority('e2e cluster CA');
    const serving = await makeServingCertificate(['127.0.0.1', 'localhost'], ca);
    const serviceAccount = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const token = `e2e-${Math.random().toString(36).slice(2)}`;
    const file = (name: string) => join(this.dir, name);
    await writeFile(file('ca.crt'), ca.cert);
    await writeFile(file('apiserver.crt'), serving.cert);
    await writeFile(file('apiserver.key'), serving.key);
    await writeFile(file('sa.pub'), serviceAccount.publicKey);
    await writeFile(file('sa.key'), serviceAccount.privateKey);
    const serviceAccountToken = `e2e-sa-${Math.random().toString(36).slice(2)}`;
    await writeFile(
      file('tokens.csv'),
      [
        `${token},admin,admin-uid,system:masters`,
        `${serviceAccountToken},system:serviceaccount:storage-policy-webhook:storage-policy-webhook,sa-uid,"system:serviceaccounts,system:serviceaccounts:storage-policy-webhook,system:authenticated"`,
        '',
      ].join('\n'),
    );
    this.apiserverUrl = `https://127.0.0.1:${apiserver}`;
    this.clusterCa = ca.cert;
    this.kubeconfig = await this.writeKubeconfig('kubeconfig', 'admin', token);
    this.serviceAccountKubeconfig = await this.writeKubeconfig('kubeconfig-webhook-sa', 'webhook', serviceAccountToken);

    this.start('etcd', join(bin, 'etcd'), [
      '--name=e2e',
      `--data-dir=${file('etcd-data')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=e2e=http://127.0.0.1:${etcdPeer}`,
      '--log-level=warn',
    ]);
    await eventually('etcd', async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, 30_000, 250);

    this.start('kube-apiserver', join(bin, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // 1.37 refuses a loopback advertise address with the default endpoint reconciler.
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiserver}`,
      `--cert-dir=${file('apiserver-certs')}`,
      `--tls-cert-file=${file('apiserver.crt')}`,
      `--tls-private-key-file=${file('apiserver.key')}`,
      `--client-ca-file=${file('ca.crt')}`,
      `--token-auth-file=${file('tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${file('sa.pub')}`,
      `--service-account-signing-key-file=${file('sa.key')}`,
      // ClusterIPs on loopback: the API server calls a webhook Service at its ClusterIP (ClusterIPServiceResolver), so
      // a call to the chart's Service must land on this machine, never on a private-range address off it.
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--enable-priority-and-fairness=false',
      '--v=1',
      ...apiserverArgs,
    ]);
    await eventually('kube-apiserver /readyz', () => this.kubectl('get', '--raw', '/readyz').status === 0, 90_000, 250);

    // The controllers that turn objects into claims as in a real cluster: the StatefulSet controller
    // creates each replica's PVCs from the templates (through admission, as any client), the Deployment,
    // ReplicaSet, Job and CronJob controllers make pods from templates, the ephemeral-volume controller each
    // pod's generic ephemeral claims, the binder binds claims to pre-bound volumes, the PVC-protection controller
    // marks bound claims no pod uses (condition Unused, 1.37) and lets deleted ones go, and default ServiceAccounts
    // let the pods be created. Each runs as its own ServiceAccount (kube-system/statefulset-controller, ...), as
    // kubeadm and managed clusters set it up.
    this.start('kube-controller-manager', join(bin, 'kube-controller-manager'), [
      `--kubeconfig=${this.kubeconfig}`,
      '--use-service-account-credentials=true',
      '--controllers=statefulset,persistentvolume-binder,serviceaccount,deployment-controller,replicaset-controller,job-controller,cronjob-controller,ephemeral-volume-controller,persistentvolumeclaim-protection-controller',
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
  }

  /** Writes the webhook's certificate and deploy/'s configurations pointed at the local URL, and starts the webhook. */
  async startWebhook(args: string[] = []): Promise<void> {
    const certs = join(this.dir, 'webhook');
    const made = spawnSync(
      process.execPath,
      [CLI, 'certs', '--url', `https://127.0.0.1:${this.webhookPort}`, '--out', certs],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (made.status !== 0) throw new Error(`storage-policy certs failed: ${made.stderr}`);
    this.webhookCa = await readFile(join(certs, 'ca.crt'), 'utf8');
    await this.startWebhookProcess('webhook', this.webhookPort, 5, { args });
  }

  async restartWebhook(): Promise<void> {
    await this.startWebhookProcess('webhook', this.webhookPort);
  }

  /**
   * A webhook process on its own port, with the shared certificate; drains for `shutdownDelay` seconds on SIGTERM.
   * `extra` adds arguments, environment, or another kubeconfig (the ServiceAccount's).
   */
  async startWebhookProcess(
    name: string,
    port: number,
    shutdownDelay = 5,
    extra: { args?: string[]; env?: Record<string, string>; kubeconfig?: string; policies?: string } = {},
  ): Promise<void> {
    const certs = join(this.dir, 'webhook');
    this.start(
      name,
      process.execPath,
      [
        CLI,
        'serve',
        '--host=127.0.0.1',
        `--port=${port}`,
        '--ops-host=127.0.0.1',
        '--ops-port=0',
        `--shutdown-delay-seconds=${shutdownDelay}`,
        `--cert=${join(certs, 'tls.crt')}`,
        `--key=${join(certs, 'tls.key')}`,
        `--kubeconfig=${extra.kubeconfig ?? this.kubeconfig}`,
        `--policies=${extra.policies ?? join(ROOT, 'policies')}`,
        ...(extra.args ?? []),
      ],
      extra.env,
    );
    try {
      await eventually(
        `${name} /readyz (policies loaded, cache synced)`,
        () => httpsOk(`https://127.0.0.1:${port}/readyz`, this.webhookCa),
        30_000,
        250,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await this.logTail(name)}`, { cause: error });
    }
  }

  /** Whether a process of the cluster is still running, and the last lines of its log: what a failed wait reports. */
  private async logTail(name: string, lines = 30): Promise<string> {
    const child = this.processes.get(name);
    const state =
      child?.exitCode !== null || child?.signalCode !== null
        ? `exited (${child?.exitCode ?? child?.signalCode})`
        : 'running';
    const log = await readFile(join(this.dir, `${name}.log`), 'utf8').catch(() => '');
    return `${name} ${state}; last lines of ${name}.log:\n${log.trimEnd().split('\n').slice(-lines).join('\n')}`;
  }

  /**
   * A webhook process that manages its own certificates (serve --certificates managed), as the chart's and the
   * kustomize base's pods do: `args` and `env` are theirs; ready when its ops port's /readyz answers 200.
   */
  async startManagedWebhook(
    name: string,
    port: number,
    kubeconfig: string,
    args: string[],
    env: Record<string, string> = {},
  ): Promise<number> {
    const opsPort = await freePort();
    this.start(
      name,
      process.execPath,
      [
        CLI,
        'serve',
        '--host=127.0.0.1',
        `--port=${port}`,
        '--ops-host=127.0.0.1',
        `--ops-port=${opsPort}`,
        `--kubeconfig=${kubeconfig}`,
        ...args,
      ],
      env,
    );
    await eventually(
      `${name} /readyz`,
      async () => (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.ok === true,
      60_000,
      250,
    );
    return opsPort;
  }

  /** A kubeconfig file for this control plane with a bearer token (an admin's, or a ServiceAccount's from `kubectl create token`). */
  async writeKubeconfig(fileName: string, user: string, token: string): Promise<string> {
    const path = join(this.dir, fileName);
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: e2e\n  cluster:\n    server: ${this.apiserverUrl}\n    certificate-authority-data: ${Buffer.from(this.clusterCa).toString('base64')}`,
      'users:',
      `- name: ${user}\n  user:\n    token: ${token}`,
      'contexts:',
      `- name: e2e\n  context:\n    cluster: e2e\n    user: ${user}`,
      'current-context: e2e',
      '',
    ].join('\n');
    await writeFile(path, text);
    return path;
  }

  /**
   * The ClusterIP of a Service, checked to be on loopback (SERVICE_CIDR): a process bound to it on the Service's port
   * receives what the API server sends the Service, as the Service's pods would.
   */
  clusterIpOf(namespace: string, name: string): string {
    const ip = this.kubectl('get', 'service', name, '-n', namespace, '-o', 'jsonpath={.spec.clusterIP}').stdout.trim();
    if (!ip.startsWith('127.96.0.'))
      throw new Error(`Service ${namespace}/${name} has ClusterIP ${ip}, outside ${SERVICE_CIDR}`);
    return ip;
  }

  /** A Service-like balancer on `port` in front of webhook processes on `backends` (test/e2e/balancer.ts). */
  async startBalancer(port: number, backends: number[]): Promise<void> {
    this.start('balancer', process.execPath, [
      BALANCER,
      String(port),
      join(this.dir, 'webhook', 'ca.crt'),
      ...backends.map(String),
    ]);
    await eventually(
      'the balancer to listen',
      () => httpsOk(`https://127.0.0.1:${port}/readyz`, this.webhookCa),
      10_000,
      100,
    );
  }

  /** Points every webhook of both configurations at another local port (a balancer in front of several webhooks). */
  pointWebhooksAt(port: number): CommandResult {
    for (const kind of ['mutatingwebhookconfiguration', 'validatingwebhookconfiguration']) {
      const listed = this.kubectl('get', kind, '-o', 'json');
      if (listed.status !== 0) return listed;
      const items = (
        JSON.parse(listed.stdout) as {
          items: Array<{ metadata: { name: string }; webhooks: Array<{ clientConfig: { url?: string } }> }>;
        }
      ).items;
      for (const item of items) {
        const patch = item.webhooks.map((webhook, index) => ({
          op: 'replace',
          path: `/webhooks/${index}/clientConfig/url`,
          value: (webhook.clientConfig.url ?? '').replace(/:\d+\//, `:${port}/`),
        }));
        const patched = this.kubectl('patch', kind, item.metadata.name, '--type=json', '-p', JSON.stringify(patch));
        if (patched.status !== 0) return patched;
      }
    }
    return { status: 0, stdout: '', stderr: '' };
  }

  /**
   * kube-controller-manager's garbage collector, as a second controller manager (the first runs without it, so no
   * other test's objects are collected): for a test that deletes an owner and expects its dependents to go.
   */
  startGarbageCollector(): string {
    const name = 'kube-controller-manager-gc';
    this.start(name, join(dirname(this.kubectlPath), 'kube-controller-manager'), [
      `--kubeconfig=${this.kubeconfig}`,
      '--controllers=garbagecollector',
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
    return name;
  }

  registerWebhook(): CommandResult {
    return this.kubectl('apply', '-f', join(this.dir, 'webhook', 'webhook-configurations.yaml'));
  }

  /** SIGTERM, then SIGKILL after 10 s; the exit code (null when killed or already gone). */
  async stopProcess(name: string): Promise<number | null> {
    const child = this.processes.get(name);
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    this.processes.delete(name);
    return code;
  }

  kubectl(...args: string[]): CommandResult {
    return this.kubectlWithInput(undefined, ...args);
  }

  /** kubectl as a user runs it: the kubeconfig from $KUBECONFIG, and PATH (plugin discovery) as given. */
  kubectlAsUser(path: string, ...args: string[]): CommandResult {
    const result = spawnSync(this.kubectlPath, args, {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, KUBECONFIG: this.kubeconfig, PATH: path },
    });
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  kubectlWithInput(input: string | undefined, ...args: string[]): CommandResult {
    const result = spawnSync(this.kubectlPath, [`--kubeconfig=${this.kubeconfig}`, ...args], {
      input,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  async log(name: string): Promise<string> {
    return readFile(join(this.dir, `${name}.log`), 'utf8').catch(() => '');
  }

  private killAll(signal: NodeJS.Signals): void {
    for (const child of this.processes.values()) if (child.exitCode === null) child.kill(signal);
  }

  async stop(): Promise<void> {
    // Whatever a failed test left running first (webhook stand-ins, balancers), then the control plane.
    const others = [...this.processes.keys()].filter(
      (name) => !['webhook', 'kube-controller-manager', 'kube-apiserver', 'etcd'].includes(name),
    );
    for (const name of [...others, 'webhook', 'kube-controller-manager', 'kube-apiserver', 'etcd'])
      await this.stopProcess(name);
    process.off('exit', this.exitHandler);
    if (this.dir && !process.env['KEEP_E2E_DIR']) await rm(this.dir, { recursive: true, force: true });
  }
}
