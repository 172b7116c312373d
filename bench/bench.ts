import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import type { JsonObject } from '../src/core/json.js';
import { Engine } from '../src/engine/engine.js';
import { review as runReview } from '../src/engine/pipeline.js';
import { ClusterState } from '../src/lookup/cluster-state.js';
import type { Policy } from '../src/policy/model.js';
import { makeCertificateAuthority, makeServingCertificate } from '../src/server/tls.js';
import { LocalCluster } from '../test/e2e/harness.js';
import { freePort } from '../test/loopback.js';
import { pvc as fixturePvc, statefulSet as fixtureStatefulSet, template } from '../test/helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const BASELINE = join(ROOT, 'dist/bench/baseline.js');

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    apiserver: { type: 'string', default: 'auto' },
    profile: { type: 'string' },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);

// ---------------------------------------------------------------- workload

/** The workload, built with the same fixtures the tests use. */
const pvc = (namespace: string, name: string): JsonObject => fixturePvc({ resources: { requests: { storage: '100Gi' } } }, { name, namespace });
const statefulSet = (replicas: number, classes: boolean): JsonObject => {
  const storageClass: JsonObject = classes ? { storageClassName: 'io1-legacy' } : {};
  const templates = [
    ['data', '200Gi'],
    ['logs', '50Gi'],
    ['cache', '10Gi'],
  ].map(([name, size]) => template(name ?? '', { resources: { requests: { storage: size ?? '' } }, ...storageClass }));
  return fixtureStatefulSet(templates, {}, replicas, { name: 'kafka', namespace: 'payments' });
};
const io2Class: JsonObject = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name: 'io2-fast' },
  provisioner: 'ebs.csi.aws.com',
  volumeBindingMode: 'WaitForFirstConsumer',
  parameters: { type: 'io2', iopsPerGB: '200' },
};

let uid = 0;
function review(object: JsonObject, operation: 'CREATE' | 'UPDATE' = 'CREATE', oldObject?: JsonObject): string {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  const group = kind === 'StatefulSet' ? 'apps' : kind === 'StorageClass' ? 'storage.k8s.io' : '';
  uid += 1;
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `bench-${uid}`,
      kind: { group, version: 'v1', kind },
      resource: { group, version: 'v1', resource: `${kind.toLowerCase()}s` },
      ...(kind === 'StorageClass' ? {} : { namespace: 'payments' }),
      name: (object['metadata'] as JsonObject)['name'],
      operation,
      userInfo: { username: 'bench' },
      object,
      oldObject: oldObject ?? null,
      dryRun: false,
    },
  });
}

/** The mix: each object goes to /mutate then /validate, as the API server sends it. */
const MIX: Array<{ path: string; body: string }> = [
  { path: '/mutate', body: review(pvc('payments', 'orders')) },
  { path: '/validate', body: review({ ...pvc('payments', 'orders'), spec: { ...(pvc('payments', 'orders')['spec'] as JsonObject), storageClassName: 'gp3' } }) },
  { path: '/mutate', body: review(statefulSet(3, false)) },
  { path: '/validate', body: review(statefulSet(3, false)) },
  { path: '/mutate', body: review(io2Class) },
  { path: '/validate', body: review(io2Class) },
  { path: '/mutate', body: review(statefulSet(5, true), 'UPDATE', statefulSet(3, true)) },
  { path: '/validate', body: review(statefulSet(5, true), 'UPDATE', statefulSet(3, true)) },
];

// ---------------------------------------------------------------- processes

function procStatus(pid: number, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function waitReady(port: number, ca: string, path: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const request = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', ca, agent: false, headers: { 'content-type': 'application/json' } }, (response) => {
        response.resume();
        resolve(response.statusCode === 200);
      });
      request.on('error', () => resolve(false));
      request.end(MIX[0]?.body);
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing ready on port ${port}`);
}

// ---------------------------------------------------------------- load

interface RunResult {
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  cpuPercent: number;
  errors: number;
}

async function http1Run(port: number, ca: string, pid: number, overallRate?: number): Promise<RunResult> {
  const cpuBefore = cpuSeconds(pid);
  const started = Date.now();
  const result = await autocannon({
    url: `https://127.0.0.1:${port}`,
    connections: overallRate ? 8 : CONNECTIONS,
    pipelining: 1,
    duration: DURATION,
    ...(overallRate ? { overallRate } : {}),
    tlsOptions: { ca },
    headers: { 'content-type': 'application/json' },
    requests: MIX.map((entry) => ({ method: 'POST', path: entry.path, body: entry.body })),
  });
  const elapsed = (Date.now() - started) / 1000;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    cpuPercent: ((cpuSeconds(pid) - cpuBefore) / elapsed) * 100,
    errors: result.errors + result.non2xx + result.timeouts,
  };
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

/** HTTP/2, as the API server's webhook client speaks it: a few sessions, many concurrent streams. */
async function http2Run(port: number, ca: string, pid: number): Promise<RunResult> {
  const sessions: ClientHttp2Session[] = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        new Promise<ClientHttp2Session>((resolve, reject) => {
          const session = http2Connect(`https://127.0.0.1:${port}`, { ca }, () => resolve(session));
          session.on('error', reject);
        }),
    ),
  );
  const latencies: number[] = [];
  let errors = 0;
  const cpuBefore = cpuSeconds(pid);
  const started = Date.now();
  const deadline = started + DURATION * 1000;
  const worker = async (index: number): Promise<void> => {
    const session = sessions[index % sessions.length] as ClientHttp2Session;
    let step = index;
    while (Date.now() < deadline) {
      const entry = MIX[step % MIX.length] as { path: string; body: string };
      step += 1;
      const begin = process.hrtime.bigint();
      const status = await new Promise<number>((resolve) => {
        const stream = session.request({ ':method': 'POST', ':path': entry.path, 'content-type': 'application/json' });
        let code = 0;
        stream.on('response', (headers) => (code = Number(headers[':status'])));
        stream.on('data', () => undefined);
        stream.on('end', () => resolve(code));
        stream.on('error', () => resolve(0));
        stream.end(entry.body);
      });
      if (status !== 200) errors += 1;
      latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS * 2 }, (_, index) => worker(index)));
  const elapsed = (Date.now() - started) / 1000;
  sessions.forEach((session) => session.close());
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    p999: percentile(latencies, 0.999),
    cpuPercent: ((cpuSeconds(pid) - cpuBefore) / elapsed) * 100,
    errors,
  };
}

// ---------------------------------------------------------------- fixtures: 100 policies, 10,000 cached objects

const TEAMS = 98;
function teamPolicy(index: number): object {
  return {
    apiVersion: 'storage-policy-webhook.io/v1alpha1',
    kind: 'StoragePolicy',
    metadata: { name: `team-${index}`, annotations: { 'storage-policy-webhook.io/owner': `team-${index}@example.com` } },
    spec: {
      match: { namespaces: [`team-${index}`], kinds: ['PersistentVolumeClaim', 'StatefulSet'] },
      storageClasses: { allowed: ['gp3', 'io2-high-iops', 'efs'] },
      accessModes: { unknownProvisioner: 'warn' },
      iops: { maxPerVolume: 20000 + index, maxPerNamespace: 200000 },
      capacity: { max: '2Ti' },
    },
  };
}

async function writeFixtures(dir: string, claims: number): Promise<{ policies: string; inventory: string }> {
  const policies = join(dir, 'policies');
  await mkdir(policies);
  for (const file of ['platform-storage.yaml', 'storage-class-guardrails.yaml']) await writeFile(join(policies, file), readFileSync(join(ROOT, 'policies', file)));
  for (let index = 0; index < TEAMS; index += 1) await writeFile(join(policies, `team-${index}.yaml`), stringify(teamPolicy(index)));
  const objects: object[] = [];
  for (let index = 0; index < TEAMS; index += 1) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `team-${index}`, labels: { team: String(index) } } });
  for (let index = 0; index < claims; index += 1) {
    objects.push({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: `claim-${index}`, namespace: index % 5 === 0 ? 'payments' : `team-${index % TEAMS}` },
      spec: { storageClassName: index % 3 === 0 ? 'io2-high-iops' : 'gp3', accessModes: ['ReadWriteOnce'], resources: { requests: { storage: `${(index % 50) + 1}Gi` } } },
    });
  }
  // As kubectl get -o json writes it: one List.
  const inventory = join(dir, 'inventory');
  await mkdir(inventory);
  await writeFile(join(inventory, 'storageclasses.yaml'), readFileSync(join(ROOT, 'examples/cluster/storageclasses.yaml')));
  await writeFile(join(inventory, 'objects.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  return { policies, inventory };
}

// ---------------------------------------------------------------- scale table (in process)

function scalePolicies(count: number): Policy[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `p-${String(index).padStart(4, '0')}`,
    file: 'bench',
    owner: undefined,
    description: undefined,
    priority: 0,
    action: 'deny' as const,
    lookupFailure: 'warn' as const,
    rules: {},
    // One in ten uses a glob, the rest name their namespace: the index must keep both cheap.
    match: { kinds: ['PersistentVolumeClaim' as const, 'StatefulSet' as const], namespaces: [index % 10 === 0 ? `ns-${index}-*` : `ns-${index}`] },
    storageClasses: { defaults: [{ class: 'gp3' }], allowed: ['gp3', 'io2'] },
    accessModes: {},
    zones: { allowed: ['a', 'b'] },
    iops: { maxPerVolume: 50000, maxPerNamespace: 1_000_000 },
  }));
}

function scaleState(objects: number): ClusterState {
  const state = new ClusterState();
  state.upsertStorageClass({
    metadata: { name: 'gp3' },
    provisioner: 'ebs.csi.aws.com',
    volumeBindingMode: 'WaitForFirstConsumer',
    parameters: { type: 'gp3', iopsPerGB: '50', allowAutoIOPSPerGBIncrease: 'true' },
  });
  state.upsertStorageClass({ metadata: { name: 'io2' }, provisioner: 'ebs.csi.aws.com', volumeBindingMode: 'WaitForFirstConsumer', parameters: { type: 'io2', iopsPerGB: '100' } });
  for (let index = 0; index < objects; index += 1) {
    state.upsertClaim({ metadata: { name: `c-${index}`, namespace: `ns-${index % 1000}` }, spec: { storageClassName: index % 2 ? 'gp3' : 'io2', resources: { requests: { storage: '10Gi' } } } });
  }
  return state;
}

function microsPerReview(policies: number, objects: number): number {
  const engine = new Engine(scalePolicies(policies), scaleState(objects));
  const object = pvc('ns-7', 'x');
  const input = { kind: 'PersistentVolumeClaim' as const, operation: 'CREATE' as const, namespace: 'ns-7', name: 'x', object };
  // The cache invalidates namespace sums on writes; measure the steady state a request sees.
  for (let warm = 0; warm < 200; warm += 1) runReview(engine, input, 'both');
  let count = 0;
  const started = process.hrtime.bigint();
  const budget = 300_000_000n;
  while (process.hrtime.bigint() - started < budget) {
    runReview(engine, input, 'both');
    count += 1;
  }
  return Number(process.hrtime.bigint() - started) / 1000 / count;
}

// ---------------------------------------------------------------- through the API server

async function apiserverAddedLatency(): Promise<{ withMs: number; withoutMs: number; addedP50Ms: number; addedP99Ms: number } | string> {
  const [newest = ''] = await LocalCluster.versions();
  if (values.apiserver === 'off' || (values.apiserver === 'auto' && !LocalCluster.isBuilt(newest))) return 'skipped (no cached kube-apiserver: run npm run test:e2e once, or pass --apiserver on)';
  const { bin } = LocalCluster.build(newest);
  const cluster = new LocalCluster();
  try {
    await cluster.startControlPlane(bin);
    cluster.kubectl('apply', '-f', join(ROOT, 'test/e2e/fixtures/cluster.yaml'));
    cluster.kubectl('create', 'namespace', 'storage-policy-webhook');
    await cluster.startWebhook();
    cluster.registerWebhook();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const kubeconfig = readFileSync(cluster.kubeconfig, 'utf8');
    const server = /server: (\S+)/.exec(kubeconfig)?.[1] ?? '';
    const token = /token: (\S+)/.exec(kubeconfig)?.[1] ?? '';
    const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(kubeconfig)?.[1] ?? '', 'base64').toString();
    const agent = new Agent({ keepAlive: true, ca });
    const create = (namespace: string, index: number) =>
      new Promise<number>((resolve, reject) => {
        const begin = process.hrtime.bigint();
        const url = new URL(`/api/v1/namespaces/${namespace}/persistentvolumeclaims?dryRun=All`, server);
        const request = httpsRequest(url, { method: 'POST', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (response) => {
          response.resume();
          response.on('end', () => (response.statusCode === 201 ? resolve(Number(process.hrtime.bigint() - begin) / 1e6) : reject(new Error(`HTTP ${response.statusCode}`))));
        });
        request.on('error', reject);
        request.end(JSON.stringify(pvc(namespace, `bench-${index}`)));
      });
    // Governed (webhook called twice: mutate, validate) against a namespace the configurations leave out.
    const governed: number[] = [];
    const excluded: number[] = [];
    for (let index = 0; index < 300; index += 1) {
      governed.push(await create('payments', index));
      excluded.push(await create('storage-policy-webhook', index));
    }
    governed.sort((a, b) => a - b);
    excluded.sort((a, b) => a - b);
    agent.destroy();
    return {
      withMs: percentile(governed, 0.5),
      withoutMs: percentile(excluded, 0.5),
      addedP50Ms: percentile(governed, 0.5) - percentile(excluded, 0.5),
      addedP99Ms: percentile(governed, 0.99) - percentile(excluded, 0.99),
    };
  } finally {
    await cluster.stop();
  }
}

// ---------------------------------------------------------------- main

function row(cells: Array<string | number>): string {
  return `| ${cells.map((cell) => (typeof cell === 'number' ? (Number.isInteger(cell) ? String(cell) : cell.toFixed(2)) : cell)).join(' | ')} |`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'storage-policy-bench-'));
  const children: ChildProcess[] = [];
  const stopAll = () => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
  process.on('exit', stopAll);
  try {
    const ca = await makeCertificateAuthority('bench CA');
    const serving = await makeServingCertificate(['127.0.0.1'], ca);
    await writeFile(join(dir, 'tls.crt'), serving.cert);
    await writeFile(join(dir, 'tls.key'), serving.key);
    const { policies, inventory } = await writeFixtures(dir, 10_000);

    const webhookPort = await freePort();
    const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
    const webhook = spawn(
      process.execPath,
      [
        ...profile,
        CLI,
        'serve',
        '--host=127.0.0.1',
        `--port=${webhookPort}`,
        '--ops-host=127.0.0.1',
        '--ops-port=0',
        `--cert=${join(dir, 'tls.crt')}`,
        `--key=${join(dir, 'tls.key')}`,
        `--policies=${policies}`,
        `--inventory=${inventory}`,
        '--watch=false',
        '--log-level=info',
        '--shutdown-delay-seconds=0',
      ],
      { stdio: 'ignore' },
    );
    const baselinePort = await freePort();
    const baseline = spawn(process.execPath, [BASELINE, String(baselinePort), join(dir, 'tls.crt'), join(dir, 'tls.key')], { stdio: 'ignore' });
    children.push(webhook, baseline);
    await waitReady(webhookPort, ca.cert, '/mutate');
    await waitReady(baselinePort, ca.cert, '/mutate');
    const webhookPid = webhook.pid ?? 0;
    const baselinePid = baseline.pid ?? 0;

    process.stdout.write(`# machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}\n`);
    process.stdout.write(`# webhook: 100 policies, 10,000 cached PVCs (+ classes, namespaces), info logs; ${DURATION}s per run, ${CONNECTIONS} connections\n`);
    const h1Webhook = await http1Run(webhookPort, ca.cert, webhookPid);
    const h1Baseline = await http1Run(baselinePort, ca.cert, baselinePid);
    const h2Webhook = await http2Run(webhookPort, ca.cert, webhookPid);
    const h2Baseline = await http2Run(baselinePort, ca.cert, baselinePid);
    const fixedRate = await http1Run(webhookPort, ca.cert, webhookPid, 1000);
    const fixedRateBaseline = await http1Run(baselinePort, ca.cert, baselinePid, 1000);
    const rssMb = procStatus(webhookPid, 'VmHWM');
    const steadyRssMb = procStatus(webhookPid, 'VmRSS');
    const baselineRssMb = procStatus(baselinePid, 'VmHWM');

    const lines = [
      '',
      row(['protocol', 'server', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU %', 'errors']),
      row(['---', '---', '---', '---', '---', '---', '---', '---']),
      row(['HTTP/1.1 keep-alive', 'webhook', Math.round(h1Webhook.rps), h1Webhook.p50, h1Webhook.p99, h1Webhook.p999, Math.round(h1Webhook.cpuPercent), h1Webhook.errors]),
      row(['HTTP/1.1 keep-alive', 'bare TLS baseline', Math.round(h1Baseline.rps), h1Baseline.p50, h1Baseline.p99, h1Baseline.p999, Math.round(h1Baseline.cpuPercent), h1Baseline.errors]),
      row(['HTTP/2', 'webhook', Math.round(h2Webhook.rps), h2Webhook.p50, h2Webhook.p99, h2Webhook.p999, Math.round(h2Webhook.cpuPercent), h2Webhook.errors]),
      row(['HTTP/2', 'bare TLS baseline', Math.round(h2Baseline.rps), h2Baseline.p50, h2Baseline.p99, h2Baseline.p999, Math.round(h2Baseline.cpuPercent), h2Baseline.errors]),
      row(['HTTP/1.1 at 1000 req/s', 'webhook', Math.round(fixedRate.rps), fixedRate.p50, fixedRate.p99, fixedRate.p999, Math.round(fixedRate.cpuPercent), fixedRate.errors]),
      row([
        'HTTP/1.1 at 1000 req/s',
        'bare TLS baseline',
        Math.round(fixedRateBaseline.rps),
        fixedRateBaseline.p50,
        fixedRateBaseline.p99,
        fixedRateBaseline.p999,
        Math.round(fixedRateBaseline.cpuPercent),
        fixedRateBaseline.errors,
      ]),
      '',
      `ratio webhook/baseline: HTTP/1.1 ${(h1Webhook.rps / h1Baseline.rps).toFixed(2)}, HTTP/2 ${(h2Webhook.rps / h2Baseline.rps).toFixed(2)}; webhook RSS ${steadyRssMb.toFixed(0)} MB after the runs (peak ${rssMb.toFixed(0)} MB), baseline peak ${baselineRssMb.toFixed(0)} MB`,
      '',
      '# evaluation cost in process (mutate + validate of one PVC), microseconds per review',
      row(['policies \\ cached objects', '100', '1,000', '10,000', '100,000']),
      row(['---', '---', '---', '---', '---']),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const scale: Record<string, number[]> = {};
    for (const count of [10, 100, 1000]) {
      scale[count] = [100, 1000, 10_000, 100_000].map((objects) => microsPerReview(count, objects));
      process.stdout.write(`${row([count, ...(scale[count] ?? [])])}\n`);
    }

    const apiserver = await apiserverAddedLatency();
    process.stdout.write(
      typeof apiserver === 'string'
        ? `\n# through kube-apiserver: ${apiserver}\n`
        : `\n# through kube-apiserver (dry-run PVC creates, 300 each, sequential): p50 ${apiserver.withMs.toFixed(2)} ms governed vs ${apiserver.withoutMs.toFixed(2)} ms excluded namespace: webhook adds ${apiserver.addedP50Ms.toFixed(2)} ms at p50, ${apiserver.addedP99Ms.toFixed(2)} ms at p99 (mutate + validate)\n`,
    );
    const summary = {
      webhookRps: Math.round(h1Webhook.rps),
      baselineRps: Math.round(h1Baseline.rps),
      ratio: Number((h1Webhook.rps / h1Baseline.rps).toFixed(3)),
      p99Ms: h1Webhook.p99,
      rssMb: Math.round(rssMb),
      steadyRssMb: Math.round(steadyRssMb),
      baselineP99MsAt1000Rps: fixedRateBaseline.p99,
      h2WebhookRps: Math.round(h2Webhook.rps),
      h2BaselineRps: Math.round(h2Baseline.rps),
      h2Ratio: Number((h2Webhook.rps / h2Baseline.rps).toFixed(3)),
      h2P99Ms: Number(h2Webhook.p99.toFixed(2)),
      p99MsAt1000Rps: fixedRate.p99,
      cpuPercent: Math.round(h1Webhook.cpuPercent),
      microsPerReview100Policies10kObjects: Number((scale[100]?.[2] ?? 0).toFixed(1)),
      ...(typeof apiserver === 'string' ? {} : { apiserverAddedP50Ms: Number(apiserver.addedP50Ms.toFixed(2)), apiserverAddedP99Ms: Number(apiserver.addedP99Ms.toFixed(2)) }),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : (child.once('exit', resolve), child.kill('SIGTERM'))))));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
