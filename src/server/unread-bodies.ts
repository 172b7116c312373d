import type { FastifyPluginCallback } from 'fastify';
import fp from 'fastify-plugin';

// An answer sent before its request body was read (503 from the body budget or the overload guard, 413 part-way, 415,
// a 404): the rest of the body is read and dropped. Left unread on HTTP/2, Node resets that stream and others on the
// connection (ENHANCE_YOUR_CALM) and stalls the rest; the API server sends every call over one connection, so one
// refused review failed its neighbours too (measured: 8 clients looping 2.1 MB reviews against a 4 MiB budget).
// Registered at the root: it holds for every route of the listener.

const unreadBodies: FastifyPluginCallback = (app, _options, done) => {
  app.addHook('onSend', (request, _reply, payload, next) => {
    if (!request.raw.readableEnded) request.raw.resume();
    next(null, payload);
  });
  done();
};

export default fp(unreadBodies, { name: 'unread-bodies', fastify: '5.x' });
