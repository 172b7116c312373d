import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../test/e2e/harness.js';
import { eventually, freePort } from '../test/loopback.js';
import { pvc } from './workload.js';

// What this webhook adds to a write, as the person writing feels it: dry-run claim creates through a real
// kube-apiserver with the webhook registered for mutate and validate, against the cheapest possible webhook (the
// protocol baseline, answering allowed: true) registered the same way (same configurations, TLS, failurePolicy,
// timeouts), and against no webhook at all (a namespace the configurations leave out). Rounds are interleaved so a
// drift of the machine hits all three alike. The API server's own apiserver_admission_webhook_admission_duration_seconds
// (k8s.io/apiserver pkg/admission/metrics) says how much of the difference is the call itself.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BASELINE = join(ROOT, 'dist/bench/baseline.js');

type Target = 'webhook' | 'null' | 'unregistered';
const TARGETS: readonly Target[] = ['webhook', 'null', 'unregistered'];

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
  /** Mean time of one webhook call (mutate, validate) as the API server measured it, per target. */
  apiserverCallMs: Record<'webhook' | 'null', { mutate: number; validate: number }>;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

interface Client {
  create(namespace: string, name: string): Promise<{ ms: number; warned: boolean }>;
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
    new Promise<{ status: number; text: string; warned: boolean; ms: number }>((resolve, reject) => {
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
              warned: response.headers['warning'] !== undefined,
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
      return { ms: answer.ms, warned: answer.warned };
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
  let nullServer: ChildProcess | undefined;
  try {
    await cluster.startControlPlane(bin);
    cluster.kubectl('apply', '-f', join(ROOT, 'test/e2e/fixtures/cluster.yaml'));
    cluster.kubectl('create', 'namespace', 'storage-policy-webhook');
    await cluster.startWebhook(options.webhookArgs);
    cluster.registerWebhook();
    const nullPort = await freePort();
    const certs = join(cluster.dir, 'webhook');
    nullServer = spawn(process.execPath, [BASELINE, String(nullPort), join(certs, 'tls.crt'), join(certs, 'tls.key')], {
      stdio: 'ignore',
    });
    const client = apiClient(cluster.kubeconfig);
    let serial = 0;
    const namespaceOf = (target: Target): string => (target === 'unregistered' ? 'storage-policy-webhook' : 'payments');
    // The API server picks a configuration change up from its informer: a claim with no class gets this webhook's
    // default (and a Warning), the null webhook's answer has none; wait until the answers say the switch is done.
    const pointAt = async (target: Target): Promise<void> => {
      if (target === 'unregistered') return;
      const pointed = cluster.pointWebhooksAt(target === 'webhook' ? cluster.webhookPort : nullPort);
      if (pointed.status !== 0) throw new Error(pointed.stderr);
      await eventually(
        `the API server to call the ${target} webhook`,
        async () => (await client.create('payments', `switch-${(serial += 1)}`)).warned === (target === 'webhook'),
        30_000,
        20,
      );
    };
    const sequential: Record<Target, number[]> = { webhook: [], null: [], unregistered: [] };
    const seen = {
      webhook: { mutate: { sum: 0, count: 0 }, validate: { sum: 0, count: 0 } },
      null: { mutate: { sum: 0, count: 0 }, validate: { sum: 0, count: 0 } },
    };
    const attribute = async (target: Target, run: () => Promise<void>): Promise<void> => {
      const before = webhookCalls(await client.metrics());
      await run();
      if (target === 'unregistered') return;
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
    const loadRps: Record<Target, number> = { webhook: 0, null: 0, unregistered: 0 };
    for (const target of TARGETS) {
      await pointAt(target);
      let next = 0;
      const begin = process.hrtime.bigint();
      await Promise.all(
        Array.from({ length: options.clients }, async () => {
          while (next < options.loadCreates) {
            next += 1;
            await client.create(namespaceOf(target), `load-${(serial += 1)}`);
          }
        }),
      );
      loadRps[target] = options.loadCreates / (Number(process.hrtime.bigint() - begin) / 1e9);
    }
    client.close();
    const at = (fraction: number): Record<Target, number> => {
      const of = (target: Target) =>
        percentile(
          [...sequential[target]].sort((a, b) => a - b),
          fraction,
        );
      return { webhook: of('webhook'), null: of('null'), unregistered: of('unregistered') };
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
      apiserverCallMs: {
        webhook: { mutate: mean(seen.webhook.mutate), validate: mean(seen.webhook.validate) },
        null: { mutate: mean(seen.null.mutate), validate: mean(seen.null.validate) },
      },
    };
  } finally {
    nullServer?.kill('SIGTERM');
    await cluster.stop();
  }
}
