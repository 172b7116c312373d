import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { statefulSet, template } from '../test/helpers.js';
import { freePort } from '../test/loopback.js';
import { statusMb } from './load.js';
import { deployNodeOptions, writeServingCertificate } from './workload.js';

// The memory arithmetic of docs/availability.md: `serve` with the bundled policies and a heap configuration,
// idle RSS, then 10 clients each sending a 3 MB StatefulSet review in a loop; prints idle and peak RSS.
// Usage: node dist/bench/big-reviews.js [--node-options "..."] [--seconds 6] [--clients 10] [--sessions 1|per-client]
// Answers are counted by HTTP status; a stream reset without an answer counts as minus its HTTP/2 error code.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    'node-options': { type: 'string' },
    seconds: { type: 'string', default: '6' },
    clients: { type: 'string', default: '10' },
    sessions: { type: 'string', default: 'per-client' },
    'webhook-arg': { type: 'string', multiple: true, default: [] },
  },
});
const nodeOptions = values['node-options'] ?? deployNodeOptions();

/** A StatefulSet review of about 3 MB: a pod template with 20,000 environment variables. */
function bigReview(): string {
  const env = Array.from({ length: 20_000 }, (_, index) => ({ name: `VARIABLE_${index}`, value: 'x'.repeat(120) }));
  const object = statefulSet(
    [template('data', { storageClassName: 'gp3' })],
    { containers: [{ name: 'app', image: 'app:1', env }] },
    3,
    { name: 'big', namespace: 'payments' },
  );
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'big',
      kind: { group: 'apps', version: 'v1', kind: 'StatefulSet' },
      namespace: 'payments',
      name: 'big',
      operation: 'CREATE',
      object,
    },
  });
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'storage-policy-big-'));
  const { ca, cert, key } = await writeServingCertificate(dir);
  const port = await freePort();
  const opsPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'dist/src/cli/main.js'),
      'serve',
      '--host=127.0.0.1',
      `--port=${port}`,
      '--ops-host=127.0.0.1',
      `--ops-port=${opsPort}`,
      `--cert=${cert}`,
      `--key=${key}`,
      `--policies=${join(ROOT, 'policies')}`,
      '--log-level=warn',
    ],
    { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: nodeOptions } },
  );
  try {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`)
        .then((response) => response.ok)
        .catch(() => false);
      if (ready) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const pid = child.pid ?? 0;
    const idle = statusMb(pid, 'VmRSS');
    const body = bigReview();
    const deadline = Date.now() + Number(values.seconds) * 1000;
    const statuses = new Map<number, number>();
    // --sessions 1: every client's streams on one HTTP/2 connection, as one API server sends its webhook calls.
    const sessions = Array.from({ length: values.sessions === '1' ? 1 : Number(values.clients) }, () => {
      // Room for ten 3 MB bodies queued at once: with Node's default of 10 MB the client resets its own streams.
      const session = connect(`https://127.0.0.1:${port}`, { ca: ca.cert, maxSessionMemory: 256 });
      session.on('error', () => undefined);
      return session;
    });
    await Promise.all(
      Array.from({ length: Number(values.clients) }, async (_, index) => {
        while (Date.now() < deadline) {
          const session = sessions[index % sessions.length];
          if (!session || session.closed || session.destroyed) break;
          const status = await new Promise<number>((resolve) => {
            const stream = session.request({
              ':method': 'POST',
              ':path': '/validate',
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            });
            let code = 0;
            stream.on('response', (headers) => (code = Number(headers[':status'])));
            stream.on('data', () => undefined);
            stream.on('error', () => undefined);
            // A stream the server never answers counts as -1 instead of holding the run.
            stream.setTimeout(30_000, () => stream.close());
            stream.on('close', () => resolve(code || -stream.rstCode || -1));
            stream.end(body);
          });
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    sessions.forEach((session) => session.close());
    const answers = [...statuses.entries()].map(([status, count]) => `${count} x ${status}`).join(', ');
    process.stdout.write(
      `NODE_OPTIONS=${nodeOptions}: idle ${idle.toFixed(0)} MiB, peak ${statusMb(pid, 'VmHWM').toFixed(0)} MiB with ${values.clients} clients sending ${(Buffer.byteLength(body) / 2 ** 20).toFixed(1)} MiB reviews for ${values.seconds} s (${answers})\n`,
    );
  } finally {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`big-reviews failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
