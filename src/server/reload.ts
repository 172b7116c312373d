import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { PolicyLoadError } from '../policy/load.js';
import { loadPolicies } from '../engine/policies.js';
import type { WebhookMetrics } from './metrics.js';
import type { WebhookState } from './state.js';

/**
 * How long a folder must stand still, by its events and by every file's size and mtime, before it is read: a file
 * rewritten in place slowly (an editor, kubectl cp: half, a pause, the rest) must not be loaded half-written, which
 * would switch decisions twice for one edit. A mounted ConfigMap's symlink swap is atomic and waits only this long.
 */
const QUIET_MS = 1_000;

/** Name, size and mtime of every entry (symlinks followed, as a mounted ConfigMap's are), in one comparable text. */
async function folderState(dir: string): Promise<string> {
  const names = await readdir(dir).catch(() => []);
  const entries = await Promise.all(
    names.sort().map(async (name) => {
      const info = await stat(join(dir, name)).catch(() => undefined);
      return `${name}:${info?.size ?? -1}:${info?.mtimeMs ?? -1}`;
    }),
  );
  return entries.join('\n');
}

/**
 * Calls `onChange` once per edit of a folder: after its events have stopped and its files have not changed for
 * QUIET_MS. Watching the folder, not the files, is what catches a mounted ConfigMap or Secret: kubelet swaps the
 * `..data` symlink, replacing every file at once.
 */
function watchFolder(dir: string, onChange: () => void, logger: Logger, quietMs = QUIET_MS): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const settle = async (before: string): Promise<void> => {
    const now = await folderState(dir);
    if (now === before) onChange();
    else timer = setTimeout(() => void settle(now), quietMs);
  };
  try {
    watcher = watch(dir, { persistent: false }, () => {
      clearTimeout(timer);
      void folderState(dir).then((before) => {
        clearTimeout(timer);
        timer = setTimeout(() => void settle(before), quietMs);
      });
    });
    watcher.on('error', (error) => logger.error({ err: error, dir }, 'folder watch failed; SIGHUP still reloads'));
  } catch (error) {
    logger.error({ err: error, dir }, 'cannot watch folder; SIGHUP still reloads');
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}

/** Loads the whole policy folder and swaps it in atomically; a broken set leaves the last good one serving. */
export class PolicyReloader {
  constructor(
    private readonly state: WebhookState,
    private readonly dir: string,
    private readonly metrics: WebhookMetrics,
    private readonly logger: Logger,
  ) {}

  async reload(trigger: string): Promise<boolean> {
    try {
      const set = await loadPolicies(this.dir);
      this.state.swap(set);
      this.metrics.reloads.inc({ result: 'success' });
      this.metrics.lastGoodReload.set(Date.now() / 1000);
      this.metrics.policiesLoaded.set(set.policies.length);
      this.logger.info({ trigger, policies: set.policies.map((policy) => policy.name) }, 'policy set loaded');
      return true;
    } catch (error) {
      this.state.lastReloadError = (error as Error).message;
      this.metrics.reloads.inc({ result: 'failure' });
      const problems = error instanceof PolicyLoadError ? error.problems : undefined;
      this.logger.error(
        { trigger, problems, err: problems ? undefined : error, serving: this.state.policySet?.policies.length ?? 0 },
        'policy reload failed; the last good set keeps serving',
      );
      return false;
    }
  }

  watch(): () => void {
    return watchFolder(this.dir, () => void this.reload('file change'), this.logger);
  }
}

interface KeyPair {
  key: Buffer;
  cert: Buffer;
}

const EXPIRY_WARNING_DAYS = 30;

/** Reads a certificate and key pair, refusing a pair whose key does not belong to the certificate. */
export async function readKeyPair(certFile: string, keyFile: string): Promise<KeyPair & { notAfter: Date }> {
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error(`${keyFile} is not the key of ${certFile}`);
  return { cert, key, notAfter: new Date(x509.validTo) };
}

export function certificateExpiry(cert: string | Buffer): Date {
  return new Date(new X509Certificate(cert).validTo);
}

/**
 * Serving certificate from files (a mounted Secret, cert-manager): reloaded into the live TLS server
 * on change, so open connections keep going and new handshakes get the new certificate.
 */
export class CertificateReloader {
  notAfter: Date;

  constructor(
    private readonly certFile: string,
    private readonly keyFile: string,
    private readonly apply: (pair: KeyPair) => void,
    private readonly logger: Logger,
    initial: Date,
  ) {
    this.notAfter = initial;
    this.warnIfExpiring();
  }

  private warnIfExpiring(): void {
    const days = (this.notAfter.getTime() - Date.now()) / 86_400_000;
    if (days < EXPIRY_WARNING_DAYS)
      this.logger.warn(
        { notAfter: this.notAfter.toISOString(), days: Math.floor(days) },
        'the serving certificate expires soon',
      );
  }

  async reload(): Promise<boolean> {
    try {
      const pair = await readKeyPair(this.certFile, this.keyFile);
      this.apply(pair);
      this.notAfter = pair.notAfter;
      this.logger.info({ notAfter: pair.notAfter.toISOString() }, 'serving certificate reloaded');
      this.warnIfExpiring();
      return true;
    } catch (error) {
      this.logger.error({ err: error }, 'serving certificate reload failed; the current one keeps serving');
      return false;
    }
  }

  watch(): () => void {
    const folders = [...new Set([dirname(this.certFile), dirname(this.keyFile)])];
    const stops = folders.map((folder) => watchFolder(folder, () => void this.reload(), this.logger));
    const twiceDaily = setInterval(() => this.warnIfExpiring(), 12 * 3_600_000).unref();
    return () => {
      stops.forEach((stop) => stop());
      clearInterval(twiceDaily);
    };
  }
}
