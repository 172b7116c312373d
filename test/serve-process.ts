import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { eventually, freePort } from './loopback.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/**
 * A real `storage-policy serve` process on loopback, as the operations, hardening and availability tests
 * run it: free ports (or a given admission port, to restart on it), its output captured, ready once the
 * plain-HTTP ops port says so (which also holds with --client-ca).
 */
export class ServeProcess {
  child: ChildProcess | undefined;
  port = 0;
  opsPort = 0;
  output = '';
  exited: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly args: string[],
    readonly options: { port?: number; logLevel?: string } = {},
  ) {}

  async start(): Promise<this> {
    this.port = this.options.port ?? (await freePort());
    this.opsPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--host=127.0.0.1',
        `--port=${this.port}`,
        '--ops-host=127.0.0.1',
        `--ops-port=${this.opsPort}`,
        `--log-level=${this.options.logLevel ?? 'warn'}`,
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually('the webhook to be ready', async () => (await this.ops('/readyz')).status === 200, 15_000);
    return this;
  }

  /** A GET on the plain-HTTP operations port (probes, /metrics). */
  async ops(path: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`http://127.0.0.1:${this.opsPort}${path}`);
    return { status: response.status, text: await response.text() };
  }

  rssMiB(): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child?.pid ?? 0}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  }

  stop(): void {
    if (this.child?.exitCode === null) this.child.kill('SIGKILL');
  }
}
