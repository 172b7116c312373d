import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { mutatingHandler } from '../src/admission/handler.js';
import { stringAt, type JsonObject } from '../src/core/json.js';
import { Engine } from '../src/engine/engine.js';
import { loadInventory } from '../src/lookup/inventory.js';
import type { ClusterLookup } from '../src/lookup/lookup.js';
import { loadPolicies } from '../src/engine/policies.js';
import type { Policy } from '../src/policy/model.js';
import { OPT_OUT_LABEL } from '../src/core/selectors.js';
import { generateFloor, LocalCluster } from '../test/e2e/harness.js';
import { eventually, freePort } from '../test/loopback.js';
import { cpuSeconds } from './load.js';
import { admissionRequest, pvc } from './workload.js';

// What this webhook adds to a write, as the person writing feels it: dry-run claim creates through a real
// kube-apiserver with the webhook registered for mutate and validate, against the cheapest possible webhook (the
// protocol baseline, answering allowed: true) registered the same way (same configurations, TLS, failurePolicy,
// timeouts), against the floor alone (the policies as admission policies the API server runs itself), and against no
// webhook at all (a namespace the configurations leave out). Rounds are interleaved so a
// drift of the machine hits all three alike. The API server's own apiserver_admission_webhook_admission_duration_seconds
// (k8s.io/apiserver pkg/admission/metrics) says how much of the difference is the call itself.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BASELINE = join(ROOT, 'dist/bench/baseline.js');
const LADDER = join(ROOT, 'dist/bench/ladder-server.js');

/**
 * Where the two webhook registrations point in turn. Besides this webhook and the null webhook, three steps of the
 * ablation ladder (bench/ladder-server.ts) on the same policies and cluster objects say where the difference
 * goes: the bare engine (Node's HTTP/2 server, this project's handlers and engine, no framework) and the same
 * behind Fastify's routes, answering with reply.send() (Node's HTTP/2 compatibility API: the END_STREAM in a second
 * record) and with the webhook's one-write stream answer (src/server/stream-reply.ts).
 */
type Target =
  | 'webhook'
  | 'null'
  | 'canned answer'
  | 'bare engine'
  | 'fastify reply.send'
  | 'fastify routes'
  | 'floor'
  | 'unregistered';
export const TARGETS: readonly Target[] = [
  'webhook',
  'null',
  'canned answer',
  'bare engine',
  'fastify reply.send',
  'fastify routes',
  'floor',
  'unregistered',
];
/**
 * The canned answer: the null webhook answering every /mutate with what this webhook answers the bench's claim (its
 * JSON patch and warnings, computed once here by the same engine on the same policies and objects): what the API
 * server pays for applying this webhook's answer (decoding and applying the patch, re-running its mutating admission
 * chain after a change), at the null webhook's speed.
 */
function writeCannedAnswer(file: string, policies: Policy[], inventory: ClusterLookup): void {
  const outcome = mutatingHandler(
    admissionRequest(pvc('payments', 'canned')),
    new Engine({ policies, lookup: inventory }),
  );
  if (!outcome.valid || !outcome.response.patch)
    throw new Error('the canned answer has no patch: the bench claim no longer gets a default class');
  const { patch, patchType, warnings = [] } = outcome.response;
  writeFileSync(file, JSON.stringify({ patch, patchType, warnings: [...warnings, 'bench target: canned answer'] }));
}

/** How the bench's report names each target: a table row, and a short name for the CPU line. */
export const TARGET_LABELS: Record<Target, { row: string; short: string }> = {
  webhook: { row: 'this webhook', short: 'this webhook' },
  null: { row: 'null webhook (allowed: true, same registration)', short: 'null' },
  'canned answer': { row: "the null webhook answering this webhook's patch and warnings", short: 'canned answer' },
  'bare engine': { row: 'bare engine (Node HTTP/2 server, handlers and engine)', short: 'bare engine' },
  'fastify reply.send': { row: 'the bare engine behind Fastify routes, reply.send()', short: 'Fastify reply.send' },
  'fastify routes': { row: 'the bare engine behind Fastify routes, one-write answer', short: 'Fastify one-write' },
  floor: { row: 'the floor alone (admission policies, no webhook)', short: 'floor' },
  unregistered: { row: 'no webhook (excluded namespace)', short: 'none' },
};

/** The targets the API server calls a webhook for; the floor and the unregistered namespace have none. */
type Called = Exclude<Target, 'unregistered' | 'floor'>;
export const isCalled = (target: Target): target is Called => target !== 'unregistered' && target !== 'floor';

/**
 * The floor (storage-policy generate admission-policies), measured alone: the webhook's policies compiled to
 * ValidatingAdmissionPolicies (and a MutatingAdmissionPolicy from 1.36), their bindings pointed at one namespace that
 * the webhook configurations leave out (opted out), so its creates meet the floor and no webhook.
 */
const FLOOR_NAMESPACE = 'bench-floor';

function installFloor(cluster: LocalCluster, version: string): void {
  const out = join(cluster.dir, 'bench-floor');
  const generated = generateFloor(out, '--kubernetes-version', version);
  if (generated.status !== 0) throw new Error(`generate admission-policies: ${generated.stderr}`);
  const objects = parseAllDocuments(readFileSync(join(out, 'admission-policies.yaml'), 'utf8')).map(
    (document) => document.toJS() as JsonObject,
  );
  for (const object of objects) {
    const spec = object['spec'] as JsonObject | undefined;
    if ((stringAt(object, 'kind') ?? '').endsWith('Binding') && spec)
      spec['matchResources'] = {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': FLOOR_NAMESPACE } },
      };
  }
  const namespace = `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${FLOOR_NAMESPACE}, labels: {${OPT_OUT_LABEL}: "true"}}\n`;
  const applied = cluster.kubectlWithInput(
    [namespace, ...objects.map((object) => stringify(object))].join('---\n'),
    'apply',
    '-f',
    '-',
  );
  if (applied.status !== 0) throw new Error(`applying the floor: ${applied.stderr}`);
}
interface LoadCpu {
  apiserver: number;
  etcd: number;
  /** The target's server process (0 for unregistered). */
  webhook: number;
  loadGenerator: number;
}
const LADDER_STEPS: Partial<Record<Target, string>> = {
  'bare engine': 'bare',
  'fastify reply.send': 'routes-send',
  'fastify routes': 'routes',
};

export interface ApiserverComparison {
  creates: number;
  p50Ms: Record<Target, number>;
  p99Ms: Record<Target, number>;
  addedOverNullP50Ms: number;
  addedOverNullP99Ms: number;
  /** Creates per second with `clients` concurrent clients. */
  loadRps: Record<Target, number>;
  clients: number;
  loadThroughputRatioToNull: number;
  /** CPU per create during the load phase, µs, by process: the machine's cores are what the load runs out of. */
  loadCpuMicros: Record<Target, LoadCpu>;
  /** Mean time of one webhook call (mutate, validate) as the API server measured it, per target. */
  apiserverCallMs: Record<Called, { mutate: number; validate: number }>;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

interface Client {
  create(namespace: string, name: string): Promise<{ ms: number; warning: string }>;
  metrics(): Promise<string>;
  close(): void;
}

function apiClient(kubeconfigFile: string): Client {
  const kubeconfig = readFileSync(kubeconfigFile, 'utf8');
  const server = /server: (\S+)/.exec(kubeconfig)?.[1] ?? '';
  const token = /token: (\S+)/.exec(kubeconfig)?.[1] ?? '';
  const ca = Buffer.from(/certificate-authority-data: (\S+)/.exec(kubeconfig)?.[1] ?? '', 'base64').toString();
  const agent = new Agent({ keepAlive: true, ca, maxSockets: 256 });
  const call = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; text: string; warning: string; ms: number }>((resolve, reject) => {
      const begin = process.hrtime.bigint();
      const request = httpsRequest(
        new URL(path, server),
        { method, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              warning: String(response.headers['warning'] ?? ''),
              ms: Number(process.hrtime.bigint() - begin) / 1e6,
            }),
          );
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  return {
    create: async (namespace, name) => {
      const answer = await call(
        'POST',
        `/api/v1/namespaces/${namespace}/persistentvolumeclaims?dryRun=All`,
        JSON.stringify(pvc(namespace, name)),
      );
      if (answer.status !== 201) throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
      return { ms: answer.ms, warning: answer.warning };
    },
    metrics: async () => (await call('GET', '/metrics')).text,
    close: () => agent.destroy(),
  };
}

/** Sum and count of the API server's webhook-call histogram, per webhook name. */
function webhookCalls(metrics: string): Map<string, { sum: number; count: number }> {
  const calls = new Map<string, { sum: number; count: number }>();
  for (const line of metrics.split('\n')) {
    const match =
      /^apiserver_admission_webhook_admission_duration_seconds_(sum|count)\{[^}]*name="([^"]+)"[^}]*\} (\S+)$/.exec(
        line,
      );
    if (!match) continue;
    const [, field, name = '', value] = match;
    const entry = calls.get(name) ?? { sum: 0, count: 0 };
    if (field === 'sum') entry.sum += Number(value);
    else entry.count += Number(value);
    calls.set(name, entry);
  }
  return calls;
}

export async function compareThroughApiserver(options: {
  rounds: number;
  perRound: number;
  clients: number;
  loadCreates: number;
  /** Extra `serve` flags for this webhook (the bench's --webhook-arg). */
  webhookArgs?: string[];
}): Promise<ApiserverComparison> {
  const [newest = ''] = await LocalCluster.versions();
  const { bin } = LocalCluster.build(newest);
  const cluster = new LocalCluster();
  const servers: ChildProcess[] = [];
  try {
    await cluster.startControlPlane(bin);
    cluster.kubectl('apply', '-f', join(ROOT, 'test/e2e/fixtures/cluster.yaml'));
    cluster.kubectl('create', 'namespace', 'storage-policy-webhook');
    await cluster.startWebhook(options.webhookArgs);
    cluster.registerWebhook();
    installFloor(cluster, newest);
    const certs = join(cluster.dir, 'webhook');
    const tls = [join(certs, 'tls.crt'), join(certs, 'tls.key')];
    // The ladder's servers judge with the webhook's policies and the objects the cluster holds.
    const inventory = join(cluster.dir, 'inventory.json');
    const fixtures = parseAllDocuments(readFileSync(join(ROOT, 'test/e2e/fixtures/cluster.yaml'), 'utf8'));
    writeFileSync(inventory, JSON.stringify({ kind: 'List', items: fixtures.map((document) => document.toJS()) }));
    const cannedAnswer = join(cluster.dir, 'canned-answer.json');
    writeCannedAnswer(
      cannedAnswer,
      (await loadPolicies(join(ROOT, 'policies'))).policies,
      await loadInventory([inventory]),
    );
    const ports: Partial<Record<Called, number>> = { webhook: cluster.webhookPort };
    const serverOf = new Map<Target, ChildProcess | undefined>([['webhook', cluster.processes.get('webhook')]]);
    for (const target of TARGETS) {
      if (target === 'webhook' || !isCalled(target)) continue;
      const port = await freePort();
      const step = LADDER_STEPS[target];
      const args = step
        ? [LADDER, step, String(port), ...tls, join(ROOT, 'policies'), inventory]
        : target === 'canned answer'
          ? [BASELINE, String(port), ...tls, cannedAnswer]
          : [BASELINE, String(port), ...tls];
      const server = spawn(process.execPath, args, { stdio: 'ignore', env: { ...process.env, BENCH_TARGET: target } });
      servers.push(server);
      serverOf.set(target, server);
      ports[target] = port;
    }
    const client = apiClient(cluster.kubeconfig);
    let serial = 0;
    const namespaceOf = (target: Target): string =>
      target === 'unregistered' ? 'storage-policy-webhook' : target === 'floor' ? FLOOR_NAMESPACE : 'payments';
    // The API server loads admission policies from its informer: wait until the floor refuses a forbidden class.
    await eventually(
      'the API server to enforce the floor',
      () =>
        /ValidatingAdmissionPolicy/.test(
          cluster.kubectlWithInput(
            `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: forbidden, namespace: ${FLOOR_NAMESPACE}}\nspec: {storageClassName: io1-slow, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n`,
            'create',
            '--dry-run=server',
            '-f',
            '-',
          ).stderr,
        ),
      30_000,
      250,
    );
    // The API server picks a configuration change up from its informer: this webhook answers a claim with no class
    // with a default (and a Warning), the null webhook with none, the ladder's servers with a warning naming them;
    // wait until the answers say the switch is done.
    const answeredBy = (warning: string): Target =>
      TARGETS.find((target) => warning.includes(`bench target: ${target}`)) ?? (warning ? 'webhook' : 'null');
    const pointAt = async (target: Target): Promise<void> => {
      if (!isCalled(target)) return;
      const pointed = cluster.pointWebhooksAt(ports[target] ?? 0);
      if (pointed.status !== 0) throw new Error(pointed.stderr);
      await eventually(
        `the API server to call the ${target} webhook`,
        async () => answeredBy((await client.create('payments', `switch-${(serial += 1)}`)).warning) === target,
        30_000,
        20,
      );
    };
    const byTarget = <T>(make: () => T): Record<Target, T> =>
      Object.fromEntries(TARGETS.map((target) => [target, make()])) as Record<Target, T>;
    const sequential = byTarget((): number[] => []);
    const seen = byTarget(() => ({ mutate: { sum: 0, count: 0 }, validate: { sum: 0, count: 0 } }));
    const attribute = async (target: Target, run: () => Promise<void>): Promise<void> => {
      const before = webhookCalls(await client.metrics());
      await run();
      if (!isCalled(target)) return;
      const after = webhookCalls(await client.metrics());
      for (const type of ['mutate', 'validate'] as const) {
        const name = `${type}.storage-policy-webhook.io`;
        const delta = {
          sum: (after.get(name)?.sum ?? 0) - (before.get(name)?.sum ?? 0),
          count: (after.get(name)?.count ?? 0) - (before.get(name)?.count ?? 0),
        };
        seen[target][type].sum += delta.sum;
        seen[target][type].count += delta.count;
      }
    };
    for (let round = 0; round < options.rounds; round += 1) {
      for (const target of TARGETS) {
        await pointAt(target);
        await attribute(target, async () => {
          for (let index = 0; index < options.perRound; index += 1)
            sequential[target].push((await client.create(namespaceOf(target), `seq-${(serial += 1)}`)).ms);
        });
      }
    }
    // The load phase in rounds too, each round in another order, after an unmeasured warm-up: the first phase of a
    // fresh cluster warms the API server's and the load generator's code, and would bill that to one target.
    const loadRounds = 3;
    const perLoadRound = Math.ceil(options.loadCreates / loadRounds);
    const loadSeconds = byTarget(() => 0);
    const loadCpu = byTarget((): LoadCpu => ({ apiserver: 0, etcd: 0, webhook: 0, loadGenerator: 0 }));
    const pids = { apiserver: cluster.processes.get('kube-apiserver')?.pid, etcd: cluster.processes.get('etcd')?.pid };
    const cpuOf = (pid: number | undefined): number => (pid ? cpuSeconds(pid) : 0);
    const load = async (target: Target, creates: number): Promise<void> => {
      let next = 0;
      await Promise.all(
        Array.from({ length: options.clients }, async () => {
          while (next < creates) {
            next += 1;
            await client.create(namespaceOf(target), `load-${(serial += 1)}`);
          }
        }),
      );
    };
    await load('unregistered', perLoadRound);
    for (let round = 0; round < loadRounds; round += 1) {
      for (const target of [...TARGETS.slice(round % TARGETS.length), ...TARGETS.slice(0, round % TARGETS.length)]) {
        await pointAt(target);
        const server = serverOf.get(target)?.pid;
        const before = { apiserver: cpuOf(pids.apiserver), etcd: cpuOf(pids.etcd), webhook: cpuOf(server) };
        const ownBefore = process.cpuUsage();
        const begin = process.hrtime.bigint();
        await load(target, perLoadRound);
        loadSeconds[target] += Number(process.hrtime.bigint() - begin) / 1e9;
        const own = process.cpuUsage(ownBefore);
        const spent = loadCpu[target];
        spent.apiserver += cpuOf(pids.apiserver) - before.apiserver;
        spent.etcd += cpuOf(pids.etcd) - before.etcd;
        spent.webhook += cpuOf(server) - before.webhook;
        spent.loadGenerator += (own.user + own.system) / 1e6;
      }
    }
    const loadCreates = perLoadRound * loadRounds;
    const loadRps = byTarget(() => 0);
    const loadCpuMicros = byTarget((): LoadCpu => ({ apiserver: 0, etcd: 0, webhook: 0, loadGenerator: 0 }));
    for (const target of TARGETS) {
      loadRps[target] = loadCreates / loadSeconds[target];
      const spent = loadCpu[target];
      const perCreate = (seconds: number): number => (seconds * 1e6) / loadCreates;
      loadCpuMicros[target] = {
        apiserver: perCreate(spent.apiserver),
        etcd: perCreate(spent.etcd),
        webhook: perCreate(spent.webhook),
        loadGenerator: perCreate(spent.loadGenerator),
      };
    }
    client.close();
    const at = (fraction: number): Record<Target, number> => {
      const percentiles = byTarget(() => 0);
      for (const target of TARGETS)
        percentiles[target] = percentile(
          [...sequential[target]].sort((a, b) => a - b),
          fraction,
        );
      return percentiles;
    };
    const p50Ms = at(0.5);
    const p99Ms = at(0.99);
    const mean = (entry: { sum: number; count: number }) => (entry.count > 0 ? (entry.sum / entry.count) * 1000 : 0);
    return {
      creates: sequential.webhook.length,
      p50Ms,
      p99Ms,
      addedOverNullP50Ms: p50Ms.webhook - p50Ms.null,
      addedOverNullP99Ms: p99Ms.webhook - p99Ms.null,
      loadRps,
      clients: options.clients,
      loadThroughputRatioToNull: loadRps.null > 0 ? loadRps.webhook / loadRps.null : 0,
      loadCpuMicros,
      apiserverCallMs: Object.fromEntries(
        TARGETS.filter(isCalled).map((target) => [
          target,
          { mutate: mean(seen[target].mutate), validate: mean(seen[target].validate) },
        ]),
      ) as Record<Called, { mutate: number; validate: number }>,
    };
  } finally {
    for (const server of servers) server.kill('SIGTERM');
    await cluster.stop();
  }
}
