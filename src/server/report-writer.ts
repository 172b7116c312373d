import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from 'pino';
import { stringAt } from '../core/json.js';
import {
  inReportApi,
  MANAGED_BY_LABEL,
  REPORT_API_VERSION,
  REPORT_APIS,
  REPORT_SOURCE,
  reportDigest,
  type PolicyReport,
  type ReportApi,
} from '../audit/reports.js';
import { ApiError, callApi, listAll } from '../lookup/kube-api.js';
import type { WebhookMetrics } from './metrics.js';

/** Where a report's digest is kept, so a new leader knows which reports are already current. */
const DIGEST_ANNOTATION = 'storage-policy-webhook.io/digest';

function reportPath(api: ReportApi, name: string, namespace: string | undefined): string {
  const { namespaced, cluster } = REPORT_APIS[api];
  return namespace === undefined
    ? `/apis/${api}/${cluster.plural}/${encodeURIComponent(name)}`
    : `/apis/${api}/namespaces/${encodeURIComponent(namespace)}/${namespaced.plural}/${encodeURIComponent(name)}`;
}

const idOf = (name: string, namespace: string | undefined): string => `${namespace ?? ''}/${name}`;

interface WriterOptions {
  /** Writes (apply or delete) per second at most. */
  writesPerSecond?: number;
  /** Checked before each write: a replica that lost the lease stops writing at once. */
  mayWrite?: () => boolean;
  /** After a failed write the same reports are tried again after this, doubling up to 5 minutes. */
  initialRetryDelayMs?: number;
  /** The report API to write (default wgpolicyk8s.io/v1alpha2). */
  api?: ReportApi;
}

const MAX_RETRY_DELAY_MS = 300_000;

/**
 * Keeps the cluster's PolicyReports equal to the latest audit: a report is written (server-side apply) only
 * when its digest differs from what is stored, reports no longer produced are deleted, and writes are paced.
 * Calls coalesce: while one sync runs, a newer set of reports waits and only the newest is written.
 */
export class ReportWriter {
  /** id -> digest of what the cluster holds; undefined until read from the cluster. */
  private stored: Map<string, { digest: string; name: string; namespace: string | undefined }> | undefined;
  private next: PolicyReport[] | undefined;
  private running: Promise<void> | undefined;
  private retry: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private readonly initialRetryDelayMs: number;
  private readonly spacingMs: number;
  private readonly mayWrite: () => boolean;
  private readonly api: ReportApi;

  constructor(
    private readonly config: KubeConfig,
    private readonly metrics: WebhookMetrics,
    private readonly logger: Logger,
    options: WriterOptions = {},
  ) {
    this.spacingMs = 1000 / (options.writesPerSecond ?? 10);
    this.initialRetryDelayMs = options.initialRetryDelayMs ?? 2_000;
    this.retryDelayMs = this.initialRetryDelayMs;
    this.mayWrite = options.mayWrite ?? (() => true);
    this.api = options.api ?? REPORT_API_VERSION;
  }

  /** Forget what the cluster holds (leadership changed hands): the next sync reads it again. */
  reset(): void {
    this.stored = undefined;
  }

  /** Stops retrying and drops queued reports; resolves once a write already under way has ended. */
  async stop(): Promise<void> {
    clearTimeout(this.retry);
    this.next = undefined;
    await this.running;
  }

  sync(reports: PolicyReport[]): Promise<void> {
    clearTimeout(this.retry);
    this.next = reports;
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.next) {
      const reports = this.next;
      this.next = undefined;
      let complete: boolean;
      try {
        complete = await this.write(reports);
      } catch (error) {
        this.stored = undefined;
        complete = false;
        this.logger.error({ err: error, retryInMs: this.retryDelayMs }, 'writing PolicyReports failed; retrying');
      }
      if (complete) {
        this.retryDelayMs = this.initialRetryDelayMs;
      } else if (!this.next && this.mayWrite()) {
        // An API server that just registered the CRDs answers 429 for a while; a report must not wait for the next change.
        this.retry = setTimeout(() => void this.sync(reports), this.retryDelayMs);
        this.retry.unref();
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }

  private async readStored(): Promise<NonNullable<ReportWriter['stored']>> {
    const stored: NonNullable<ReportWriter['stored']> = new Map();
    const selector = `?labelSelector=${encodeURIComponent(`${MANAGED_BY_LABEL}=${REPORT_SOURCE}`)}`;
    for (const { plural } of [REPORT_APIS[this.api].namespaced, REPORT_APIS[this.api].cluster]) {
      await listAll(this.config, `/apis/${this.api}/${plural}${selector}`, (items) => {
        for (const item of items) {
          const name = stringAt(item, 'metadata', 'name') ?? '';
          const namespace = stringAt(item, 'metadata', 'namespace');
          stored.set(idOf(name, namespace), {
            digest: stringAt(item, 'metadata', 'annotations', DIGEST_ANNOTATION) ?? '',
            name,
            namespace,
          });
        }
      });
    }
    return stored;
  }

  private async pace(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.spacingMs));
  }

  /** Writes what differs; false when a write failed (or leadership was lost) and the cluster is not yet current. */
  private async write(reports: PolicyReport[]): Promise<boolean> {
    const stored = (this.stored ??= await this.readStored());
    const wanted = new Set<string>();
    let complete = true;
    for (const audited of reports) {
      const report = inReportApi(audited, this.api);
      const { name, namespace } = report.metadata;
      const id = idOf(name, namespace);
      wanted.add(id);
      const digest = reportDigest(report);
      if (stored.get(id)?.digest === digest) continue;
      if (!this.mayWrite()) return false;
      const body = { ...report, metadata: { ...report.metadata, annotations: { [DIGEST_ANNOTATION]: digest } } };
      try {
        await callApi(this.config, {
          method: 'PATCH',
          path: `${reportPath(this.api, name, namespace)}?fieldManager=${REPORT_SOURCE}&force=true`,
          body,
          contentType: 'application/apply-patch+yaml',
        });
        stored.set(id, { digest, name, namespace });
        this.metrics.reportWrites.inc({ operation: 'apply', result: 'success' });
      } catch (error) {
        this.metrics.reportWrites.inc({ operation: 'apply', result: 'failure' });
        complete = false;
        this.logger.warn({ err: error, report: id, api: this.api }, 'could not write a report');
      }
      await this.pace();
    }
    for (const [id, entry] of stored) {
      if (wanted.has(id)) continue;
      if (!this.mayWrite()) return false;
      try {
        await callApi(this.config, { method: 'DELETE', path: reportPath(this.api, entry.name, entry.namespace) });
        this.metrics.reportWrites.inc({ operation: 'delete', result: 'success' });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) {
          this.metrics.reportWrites.inc({ operation: 'delete', result: 'failure' });
          this.logger.warn({ err: error, report: id, api: this.api }, 'could not delete a report');
          complete = false;
          continue;
        }
      }
      stored.delete(id);
      await this.pace();
    }
    return complete;
  }
}
