/**
 * The node servers an app listens with (HTTP/1.1, h2c, or HTTP/2 over TLS with
 * HTTP/1.1 fallback) and where `app.run()` reads its address from.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import {
  createSecureServer,
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { CelloError } from "./errors.js";

/** Options of `app.listen()`. */
export interface ListenOptions {
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port; 0 picks a free one. Default 8000. */
  port?: number;
  /** Serve HTTP/2 (h2c without `tls`; with `tls`, HTTP/2 plus HTTP/1.1 fallback). */
  http2?: boolean;
  /** Certificate and key (PEM) for HTTPS / HTTP/2 over TLS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Most time, in ms, a client may take to send a request's head (request line and
   * headers), counted from its first byte or from when the connection opened; past it the
   * client gets `408` and the connection is closed. Bounds slowloris clients.
   * Default 60000 (Node's). 0 turns it off.
   */
  headersTimeoutMs?: number;
  /**
   * Most time, in ms, a client may take to send a whole request, head and body; past it
   * the client gets `408` (or, if the response has started, a closed connection). It ends
   * once the request is received, so an SSE stream stays open for as long as it streams.
   * Default 300000 (Node's). 0 turns it off. Must be at least `headersTimeoutMs`.
   */
  requestTimeoutMs?: number;
  /** How long, in ms, an idle keep-alive connection waits for its next request. Default 5000 (Node's). */
  keepAliveTimeoutMs?: number;
}

/** The timeouts a server applies, resolved from {@link ListenOptions}. */
interface ServerTimeouts {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
}

/** Resolve and check the timeouts of `options`; a bad one is a `CELLO_INVALID_OPTION` at listen time. */
function resolveTimeouts(options: ListenOptions): ServerTimeouts {
  const headersTimeout = options.headersTimeoutMs ?? 60_000;
  const requestTimeout = options.requestTimeoutMs ?? 300_000;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000;
  for (const [name, value] of Object.entries({ headersTimeoutMs: headersTimeout, requestTimeoutMs: requestTimeout, keepAliveTimeoutMs: keepAliveTimeout })) {
    if (!Number.isInteger(value) || value < 0) throw new CelloError("CELLO_INVALID_OPTION", `${name} must be an integer number of ms >= 0, got ${value}`);
  }
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    throw new CelloError("CELLO_INVALID_OPTION", `headersTimeoutMs (${headersTimeout}) must not exceed requestTimeoutMs (${requestTimeout})`);
  }
  // Node checks for expired requests every `connectionsCheckingInterval` (30 s by default), so a
  // timeout fires up to that much late: check twice per shortest timeout, at most every 50 ms.
  const shortest = Math.min(headersTimeout || Infinity, requestTimeout || Infinity);
  const connectionsCheckingInterval = Math.min(30_000, Math.max(50, Math.floor(shortest / 2)));
  return { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval };
}

/** Where the app is listening. */
export interface ServerAddress {
  host: string;
  port: number;
  /** e.g. `http://127.0.0.1:8000` */
  url: string;
}

/** Any server an app can listen with. */
export type NodeServer = HttpServer | Http2Server | Http2SecureServer;

/** A node:http or node:http2 (compatibility API) request listener, such as `app.handler`. */
export type RequestListener = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

/**
 * The connections of one server, so that closing it does not wait on any that
 * will never finish by themselves: HTTP/2 sessions, and sockets that connected
 * but never sent a request (a browser's or a pool's pre-opened spare connection).
 * Node's `closeIdleConnections()` spares the latter: until its first request a
 * connection counts as awaiting headers, not as idle.
 *
 * A socket is tracked only until its first HTTP/1 request, so an open stream or
 * a keep-alive connection costs nothing here.
 */
export class Connections {
  readonly #sessions = new Set<Http2Session>();
  /** Sockets that have not sent an HTTP/1 request (HTTP/2 ones stay until pruned). */
  readonly #fresh = new Set<Socket>();
  // No listener on each socket (an extra "close" listener grows the socket's listener
  // array for good, ~150 B per connection): sockets that closed are pruned in sweeps
  // instead, whenever the set has doubled since the last one.
  #sweepAt = 64;

  /** Start tracking `server`'s connections. */
  track(server: NodeServer): void {
    server.on("connection", (socket: Socket) => {
      const fresh = this.#fresh;
      fresh.add(socket);
      if (fresh.size > this.#sweepAt) {
        for (const tracked of fresh) if (tracked.destroyed) fresh.delete(tracked);
        this.#sweepAt = Math.max(64, fresh.size * 2);
      }
    });
    server.on("session", (session: Http2Session) => {
      this.#sessions.add(session);
      session.once("close", () => this.#sessions.delete(session));
    });
  }

  /** A request arrived on `socket`: it is no longer a spare connection. */
  sawRequest(socket: Socket): void {
    this.#fresh.delete(socket);
  }

  /** Close every connection with nothing in flight: idle keep-alive ones, and unused ones. */
  closeIdle(server: NodeServer): void {
    if ("closeIdleConnections" in server) server.closeIdleConnections();
    for (const socket of this.#fresh) if (socket.bytesRead === 0) socket.destroy();
  }

  /** Cut every connection, busy or not (the grace period is over). */
  closeAll(server: NodeServer): void {
    if ("closeAllConnections" in server) server.closeAllConnections();
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#fresh) socket.destroy();
  }
}

/**
 * The socket `res` goes out on, or undefined when it has none. An HTTP/1.1
 * response queued behind a pipelined one has no socket of its own yet
 * (node:http hands it the connection's socket, emitting "socket" on it, once
 * the response ahead has finished): its request's socket is the connection.
 * A queued response emits nothing when that socket closes; its request does.
 */
export function connectionSocket(res: ServerResponse | Http2ServerResponse): Socket | undefined {
  return res.socket ?? (res as ServerResponse).req?.socket ?? undefined;
}

/** Build the server for `options`, its connections tracked in `connections` so close() can end them. */
export function createNodeServer(options: ListenOptions, listener: RequestListener, connections: Connections): NodeServer {
  // Node's requestTimeout counts until the request has been received, not until the response
  // ends (measured on Node 20: a GET whose SSE response streams on is never cut), so it bounds
  // slow uploads and slowloris heads without touching streams.
  const timeouts = resolveTimeouts(options);
  let server: NodeServer;
  if (options.http2) {
    if (options.tls) {
      server = createSecureServer({ ...options.tls, allowHTTP1: true }, listener);
      // The HTTP/1.1 fallback reads these from the server when it starts listening.
      Object.assign(server, timeouts);
    } else {
      server = createH2cServer({}, listener);
    }
  } else {
    // One listener that marks the socket as used, rather than a second "request" listener
    // (an emit with two listeners copies the listener array on every request).
    server = createHttpServer(timeouts, (req, res) => {
      connections.sawRequest(req.socket);
      listener(req, res);
    });
  }
  connections.track(server);
  return server;
}

/** Listen and resolve with the bound address. */
export async function listenOn(server: NodeServer, host: string, port: number, tls: boolean): Promise<ServerAddress> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return { host: address.address, port: address.port, url: `${tls ? "https" : "http"}://${shownHost}:${address.port}` };
}

/** Read `--host X`, `--host=X`, `--port N`, `--port=N` from argv. */
export function parseFlags(argv: string[]): { host?: string; port?: string } {
  const flags: { host?: string; port?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    for (const name of ["host", "port"] as const) {
      if (arg === `--${name}` && i + 1 < argv.length) flags[name] = argv[++i];
      else if (arg.startsWith(`--${name}=`)) flags[name] = arg.slice(name.length + 3);
    }
  }
  return flags;
}

/**
 * Where `app.run()` listens: `--host`/`--port` flags, else `HOST`/`PORT`, else
 * `options`, else 127.0.0.1:8000. An empty value counts as unset (an empty host
 * would bind every interface).
 */
export function resolveRunAddress(argv: string[], env: NodeJS.ProcessEnv, options: ListenOptions): { host: string; port: number } {
  const flags = parseFlags(argv);
  const host = flags.host || env.HOST || options.host || "127.0.0.1";
  const portText = flags.port || env.PORT || undefined;
  const port = portText !== undefined ? Number(portText) : (options.port ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CelloError("CELLO_INVALID_OPTION", `invalid port ${JSON.stringify(portText)}`);
  return { host, port };
}
