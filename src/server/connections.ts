import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  constants as http2,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

// What the admission listener does per connection, below Fastify: deadlines for every request (HTTP/1.1
// headers and body, each HTTP/2 stream), a connection cap per client address, and the graceful drain of a
// rollout (GOAWAY on HTTP/2, `Connection: close` on HTTP/1.1). The API server sends all its webhook calls
// over one long-lived HTTP/2 connection, so closing it without GOAWAY would fail every write on it.

/** How long a retired HTTP/2 session stays after its GOAWAY, so the frame is sent before the socket closes. */
const GOAWAY_FLUSH_MS = 100;

interface ConnectionLimits {
  /** Headers and body of one HTTP/1.1 request, or one HTTP/2 stream, must arrive within this. */
  requestTimeoutMs: number;
  /** Connections one client address may hold; beyond, new ones are closed at accept. */
  maxConnectionsPerAddress: number;
  /** An HTTP/2 session without a stream for this long is closed with GOAWAY. */
  sessionIdleMs: number;
}

type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

interface Http1Connection {
  socket: TLSSocket | Socket;
  active: number;
  timer: NodeJS.Timeout | undefined;
}

export class ConnectionGuard {
  private readonly http1 = new Map<TLSSocket | Socket, Http1Connection>();
  /** Open HTTP/2 sessions, each with how to retire it in a drain. */
  private readonly sessions = new Map<ServerHttp2Session, () => void>();
  private readonly perAddress = new Map<string, number>();
  private draining = false;
  /** From SIGTERM on, HTTP/1.1 responses say Connection: close, so clients reconnect (elsewhere) in time. */
  private closingHttp1 = false;
  constructor(
    private readonly server: NetServer,
    private readonly limits: ConnectionLimits,
    /** Told of each connection or stream cut by a deadline, and each connection refused by the per-address cap. */
    private readonly onCut: (reason: 'deadline' | 'per-address') => void = () => undefined,
  ) {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol !== 'h2') this.trackHttp1(socket);
    });
    server.on('session', (session: ServerHttp2Session) => this.trackSession(session));
    server.on('stream', (stream: ServerHttp2Stream) => this.deadlineForStream(stream));
    // Before Fastify's listener, which may answer synchronously: headers are still unsent here.
    server.prependListener('request', (request: AnyRequest, response: AnyResponse) =>
      this.onRequest(request, response),
    );
  }

  /** A plain (non-TLS) server has no secureConnection: every connection is HTTP/1.1. */
  trackPlainHttp1(): void {
    this.server.on('connection', (socket: Socket) => this.trackHttp1(socket));
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const count = (this.perAddress.get(address) ?? 0) + 1;
    if (count > this.limits.maxConnectionsPerAddress || this.draining) {
      if (!this.draining) this.onCut('per-address');
      socket.destroy();
      return;
    }
    this.perAddress.set(address, count);
    socket.once('close', () => {
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
  }

  /** An HTTP/1.1 connection must send a whole request within the deadline: at first and after each response. */
  private trackHttp1(socket: TLSSocket | Socket): void {
    const connection: Http1Connection = { socket, active: 0, timer: undefined };
    this.http1.set(socket, connection);
    this.armHttp1(connection);
    socket.once('close', () => {
      clearTimeout(connection.timer);
      this.http1.delete(socket);
    });
  }

  private armHttp1(connection: Http1Connection): void {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(() => {
      this.onCut('deadline');
      connection.socket.destroy();
    }, this.limits.requestTimeoutMs).unref();
  }

  private deadlineForStream(stream: ServerHttp2Stream): void {
    const timer = setTimeout(() => {
      this.onCut('deadline');
      if (!stream.destroyed) stream.close(http2.NGHTTP2_CANCEL);
    }, this.limits.requestTimeoutMs).unref();
    // The incoming side is complete once its end is read; a response may take longer (the engine's time).
    stream.once('end', () => clearTimeout(timer));
    stream.once('close', () => clearTimeout(timer));
  }

  private onRequest(request: AnyRequest, response: AnyResponse): void {
    if ('stream' in request) return;
    const connection = this.http1.get(request.socket);
    if (!connection) return;
    connection.active += 1;
    // Headers are in; the body must follow within the same deadline, counted from now.
    this.armHttp1(connection);
    request.once('end', () => clearTimeout(connection.timer));
    if (this.closingHttp1 && !response.headersSent) response.setHeader('connection', 'close');
    response.once('close', () => {
      connection.active -= 1;
      if (this.draining && connection.active === 0) connection.socket.end();
      else if (connection.active === 0) this.armHttp1(connection);
    });
  }

  /**
   * An HTTP/2 session with no stream for the idle time gets GOAWAY: the API server reconnects when it next
   * needs one, and a client that trickles a HEADERS frame cannot hold a session open forever.
   */
  private trackSession(session: ServerHttp2Session): void {
    let active = 0;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => session.close(), this.limits.sessionIdleMs).unref();
    };
    // During a drain: GOAWAY, then the session goes once its last stream is answered. Node's close() alone may
    // leave a session open while the client keeps its end, which would hold the rollout to its timeout. The
    // pause lets the GOAWAY frame reach the client first.
    const retire = (): void => {
      session.close();
      if (active === 0) setTimeout(() => session.destroy(), GOAWAY_FLUSH_MS).unref();
    };
    this.sessions.set(session, retire);
    armIdle();
    session.on('stream', (stream: ServerHttp2Stream) => {
      active += 1;
      clearTimeout(idle);
      stream.once('close', () => {
        active -= 1;
        if (active > 0) return;
        if (this.draining) retire();
        else armIdle();
      });
    });
    session.once('close', () => {
      clearTimeout(idle);
      this.sessions.delete(session);
    });
    if (this.draining) retire();
  }

  get open(): number {
    return this.http1.size + this.sessions.size;
  }

  /** The start of a rollout: HTTP/1.1 keep-alive ends with each response; HTTP/2 carries on until drain(). */
  announceDrain(): void {
    this.closingHttp1 = true;
  }

  /**
   * Stops accepting connections and lets the open ones finish: every HTTP/2 session gets GOAWAY (streams
   * in flight complete; the client opens new ones elsewhere), idle HTTP/1.1 connections close, busy ones
   * answer with `Connection: close`. Nothing is answered 503. Resolves when every connection is closed.
   */
  drain(): Promise<void> {
    this.closingHttp1 = true;
    this.draining = true;
    this.server.close();
    for (const retire of this.sessions.values()) retire();
    for (const connection of this.http1.values()) if (connection.active === 0) connection.socket.end();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.open === 0) resolve();
        else setTimeout(check, 25).unref();
      };
      check();
    });
  }
}
