import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import { BUNDLED_POLICIES_DIR } from '../../src/policy/load.js';
import { loadPolicies } from '../../src/engine/policies.js';
import { buildServer } from '../../src/server/app.js';
import { WebhookMetrics } from '../../src/server/metrics.js';
import { WebhookState } from '../../src/server/state.js';
import { makeServingCertificate } from '../../src/server/tls.js';
import { cluster, pvc } from '../helpers.js';

// What the API server's HTTP/2 client reads, frame by frame: an admission answer must carry END_STREAM on the DATA
// frame that holds the body. Node's compatibility API (reply.send) ends the stream with a second, empty DATA frame
// one event-loop turn later, which the client waits for (src/server/stream-reply.ts).

const DATA = 0x0;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header.writeUInt8(type, 3);
  header.writeUInt8(flags, 4);
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

/** HPACK literal header fields without indexing and without Huffman coding (RFC 7541 6.2.2): enough to send a request. */
function literalHeaders(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const [index, text] of [name, value].entries()) {
      const bytes = Buffer.from(text);
      assert.ok(bytes.length < 127, 'short strings only');
      parts.push(index === 0 ? Buffer.from([0x00, bytes.length]) : Buffer.from([bytes.length]), bytes);
    }
  }
  return Buffer.concat(parts);
}

/** Sends one POST on stream 1 and collects the server's frames until that stream ends. */
function exchange(port: number, ca: string, path: string, body: string): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'] }, () => {
      const payload = Buffer.from(body);
      socket.write(
        Buffer.concat([
          Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
          frame(SETTINGS, 0, 0, Buffer.alloc(0)),
          frame(
            HEADERS,
            END_HEADERS,
            1,
            literalHeaders({
              ':method': 'POST',
              ':scheme': 'https',
              ':path': path,
              ':authority': '127.0.0.1',
              'content-type': 'application/json',
              'content-length': String(payload.length),
            }),
          ),
          frame(DATA, END_STREAM, 1, payload),
        ]),
      );
    });
    const frames: Frame[] = [];
    let buffered = Buffer.alloc(0);
    socket.setTimeout(5000, () => socket.destroy(new Error('no END_STREAM within 5 s')));
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const read: Frame = {
          type: buffered.readUInt8(3),
          flags: buffered.readUInt8(4),
          stream: buffered.readUInt32BE(5) & 0x7fffffff,
          payload: buffered.subarray(9, 9 + length),
        };
        buffered = buffered.subarray(9 + length);
        frames.push(read);
        if (read.stream === 1 && (read.flags & END_STREAM) !== 0) {
          socket.end();
          resolve(frames.filter((each) => each.stream === 1));
          return;
        }
      }
    });
  });
}

describe('admission answers over HTTP/2', () => {
  let app: ReturnType<typeof buildServer>;
  let port: number;
  let ca: string;
  const metrics = new WebhookMetrics({ processMetrics: false });
  before(async () => {
    const tls = await makeServingCertificate(['localhost', '127.0.0.1']);
    ca = tls.cert;
    const state = new WebhookState(cluster());
    state.swap(await loadPolicies(BUNDLED_POLICIES_DIR));
    app = buildServer({ state, logger: pino({ level: 'silent' }), tls, metrics });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
  });
  after(() => app.close());

  const review = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b1f2',
      kind: { group: '', version: 'v1', kind: 'PersistentVolumeClaim' },
      resource: { group: '', version: 'v1', resource: 'persistentvolumeclaims' },
      namespace: 'payments',
      name: 'data',
      operation: 'CREATE',
      userInfo: { username: 'dev' },
      object: pvc({ storageClassName: 'gp3' }),
      oldObject: null,
    },
  });

  it('end the stream on the DATA frame that carries the whole answer, and are counted and timed as before', async () => {
    for (const path of ['/mutate', '/validate']) {
      const frames = await exchange(port, ca, path, review);
      assert.deepEqual(
        frames.map((each) => [each.type, each.flags & END_STREAM]),
        [
          [HEADERS, 0],
          [DATA, END_STREAM],
        ],
        `${path}: HEADERS, then one DATA frame with END_STREAM`,
      );
      const answer = JSON.parse(frames[1]!.payload.toString('utf8'));
      assert.equal(answer.response.uid, 'b1f2');
      assert.equal(answer.kind, 'AdmissionReview');
    }
    // The telemetry's onResponse hook runs for a hijacked reply too: Node emits 'finish' when the stream closes.
    const text = await metrics.registry.metrics();
    for (const webhook of ['mutate', 'validate'])
      assert.match(
        text,
        new RegExp(
          `storage_policy_admission_duration_seconds_count\\{webhook="${webhook}",kind="PersistentVolumeClaim",operation="CREATE",decision="[a-z]+"\\} 1`,
        ),
      );
  });

  it('a refusal (400) still goes through reply.send, with its own status', async () => {
    const frames = await exchange(port, ca, '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1' }));
    assert.equal(frames[0]?.type, HEADERS);
    const body = Buffer.concat(frames.filter((each) => each.type === DATA).map((each) => each.payload)).toString();
    assert.match(body, /"statusCode":400/);
  });
});
