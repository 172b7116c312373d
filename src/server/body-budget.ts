import { Transform } from 'node:stream';
import type { FastifyError, FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';

// Request bodies count against one budget from their first byte until their answer: many large reviews at once wait
// their turn (503 with Retry-After; the API server retries) instead of growing the heap past the container's memory
// limit. A declared Content-Length is reserved up front, the rest as it arrives. Every hook of the budget is here;
// the plugin is registered inside the admission routes' scope, so only admission requests hold any of it.

interface Reservation {
  reserved: number;
  received: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    bodyReservation: Reservation | null;
  }
}

interface BodyBudgetOptions {
  /** Bytes of request bodies held at once. */
  limit: number;
  /** The largest body one request may have (fastify's bodyLimit). */
  bodyLimit: number;
}

const bodyBudget: FastifyPluginCallback<BodyBudgetOptions> = (app, options, done) => {
  let inFlight = 0;
  const overBudget = (reserved: number): boolean => inFlight > options.limit && inFlight > reserved;
  const busy = (): FastifyError =>
    Object.assign(new Error(`request bodies in flight exceed ${options.limit} bytes; retry`), {
      statusCode: 503,
      code: 'BODY_BUDGET',
    });
  const release = (reservation: Reservation | null): void => {
    if (!reservation) return;
    inFlight -= reservation.reserved;
    reservation.reserved = 0;
  };
  app.decorateRequest('bodyReservation', null);
  app.addHook('onRequest', (request, reply, next) => {
    const declared = Number(request.headers['content-length']);
    const reserved = Number.isFinite(declared) && declared > 0 ? Math.min(declared, options.bodyLimit) : 0;
    request.bodyReservation = { reserved, received: 0 };
    inFlight += reserved;
    if (overBudget(reserved)) {
      void reply.header('retry-after', '1').send(busy());
      return;
    }
    next();
  });
  app.addHook('preParsing', (request, reply, payload, next) => {
    const reservation = request.bodyReservation;
    // A declared Content-Length is reserved already, and fastify refuses a body that differs from it.
    if (!reservation || request.headers['content-length'] !== undefined) return next(null, payload);
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, pass) {
        reservation.received += chunk.length;
        if (reservation.received > reservation.reserved) {
          inFlight += reservation.received - reservation.reserved;
          reservation.reserved = reservation.received;
          if (overBudget(reservation.reserved)) {
            void reply.header('retry-after', '1');
            pass(busy());
            return;
          }
        }
        pass(null, chunk);
      },
    });
    payload.on('error', (error) => counted.destroy(error));
    next(null, payload.pipe(counted));
  });
  // Answered before its body was read (503, 413, 415): the rest is drained and dropped (unread-bodies.ts), so its
  // reservation goes now, not when the client has finished sending. Held until then, the refused bodies of a client
  // that retries at once kept the budget full and nothing was admitted again.
  app.addHook('onSend', (request, _reply, payload, next) => {
    if (!request.raw.readableEnded) release(request.bodyReservation);
    next(null, payload);
  });
  app.addHook('onResponse', (request, _reply, next) => {
    release(request.bodyReservation);
    next();
  });
  done();
};

export default fp(bodyBudget, { name: 'body-budget', fastify: '5.x' });
