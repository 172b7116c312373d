import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

// The heap guard (admission answers 503 beyond it) must fire before the container's memory limit kills the
// process, and before V8's own heap limit (--max-old-space-size) aborts it: it is derived from both.

const CGROUP_LIMIT_FILES = ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes'];

/** Share of the memory limit the heap may use: the rest is Node's own, buffers, TLS and code. */
const HEAP_SHARE_OF_LIMIT = 0.6;
/** Share of V8's heap limit: above it, V8 spends its time collecting and then aborts. */
const HEAP_SHARE_OF_V8_LIMIT = 0.85;

/** The container's memory limit in bytes (cgroup v2, then v1), or undefined when unlimited. */
export function cgroupMemoryLimit(files: readonly string[] = CGROUP_LIMIT_FILES): number | undefined {
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      continue;
    }
    const bytes = Number(text);
    // "max" (v2) or a huge sentinel (v1: 2^63 rounded to pages) mean no limit.
    if (!Number.isFinite(bytes) || bytes <= 0 || bytes >= 2 ** 60) return undefined;
    return bytes;
  }
  return undefined;
}

export function heapGuardBytes(
  fallback: number,
  limit = cgroupMemoryLimit(),
  v8Limit = getHeapStatistics().heap_size_limit,
): number {
  const byContainer = limit === undefined ? fallback : limit * HEAP_SHARE_OF_LIMIT;
  return Math.floor(Math.min(byContainer, v8Limit * HEAP_SHARE_OF_V8_LIMIT));
}
