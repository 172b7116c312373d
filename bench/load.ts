import { readFileSync } from 'node:fs';
import { connect, type ClientHttp2Session } from 'node:http2';

/** One request of the mix: where it goes and its body. */
export interface Request {
  path: string;
  body: string;
  /** The body's length in bytes. */
  length: number;
}

/** CPU seconds (user + system) a process has used, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A /proc/PID/status size field (VmRSS, VmHWM) in MB. */
export function statusMb(pid: number, field: string): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

async function sessions(port: number, ca: string, count: number): Promise<ClientHttp2Session[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ClientHttp2Session>((resolve, reject) => {
          const session = connect(`https://127.0.0.1:${port}`, { ca }, () => resolve(session));
          session.on('error', reject);
        }),
    ),
  );
}

function send(session: ClientHttp2Session, request: Request): Promise<number> {
  return new Promise((resolve) => {
    // With Content-Length, as the API server's webhook client sends it (Go's HTTP/2 transport declares a known body length).
    const stream = session.request({
      ':method': 'POST',
      ':path': request.path,
      'content-type': 'application/json',
      'content-length': request.length,
    });
    let status = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', () => undefined);
    stream.on('end', () => resolve(status));
    stream.on('error', () => resolve(0));
    // A stream the server never ends (it died, its session closed) still settles: an error, not a run that waits forever.
    stream.on('close', () => resolve(0));
    stream.end(request.body);
  });
}

export interface SaturationResult {
  requests: number;
  errors: number;
  seconds: number;
  /** CPU the server used per answered request, in microseconds. */
  serverCpuMicros: number;
  /** The server's CPU use over the run, in percent of one core (a valid run keeps it at 90 or more). */
  serverCpuPercent: number;
  /** This process's (the load generator's) CPU use over the run, in percent of one core. */
  clientCpuPercent: number;
}

/**
 * As many requests as the server takes, over HTTP/2 as the API server's webhook client speaks it (a few
 * sessions, many concurrent streams), for `seconds`; the server's CPU is read from /proc around the run.
 */
export async function saturate(
  port: number,
  ca: string,
  pid: number,
  mix: Request[],
  seconds: number,
  concurrency = 128,
  sessionCount = 4,
): Promise<SaturationResult> {
  const open = await sessions(port, ca, sessionCount);
  let requests = 0;
  let errors = 0;
  const serverBefore = cpuSeconds(pid);
  const clientBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  const worker = async (index: number): Promise<void> => {
    const session = open[index % open.length] as ClientHttp2Session;
    for (let step = index; Date.now() < deadline; step += 1) {
      const status = await send(session, mix[step % mix.length] as Request);
      if (status === 200) requests += 1;
      else errors += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const serverCpu = cpuSeconds(pid) - serverBefore;
  const client = process.cpuUsage(clientBefore);
  open.forEach((session) => session.close());
  return {
    requests,
    errors,
    seconds: elapsed,
    serverCpuMicros: (serverCpu * 1e6) / Math.max(1, requests),
    serverCpuPercent: (serverCpu / elapsed) * 100,
    clientCpuPercent: ((client.user + client.system) / 1e6 / elapsed) * 100,
  };
}

export interface FixedRateResult {
  requests: number;
  errors: number;
  p50Micros: number;
  p99Micros: number;
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

/** `rate` requests a second, each sent when due (not when the previous one returned), latency per request in microseconds. */
export async function fixedRate(
  port: number,
  ca: string,
  mix: Request[],
  seconds: number,
  rate: number,
): Promise<FixedRateResult> {
  const [session] = await sessions(port, ca, 1);
  if (!session) throw new Error('no HTTP/2 session');
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  let errors = 0;
  let sent = 0;
  const total = Math.round(seconds * rate);
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor((Number(process.hrtime.bigint() - started) / 1e9) * rate) + 1);
      for (; sent < due; sent += 1) {
        const begin = process.hrtime.bigint();
        pending.push(
          send(session, mix[sent % mix.length] as Request).then((status) => {
            if (status !== 200) errors += 1;
            latencies.push(Number(process.hrtime.bigint() - begin) / 1000);
          }),
        );
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  session.close();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    p50Micros: percentile(latencies, 0.5),
    p99Micros: percentile(latencies, 0.99),
  };
}
