import type { ServerHttp2Stream } from 'node:http2';
import type { FastifyReply, FastifyRequest } from 'fastify';

// An admission answer over HTTP/2 goes out through the stream API, not reply.send(). Node's HTTP/2 compatibility
// layer, which reply.send() writes through (res.writeHead() then res.end(body)), sends a response as two TLS records:
// HEADERS and DATA, then, an event-loop turn later, an empty DATA frame with END_STREAM, which the API server's client
// waits for before it has the answer; under load other work runs between the two. stream.respond() + stream.end(body)
// send headers, body and END_STREAM in one record and one write (README, "Performance", has the measurements).
//
// Fastify's onResponse hooks (telemetry, the body budget) still run: Fastify listens for the compatibility response's
// 'finish', which Node emits when the stream closes, however it was written. onSend hooks do not run for a hijacked
// reply; the ones this listener has only act on a request whose body is still unread, and an answer is sent only
// after the body was read and judged.

function openStreamOf(request: FastifyRequest): ServerHttp2Stream | undefined {
  const raw: unknown = request.raw;
  const stream = (raw as { stream?: ServerHttp2Stream }).stream;
  // HTTP/1.1 requests (allowHTTP1) have none; a stream the client reset or already answered takes the usual path.
  if (stream === undefined || stream.destroyed || stream.headersSent) return undefined;
  return stream;
}

/** Answers 200 with `body`, serialized by the route's response schema, in one write on HTTP/2. */
export function sendJson(request: FastifyRequest, reply: FastifyReply, body: unknown): void {
  const stream = openStreamOf(request);
  if (!stream) {
    void reply.send(body);
    return;
  }
  const payload = reply.code(200).serialize(body);
  reply.hijack();
  stream.respond({
    ':status': 200,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  stream.end(payload);
}
