import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { Engine } from '../src/engine/engine.js';
import { decide as runReview } from '../src/engine/pipeline.js';
import { ClusterState } from '../src/lookup/cluster-state.js';
import type { Policy } from '../src/policy/model.js';
import { LocalCluster } from '../test/e2e/harness.js';
import { freePort } from '../test/loopback.js';
import { measureAudit } from './audit-scale.js';
import {
  compareThroughApiserver,
  isCalled,
  TARGET_LABELS,
  TARGETS,
  type ApiserverComparison,
} from './through-apiserver.js';
import { fixedRate, saturate, statusMb, type FixedRateResult, type SaturationResult } from './load.js';
import { clusterObjects, deployNodeOptions, MIX, pvc, writeFixtures, writeServingCertificate } from './workload.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const BASELINE = join(ROOT, 'dist/bench/baseline.js');
const BARE_ENGINE = join(ROOT, 'dist/bench/bare-engine.js');
const LADDER = join(ROOT, 'dist/bench/ladder-server.js');
const FAKE_APISERVER = join(ROOT, 'dist/bench/fake-apiserver.js');

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    apiserver: { type: 'string', default: 'auto' },
    profile: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    // Experiments: what a flag or a V8 option costs or saves, in production shape otherwise.
    'webhook-arg': { type: 'string', multiple: true, default: [] },
    'node-options': { type: 'string' },
  },
});
// --smoke: every measurement once and short, for CI (the numbers mean little; that it runs, does).
const SMOKE = values.smoke === true;
const DURATION = SMOKE ? 1 : Number(values.duration);
const ROUNDS = SMOKE ? 1 : Math.max(1, Number(values.rounds));
/** Rounds of one server that differ by more than this (max - min over the median) make the run invalid. */
const MAX_ROUND_SPREAD = 0.15;
/** The load generator on CPU 0 and the servers under test on CPU 1, where taskset exists and there are two CPUs. */
const PINNED = cpus().length >= 2 && spawnSync('taskset', ['-p', '-c', '0', String(process.pid)]).status === 0;
/** An experiment may turn the webhook's audit off (the last --audit= wins, as in serve's parsing). */
const AUDIT_OFF = (values['webhook-arg'] ?? []).filter((arg) => arg.startsWith('--audit=')).pop() === '--audit=false';

/** A kubeconfig that points the webhook's cluster cache at the loopback API server. */
async function writeKubeconfig(dir: string, port: number, ca: string): Promise<string> {
  const file = join(dir, `kubeconfig-${port}`);
  await writeFile(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'bench',
          cluster: {
            server: `https://127.0.0.1:${port}`,
            'certificate-authority-data': Buffer.from(ca).toString('base64'),
          },
        },
      ],
      users: [{ name: 'bench', user: { token: 'bench' } }],
      contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
      'current-context': 'bench',
    }),
  );
  return file;
}

// ---------------------------------------------------------------- scale table (in process)

function scalePolicies(count: number, allMatch: boolean): Policy[] {
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
    match: {
      kinds: ['PersistentVolumeClaim' as const, 'StatefulSet' as const],
      namespaces: [allMatch ? 'ns-*' : index % 10 === 0 ? `ns-${index}-*` : `ns-${index}`],
    },
    storageClasses: { defaults: [{ class: 'gp3' }], allowed: ['gp3', 'io2'] },
    accessModes: {},
    zones: { allowed: ['a', 'b'] },
    iops: { maxPerVolume: 50000 + index, maxPerNamespace: 1_000_000 },
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
  state.upsertStorageClass({
    metadata: { name: 'io2' },
    provisioner: 'ebs.csi.aws.com',
    volumeBindingMode: 'WaitForFirstConsumer',
    parameters: { type: 'io2', iopsPerGB: '100' },
  });
  for (let index = 0; index < objects; index += 1) {
    state.upsertClaim({
      metadata: { name: `c-${index}`, namespace: `ns-${index % 1000}` },
      spec: { storageClassName: index % 2 ? 'gp3' : 'io2', resources: { requests: { storage: '10Gi' } } },
    });
  }
  return state;
}

/** Microseconds per review (mutate + validate of one PVC) after a warm-up long enough for the optimizing compiler. */
function microsPerReview(policies: Policy[], state: ClusterState): number {
  const engine = new Engine({ policies, lookup: state });
  const object = pvc('ns-7', 'x');
  const input = {
    kind: 'PersistentVolumeClaim' as const,
    operation: 'CREATE' as const,
    namespace: 'ns-7',
    name: 'x',
    object,
  };
  const measure = (budgetMs: number): number => {
    let count = 0;
    const started = process.hrtime.bigint();
    const budget = BigInt(budgetMs) * 1_000_000n;
    while (process.hrtime.bigint() - started < budget) {
      runReview(engine, input, 'both');
      count += 1;
    }
    return Number(process.hrtime.bigint() - started) / 1000 / count;
  };
  measure(SMOKE ? 20 : 300);
  return measure(SMOKE ? 20 : 300);
}

// ---------------------------------------------------------------- through the API server

async function apiserverComparison(): Promise<ApiserverComparison | string> {
  const [newest = ''] = await LocalCluster.versions();
  if (values.apiserver === 'off') return 'skipped (--apiserver off)';
  if (values.apiserver === 'auto' && !LocalCluster.isBuilt(newest))
    return 'skipped (no cached kube-apiserver: run npm run test:e2e once, or pass --apiserver on)';
  // The API server, etcd and both webhooks are a cluster sharing the machine: none of them pinned to one CPU.
  if (PINNED) spawnSync('taskset', ['-p', '-c', `0-${cpus().length - 1}`, String(process.pid)]);
  try {
    return await compareThroughApiserver({
      rounds: 10,
      perRound: 100,
      clients: 100,
      loadCreates: 3000,
      webhookArgs: values['webhook-arg'] ?? [],
    });
  } finally {
    if (PINNED) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)]);
  }
}

// ---------------------------------------------------------------- main

function row(cells: Array<string | number>): string {
  return `| ${cells.map((cell) => (typeof cell === 'number' ? (Number.isInteger(cell) ? String(cell) : cell.toFixed(1)) : cell)).join(' | ')} |`;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** A server whose rounds differ by more than MAX_ROUND_SPREAD: the machine was not steady enough to compare. */
function spreadProblem(name: string, runs: SaturationResult[]): string[] {
  const micros = runs.map((run) => run.serverCpuMicros);
  if (micros.length < 2) return [];
  const spread = (Math.max(...micros) - Math.min(...micros)) / median(micros);
  return spread > MAX_ROUND_SPREAD ? [`${name}: rounds differ by ${(spread * 100).toFixed(0)}%`] : [];
}

interface Server {
  name: string;
  port: number;
  pid: number;
}

/** Starts a server process and waits until it answers a review. */
async function startServer(
  name: string,
  args: string[],
  env: Record<string, string>,
  ca: string,
  children: ChildProcess[],
): Promise<Server> {
  const port = await freePort();
  const command = [process.execPath, ...args.map((arg) => arg.replace('{port}', String(port)))];
  // Pinned to the other CPU than the load generator where taskset can: the two no longer steal from each other.
  const [program = '', ...rest] = PINNED ? ['taskset', '-c', '1', ...command] : command;
  const child = spawn(program, rest, { stdio: 'ignore', env: { ...process.env, ...env } });
  children.push(child);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const request = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/mutate',
          method: 'POST',
          ca,
          agent: false,
          headers: { 'content-type': 'application/json' },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode === 200);
        },
      );
      request.on('error', () => resolve(false));
      request.end(MIX[0]?.body);
    });
    if (ok) return { name, port, pid: child.pid ?? 0 };
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not answer on port ${port}`);
}

/** The webhook's full collections so far, by prom-client's GC histogram: how many, and their pauses in all. */
interface MajorGc {
  count: number;
  pauseMs: number;
}

async function majorGc(opsPort: number): Promise<MajorGc> {
  const text = await fetch(`http://127.0.0.1:${opsPort}/metrics`).then((response) => response.text());
  const value = (suffix: string, kind: string): number =>
    Number(new RegExp(`^nodejs_gc_duration_seconds_${suffix}\\{kind="${kind}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  // A mark-compact is one "major" entry (its final pause) after "incremental" ones (the marking steps before it).
  return { count: value('count', 'major'), pauseMs: (value('sum', 'major') + value('sum', 'incremental')) * 1000 };
}

const difference = (after: MajorGc, before: MajorGc): MajorGc => ({
  count: after.count - before.count,
  pauseMs: after.pauseMs - before.pauseMs,
});

/** Waits until the webhook is ready: its policies loaded and its cache listed (readiness waits for both). */
async function cacheListed(opsPort: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.ok === true) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the webhook was not ready within 120 s');
}

/**
 * Waits until the webhook's cache is listed and its first full audit is done: that run is start-up work
 * (about half a second of CPU at 10,000 claims) and would otherwise land in the warm-up or a measured round.
 */
async function auditedOnce(opsPort: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const text = await fetch(`http://127.0.0.1:${opsPort}/metrics`)
      .then((response) => response.text())
      .catch(() => '');
    const lastRun = Number(/^storage_policy_audit_last_run_timestamp_seconds (\S+)$/m.exec(text)?.[1] ?? 0);
    if (lastRun > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the webhook did not finish its first audit within 120 s');
}

/** Starts the loopback API server (its own process) serving `claims` claims and 1,000 StatefulSets; its port. */
async function startFakeApiserver(
  cert: string,
  key: string,
  claims: number,
  children: ChildProcess[],
): Promise<number> {
  const api = spawn(process.execPath, [FAKE_APISERVER, cert, key, String(claims)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(api);
  return new Promise<number>((resolve, reject) => {
    api.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    api.once('exit', (code) => reject(new Error(`the loopback API server exited with ${code}`)));
  });
}

/** A production-shape webhook; stop() ends it and its loopback API server. */
interface ProductionWebhook extends Server {
  opsPort: number;
  stop(): void;
}

/**
 * `serve` in production shape: 100 policies, deploy/'s heap flags (or --node-options), the live cache and the audit
 * fed `claims` claims and 1,000 StatefulSets by its own loopback API server, info logs; ready once its first audit
 * is done (unless an experiment turns the audit off).
 */
async function startProductionWebhook(options: {
  name: string;
  dir: string;
  claims: number;
  tls: string[];
  ca: string;
  policies: string;
  nodeOptions: string;
  extraArgs: string[];
  children: ChildProcess[];
}): Promise<ProductionWebhook> {
  const started = options.children.length;
  const apiPort = await startFakeApiserver(
    options.tls[0] ?? '',
    options.tls[1] ?? '',
    options.claims,
    options.children,
  );
  const kubeconfig = await writeKubeconfig(options.dir, apiPort, options.ca);
  const opsPort = await freePort();
  const server = await startServer(
    options.name,
    [
      ...options.extraArgs,
      CLI,
      'serve',
      '--host=127.0.0.1',
      '--port={port}',
      '--ops-host=127.0.0.1',
      `--ops-port=${opsPort}`,
      `--cert=${options.tls[0]}`,
      `--key=${options.tls[1]}`,
      `--policies=${options.policies}`,
      `--kubeconfig=${kubeconfig}`,
      '--watch=false',
      '--log-level=info',
      '--shutdown-delay-seconds=0',
      ...(values['webhook-arg'] ?? []),
    ],
    { NODE_OPTIONS: options.nodeOptions },
    options.ca,
    options.children,
  );
  if (AUDIT_OFF) await cacheListed(opsPort);
  else await auditedOnce(opsPort);
  const own = options.children.slice(started);
  return { ...server, opsPort, stop: () => own.forEach((child) => child.kill('SIGKILL')) };
}

/** What `claims` cached claims cost the webhook in memory: resident after its first audit, peak under the API server's concurrency. */
interface ClaimsMemory {
  claims: number;
  rssMb: number;
  peakRssMbAt4Streams: number;
  heapUsedMb: number;
  cpuMicrosAt4Streams: number;
}

async function claimsMemory(
  start: (claims: number) => Promise<ProductionWebhook>,
  claims: number,
  ca: string,
): Promise<ClaimsMemory> {
  const server = await start(claims);
  try {
    const rssMb = statusMb(server.pid, 'VmRSS');
    const run = await saturate(server.port, ca, server.pid, MIX, SMOKE ? 1 : DURATION * 2, 4, 1);
    const metrics = await fetch(`http://127.0.0.1:${server.opsPort}/metrics`).then((response) => response.text());
    return {
      claims,
      rssMb,
      peakRssMbAt4Streams: statusMb(server.pid, 'VmHWM'),
      heapUsedMb: Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metrics)?.[1] ?? 0) / 1e6,
      cpuMicrosAt4Streams: run.serverCpuMicros,
    };
  } finally {
    server.stop();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'storage-policy-bench-'));
  const children: ChildProcess[] = [];
  const stopAll = () => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
  process.on('exit', stopAll);
  try {
    const { ca, cert, key } = await writeServingCertificate(dir);
    // The objects the API server lists are the bare engine's inventory; this process keeps only the classes.
    const { policies, inventory, storageClasses } = await writeFixtures(dir, clusterObjects(10_000, 1_000));
    // The webhook in production shape: deploy/'s heap flags, the live cache (and the audit) fed by the loopback API server.
    const nodeOptions = values['node-options'] ?? deployNodeOptions();
    const tls = [cert, key];
    const productionShape = (name: string, claims: number, extraArgs: string[] = []) =>
      startProductionWebhook({ name, dir, claims, tls, ca: ca.cert, policies, nodeOptions, extraArgs, children });
    const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
    const webhook = await productionShape('webhook', 10_000, profile);
    const baseline = await startServer('protocol baseline', [BASELINE, '{port}', ...tls], {}, ca.cert, children);
    const bareEngine = await startServer(
      'bare-engine baseline',
      [BARE_ENGINE, '{port}', ...tls, policies, inventory],
      {},
      ca.cert,
      children,
    );
    const servers = [webhook, baseline, bareEngine];

    process.stdout.write(
      `# machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${loadavg()[0]?.toFixed(2)}\n`,
    );
    process.stdout.write(
      `# webhook: 100 policies, live cache fed 10,000 claims and 1,000 StatefulSets by a loopback API server, audit ${AUDIT_OFF ? 'off' : 'on'}, info logs, NODE_OPTIONS=${nodeOptions}${values['webhook-arg']?.length ? `, ${values['webhook-arg'].join(' ')}` : ''}; HTTP/2, 4 sessions x 32 concurrent streams; ${ROUNDS} interleaved round(s) of ${DURATION}s per server after a 10 s warm-up each\n`,
    );
    // A warm-up long enough for the optimising compiler and the heap to settle: measured, the webhook's cost per request
    // falls for about 9 s of load (278 -> 176 us) and is flat after.
    for (const server of servers) await saturate(server.port, ca.cert, server.pid, MIX, SMOKE ? 1 : 10);
    const saturation = new Map<string, SaturationResult[]>(servers.map((server) => [server.name, []]));
    // The webhook's full collections during each fixed-rate round: their pauses are what its p99 there is made of.
    const fixedRateGc: MajorGc[] = [];
    const latency = new Map<string, FixedRateResult[]>([
      [webhook.name, []],
      [baseline.name, []],
    ]);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const server of servers) {
        // Each server sat idle while the others ran: 2 s unmeasured first, so a round measures the steady state.
        if (!SMOKE) await saturate(server.port, ca.cert, server.pid, MIX, 2);
        saturation.get(server.name)?.push(await saturate(server.port, ca.cert, server.pid, MIX, DURATION));
      }
      for (const server of [webhook, baseline]) {
        const before = server === webhook ? await majorGc(webhook.opsPort) : undefined;
        latency.get(server.name)?.push(await fixedRate(server.port, ca.cert, MIX, DURATION, 1000));
        if (before) fixedRateGc.push(difference(await majorGc(webhook.opsPort), before));
      }
    }
    const peakRssMb = statusMb(webhook.pid, 'VmHWM');
    const steadyRssMb = statusMb(webhook.pid, 'VmRSS');

    const cpu = (name: string): number => median((saturation.get(name) ?? []).map((run) => run.serverCpuMicros));
    const p99 = (name: string): number => median((latency.get(name) ?? []).map((run) => run.p99Micros));
    const invalid = [...saturation.entries()].flatMap(([name, runs]) => [
      ...runs
        .filter((run) => run.serverCpuPercent < 90 || run.errors > 0)
        .map((run) => `${name} at ${run.serverCpuPercent.toFixed(0)}% CPU, ${run.errors} errors`),
      ...spreadProblem(name, runs),
    ]);

    // The ablation ladder: each step's cost is the difference to the step before, at the API server's concurrency
    // (one HTTP/2 connection, 4 streams) and at saturation (4 connections, 128 streams).
    const ladderSteps: Array<[string, string]> = [
      ['bare engine, production heap', 'bare'],
      ['+ Fastify routes, reply.send()', 'routes-send'],
      ['answered in one write (stream API)', 'routes'],
      ['+ route schemas', 'schemas'],
      ['+ body budget, unread-body drain', 'budget'],
      ['+ metrics (log silent)', 'telemetry'],
      ['+ admission log line', 'log'],
    ];
    const ladder: Server[] = [];
    for (const [name, step] of ladderSteps)
      ladder.push(
        await startServer(
          name,
          [LADDER, step, '{port}', ...tls, policies, inventory],
          { NODE_OPTIONS: nodeOptions },
          ca.cert,
          children,
        ),
      );
    const rungs = [bareEngine, ...ladder, webhook];
    const levels = [
      { label: '1 connection x 4 streams', concurrency: 4, sessions: 1 },
      { label: '4 connections x 32 streams', concurrency: 128, sessions: 4 },
    ];
    for (const server of ladder) await saturate(server.port, ca.cert, server.pid, MIX, SMOKE ? 1 : 10);
    const climbed = new Map<string, SaturationResult[]>(
      rungs.flatMap((server) => levels.map((level) => [`${server.name}\u0000${level.label}`, []])),
    );
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const level of levels) {
        for (const server of rungs) {
          if (!SMOKE) await saturate(server.port, ca.cert, server.pid, MIX, 2, level.concurrency, level.sessions);
          climbed
            .get(`${server.name}\u0000${level.label}`)
            ?.push(await saturate(server.port, ca.cert, server.pid, MIX, DURATION, level.concurrency, level.sessions));
        }
      }
    }
    const rungRuns = (name: string, label: string): SaturationResult[] => climbed.get(`${name}\u0000${label}`) ?? [];
    const rungCpu = (name: string, label: string): number =>
      median(rungRuns(name, label).map((run) => run.serverCpuMicros));
    // Under 90% the server waited for the load generator (at 4 streams every rung does, at 70-80%): its CPU per request there
    // includes the wake-ups of a server that is not saturated, and moves with the client's pace.
    const rungCpuPercent = (name: string, label: string): number =>
      median(rungRuns(name, label).map((run) => run.serverCpuPercent));
    for (const [key, runs] of climbed) invalid.push(...spreadProblem(key.replace('\u0000', ' at '), runs));
    const productionBare = ladder[0]?.name ?? '';
    const overhead = (label: string): number => rungCpu(webhook.name, label) - rungCpu(productionBare, label);
    const lines = [
      '',
      row([
        'server',
        'server CPU us/request (median)',
        'per round',
        'req/s',
        'server CPU %',
        'client CPU %',
        'p50 us at 1000 req/s',
        'p99 us at 1000 req/s',
      ]),
      row(['---', '---', '---', '---', '---', '---', '---', '---']),
      ...servers.map((server) => {
        const runs = saturation.get(server.name) ?? [];
        const fixed = latency.get(server.name) ?? [];
        return row([
          server.name,
          cpu(server.name),
          runs.map((run) => run.serverCpuMicros.toFixed(0)).join(' / '),
          Math.round(median(runs.map((run) => run.requests / run.seconds))),
          Math.round(median(runs.map((run) => run.serverCpuPercent))),
          Math.round(median(runs.map((run) => run.clientCpuPercent))),
          fixed.length > 0 ? Math.round(median(fixed.map((run) => run.p50Micros))) : '-',
          fixed.length > 0 ? Math.round(p99(server.name)) : '-',
        ]);
      }),
      '',
      `webhook at 1000 req/s, each round: ${fixedRateGc.map((gc, index) => `p99 ${((latency.get(webhook.name)?.[index]?.p99Micros ?? 0) / 1000).toFixed(1)} ms with ${gc.count} full collection${gc.count === 1 ? '' : 's'}, ${gc.pauseMs.toFixed(0)} ms paused`).join(' / ')} (nodejs_gc_duration_seconds: mark-compacts, their final pauses and incremental steps)`,
      `webhook RSS ${steadyRssMb.toFixed(0)} MB after the runs, peak ${peakRssMb.toFixed(0)} MB; load average ${loadavg()
        .map((value) => value.toFixed(2))
        .join(' ')}${invalid.length > 0 ? `; INVALID: ${invalid.join('; ')}` : ''}`,
      '',
      '# evaluation cost in process (mutate + validate of one PVC), microseconds per review, after warm-up',
      row(['policies \\ cached claims', '100', '1,000', '10,000', '100,000']),
      row(['---', '---', '---', '---', '---']),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    process.stdout.write(
      [
        '',
        `# ablation ladder: server CPU us/request (median of ${ROUNDS}; step = difference to the row above)${PINNED ? ', servers pinned to CPU 1, load generator to CPU 0' : ''}`,
        row(['server', ...levels.flatMap((level) => [level.label, 'step', 'rounds', 'server CPU %'])]),
        row(['---', ...levels.flatMap(() => ['---', '---', '---', '---'])]),
        ...rungs.map((server, index) =>
          row([
            server.name,
            ...levels.flatMap((level) => {
              const here = rungCpu(server.name, level.label);
              const previous = index > 0 ? rungCpu(rungs[index - 1]?.name ?? '', level.label) : here;
              const runs = rungRuns(server.name, level.label);
              return [
                here,
                index > 0 ? here - previous : '-',
                runs.map((run) => run.serverCpuMicros.toFixed(0)).join(' / '),
                Math.round(rungCpuPercent(server.name, level.label)),
              ];
            }),
          ]),
        ),
        `# the webhook over the production-shape bare engine: ${levels.map((level) => `${overhead(level.label).toFixed(1)} us at ${level.label}`).join(', ')}`,
      ].join('\n') + '\n',
    );
    const claimCounts = SMOKE ? [100] : [100, 1000, 10_000, 100_000];
    const scale: Record<number, number[]> = {};
    for (const count of SMOKE ? [10] : [10, 100, 1000]) {
      scale[count] = claimCounts.map((claims) => microsPerReview(scalePolicies(count, false), scaleState(claims)));
      process.stdout.write(`${row([count, ...(scale[count] ?? [])])}\n`);
    }
    // Every policy matching the namespace: the cost grows with the policies that govern an object, not with all of them.
    const matching = (SMOKE ? [1, 10] : [1, 10, 100]).map((count) => ({
      count,
      micros: microsPerReview(scalePolicies(count, true), scaleState(1000)),
    }));
    const first = matching[0];
    const last = matching[matching.length - 1];
    const perMatchingPolicy = first && last ? (last.micros - first.micros) / (last.count - first.count) : 0;
    process.stdout.write(
      `\n# policies matching the namespace: ${matching.map((entry) => `${entry.count}: ${entry.micros.toFixed(1)} us`).join(', ')}; ${perMatchingPolicy.toFixed(2)} us per matching policy\n`,
    );

    const audit = await measureAudit(join(ROOT, 'policies'), storageClasses);
    process.stdout.write(
      `# audit of 10,000 claims and 1,000 StatefulSets (100 namespaces), bundled policies: ${audit.cpuMillis.toFixed(0)} ms CPU, ${audit.heapMb.toFixed(1)} MB heap and ${audit.externalMb.toFixed(1)} MB outside it held, ${audit.failing} failing results\n`,
    );

    // Claims -> memory: each size in a webhook of its own, resident after its first audit and at its peak under the
    // API server's concurrency (docs/availability.md has the formula and the Deployment's sizing from these).
    const memory: ClaimsMemory[] = [];
    for (const claims of SMOKE ? [1_000] : [10_000, 40_000, 100_000])
      memory.push(await claimsMemory((count) => productionShape(`webhook, ${count} claims`, count), claims, ca.cert));
    process.stdout.write(
      [
        `\n# claims -> memory (NODE_OPTIONS=${nodeOptions}; 1 connection x 4 streams for ${SMOKE ? 1 : DURATION * 2} s after the first audit)`,
        '| claims | RSS after the first audit MB | peak RSS MB | heap used MB | server CPU us/request |',
        '|---|---|---|---|---|',
        ...memory.map((point) =>
          row([point.claims, point.rssMb, point.peakRssMbAt4Streams, point.heapUsedMb, point.cpuMicrosAt4Streams]),
        ),
      ].join('\n') + '\n',
    );
    const at = (claims: number): ClaimsMemory | undefined => memory.find((point) => point.claims === claims);

    const apiserver = SMOKE ? 'skipped (--smoke)' : await apiserverComparison();
    if (typeof apiserver === 'string') process.stdout.write(`\n# through kube-apiserver: ${apiserver}\n`);
    else {
      const ms = (value: number) => value.toFixed(2);
      process.stdout.write(
        [
          `\n# through kube-apiserver: dry-run PVC creates, ${apiserver.creates} sequential per target in interleaved rounds, then ${apiserver.clients} concurrent clients`,
          '| target | p50 ms | p99 ms | creates/s with load | API server: mutate call ms | validate call ms |',
          '|---|---|---|---|---|---|',
          ...TARGETS.map((target) => {
            const calls = isCalled(target) ? apiserver.apiserverCallMs[target] : undefined;
            return `| ${TARGET_LABELS[target].row} | ${ms(apiserver.p50Ms[target])} | ${ms(apiserver.p99Ms[target])} | ${apiserver.loadRps[target].toFixed(0)} | ${calls ? ms(calls.mutate) : ''} | ${calls ? ms(calls.validate) : ''} |`;
          }),
          `# CPU per create under load, µs (API server / etcd / the target's server / load generator): ${TARGETS.map(
            (target) => {
              const cpu = apiserver.loadCpuMicros[target];
              return `${TARGET_LABELS[target].short} ${[cpu.apiserver, cpu.etcd, cpu.webhook, cpu.loadGenerator].map((value) => value.toFixed(0)).join(' / ')}`;
            },
          ).join('; ')}`,
          `# added over the null webhook: ${ms(apiserver.addedOverNullP50Ms)} ms at p50, ${ms(apiserver.addedOverNullP99Ms)} ms at p99; throughput ${apiserver.loadThroughputRatioToNull.toFixed(2)} of the null webhook's`,
          `# applying this webhook's answer (the canned answer, at the null webhook's speed) adds ${ms(apiserver.p50Ms['canned answer'] - apiserver.p50Ms.null)} ms at p50 over the null webhook and ${(apiserver.loadCpuMicros['canned answer'].apiserver - apiserver.loadCpuMicros.null.apiserver).toFixed(0)} µs of API server CPU per create; the webhook adds ${ms(apiserver.p50Ms.webhook - apiserver.p50Ms['canned answer'])} ms over its own answer`,
          `# the floor adds ${ms(apiserver.p50Ms.floor - apiserver.p50Ms.unregistered)} ms at p50 over no admission, the webhook ${ms(apiserver.p50Ms.webhook - apiserver.p50Ms.unregistered)}\n`,
        ].join('\n'),
      );
    }
    const summary = {
      cpuRatio: Number((cpu(baseline.name) / cpu(webhook.name)).toFixed(3)),
      frameworkRatio: Number((cpu(bareEngine.name) / cpu(webhook.name)).toFixed(3)),
      webhookCpuMicros: Number(cpu(webhook.name).toFixed(1)),
      baselineCpuMicros: Number(cpu(baseline.name).toFixed(1)),
      bareEngineCpuMicros: Number(cpu(bareEngine.name).toFixed(1)),
      p99MicrosAt1000Rps: Math.round(p99(webhook.name)),
      baselineP99MicrosAt1000Rps: Math.round(p99(baseline.name)),
      majorGcPerFixedRateRound: median(fixedRateGc.map((gc) => gc.count)),
      majorGcPauseMsPerFixedRateRound: Number(median(fixedRateGc.map((gc) => gc.pauseMs)).toFixed(1)),
      // Each round's p99 beside its full collections: a round a mark-compact falls in has its pause as its p99.
      p99MicrosPerFixedRateRound: (latency.get(webhook.name) ?? []).map((run) => Math.round(run.p99Micros)),
      majorGcPerFixedRateRoundEach: fixedRateGc.map((gc) => gc.count),
      peakRssMb: Math.round(peakRssMb),
      // Omitted when not measured (--smoke measures 1,000 claims only).
      ...Object.fromEntries(
        (
          [
            ['peakRssMbAt4Streams', at(10_000)?.peakRssMbAt4Streams],
            ['rssMbAt100kClaims', at(100_000)?.rssMb],
            ['peakRssMbAt100kClaims', at(100_000)?.peakRssMbAt4Streams],
            ['heapMbAt100kClaims', at(100_000)?.heapUsedMb],
          ] as const
        ).flatMap(([key, value]) => (value === undefined ? [] : [[key, Math.round(value)]])),
      ),
      steadyRssMb: Math.round(steadyRssMb),
      valid: invalid.length === 0,
      pinned: PINNED,
      overheadOverBareEngineMicros: Number(overhead(levels[1]?.label ?? '').toFixed(1)),
      overheadOverBareEngineMicrosAt4Streams: Number(overhead(levels[0]?.label ?? '').toFixed(1)),
      ladderMicros: Object.fromEntries(
        rungs.map((server) => [
          server.name,
          levels.map((level) => Number(rungCpu(server.name, level.label).toFixed(1))),
        ]),
      ),
      ladderServerCpuPercent: Object.fromEntries(
        rungs.map((server) => [
          server.name,
          levels.map((level) => Math.round(rungCpuPercent(server.name, level.label))),
        ]),
      ),
      rounds: ROUNDS,
      clientCpuPercent: Math.round(median([...saturation.values()].flat().map((run) => run.clientCpuPercent))),
      loadAverage: Number(loadavg()[0]?.toFixed(2)),
      microsPerReview100Policies10kClaims: Number((scale[100]?.[2] ?? scale[10]?.[0] ?? 0).toFixed(1)),
      microsPerMatchingPolicy: Number(perMatchingPolicy.toFixed(2)),
      auditMillisFor10kClaims: Math.round(audit.cpuMillis),
      auditHeapMb: Number(audit.heapMb.toFixed(1)),
      auditExternalMb: Number(audit.externalMb.toFixed(1)),
      ...(typeof apiserver === 'string'
        ? {}
        : {
            apiserverAddedP50Ms: Number((apiserver.p50Ms.webhook - apiserver.p50Ms.unregistered).toFixed(2)),
            apiserverAddedP99Ms: Number((apiserver.p99Ms.webhook - apiserver.p99Ms.unregistered).toFixed(2)),
            apiserverAddedOverNullP50Ms: Number(apiserver.addedOverNullP50Ms.toFixed(2)),
            apiserverAddedOverNullP99Ms: Number(apiserver.addedOverNullP99Ms.toFixed(2)),
            apiserverNullP99Ms: Number(apiserver.p99Ms.null.toFixed(2)),
            // What the webhook adds over its own answer served at the null webhook's speed: its server's share.
            apiserverAddedOverCannedAnswerP50Ms: Number(
              (apiserver.p50Ms.webhook - apiserver.p50Ms['canned answer']).toFixed(2),
            ),
            // What the floor (admission policies the API server runs itself) adds to a create over no admission.
            apiserverFloorAddedP50Ms: Number((apiserver.p50Ms.floor - apiserver.p50Ms.unregistered).toFixed(2)),
            loadThroughputRatioToNull: Number(apiserver.loadThroughputRatioToNull.toFixed(3)),
            loadCpuMicrosPerCreate: apiserver.loadCpuMicros,
            // The API server's own CPU per create under load, for this webhook and the null webhook: what the shape
            // of a webhook's reply costs every storage write of the cluster.
            apiserverCpuMicrosPerCreate: {
              webhook: Math.round(apiserver.loadCpuMicros.webhook.apiserver),
              null: Math.round(apiserver.loadCpuMicros.null.apiserver),
              floor: Math.round(apiserver.loadCpuMicros.floor.apiserver),
              // This webhook's answer at the null webhook's speed: the API server's share of the mutation itself.
              cannedAnswer: Math.round(apiserver.loadCpuMicros['canned answer'].apiserver),
            },
            apiserverP50Ms: Object.fromEntries(
              Object.entries(apiserver.p50Ms).map(([target, value]) => [target, Number(value.toFixed(2))]),
            ),
          }),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) =>
            child.exitCode !== null || child.signalCode !== null
              ? resolve(null)
              : (child.once('exit', resolve), child.kill('SIGTERM')),
          ),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  }
}

let settled = false;
main()
  .catch((error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    settled = true;
  });
// Node exits with 0 when nothing is left to wait for, even with the bench's promise pending (a measured server died
// and took every handle with it): that is a failure, said as one.
process.on('beforeExit', () => {
  if (settled) return;
  process.stderr.write('bench failed: it stopped with measurements pending (did a server it measured die?)\n');
  process.exitCode = 1;
});
