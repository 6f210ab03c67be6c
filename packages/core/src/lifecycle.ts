/**
 * The server side of an app's life: start once (`listen()`, or `run()` with
 * signal handling), run the startup and shutdown handlers, and close
 * gracefully: streams first, then the server, then what outlives it.
 */
import type { ChannelBroker } from "./channels/broker.js";
import type { ChannelRegistry } from "./channels/registry.js";
import { CelloError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Responder } from "./respond.js";
import { Connections, createNodeServer, listenOn, resolveRunAddress, type ListenOptions, type NodeServer, type RequestListener, type ServerAddress } from "./server.js";
import type { SseEngine } from "./sse/engine.js";
import type { SseShutdownOptions } from "./sse/options.js";
import type { UnclosedStreamCheck } from "./sse/unclosed-check.js";
import { isClusterWorker, joinCluster, resolveWorkerCount, startCluster, type ClusterPrimary, type RunOptions } from "./workers/cluster.js";
import { superviseReload, wantsReload } from "./workers/reload.js";

/**
 * When `app.onEvent` handlers run: `"startup"` before the server accepts;
 * `"draining"` first thing in `close()`, while the server still accepts and every
 * stream is still open (a readiness check fails from here, and a handler may wait
 * so a load balancer notices before streams end); `"shutdown"` last, after streams
 * closed and the server stopped.
 */
export type LifecycleEvent = "startup" | "draining" | "shutdown";

/**
 * Where an app is in its life (`app.state`), in order: `"created"` (nothing run yet),
 * `"starting"` (startup handlers running), `"started"` (they finished), `"draining"`
 * (`close()` began: draining handlers run, the server still accepts), `"closing"`
 * (streams get their final frame, the server stops), `"closed"`.
 */
export type AppState = "created" | "starting" | "started" | "draining" | "closing" | "closed";

/** Which of run()/listen() started the app, and where it listens once it does. */
interface StartedBy {
  by: "run" | "listen";
  address?: ServerAddress;
}

/** What a {@link Lifecycle} starts and stops, given once by its app. */
export interface LifecycleContext {
  readonly logger: Logger;
  /** The request listener of every server. */
  readonly handler: RequestListener;
  /** The app's `ready()`: routes registered and compiled, startup handlers run. Awaited before the server accepts. */
  readonly ready: () => Promise<void>;
  /** Told before the server accepts whether it speaks HTTP/2. */
  readonly responder: Responder;
  /** Every open stream: ended first at close. */
  readonly engine: SseEngine;
  /** Stopped once the server has closed (undefined when the check is off). */
  readonly unclosedStreams: UnclosedStreamCheck | undefined;
  /** Stopped next. */
  readonly channels: ChannelRegistry;
  /** Closed last, before the shutdown handlers run. */
  readonly broker: ChannelBroker;
}

/** Starts and stops one app's server, once each. */
export class Lifecycle {
  readonly #logger: Logger;
  readonly #handler: RequestListener;
  readonly #ready: () => Promise<void>;
  readonly #responder: Responder;
  readonly #engine: SseEngine;
  readonly #unclosedStreams: UnclosedStreamCheck | undefined;
  readonly #channels: ChannelRegistry;
  readonly #broker: ChannelBroker;
  readonly #handlers: Record<LifecycleEvent, Array<() => unknown>> = { startup: [], draining: [], shutdown: [] };
  #state: AppState = "created";
  readonly #connections = new Connections();
  #server: NodeServer | undefined;
  #closing: Promise<void> | undefined;
  /** In a cluster's primary: the workers serve, this process only supervises them. */
  #cluster: ClusterPrimary | undefined;
  /** Set by the first run()/listen(): a second call says which came first. */
  #started: StartedBy | undefined;

  constructor(context: LifecycleContext) {
    this.#logger = context.logger;
    this.#handler = context.handler;
    this.#ready = context.ready;
    this.#responder = context.responder;
    this.#engine = context.engine;
    this.#unclosedStreams = context.unclosedStreams;
    this.#channels = context.channels;
    this.#broker = context.broker;
  }

  /** `app.onEvent()`: run `fn` at startup or shutdown. */
  on(event: LifecycleEvent, fn: () => unknown): void {
    if (!(event in this.#handlers)) throw new CelloError("CELLO_INVALID_OPTION", `unknown event ${JSON.stringify(event)}`);
    this.#handlers[event].push(fn);
  }

  /** Where the app is in its life. */
  get state(): AppState {
    return this.#state;
  }

  /** Run the startup handlers, in order (the app's `ready()` calls this once). */
  async startup(): Promise<void> {
    if (this.#state === "created") this.#state = "starting";
    for (const fn of this.#handlers.startup) await fn();
    if (this.#state === "starting") this.#state = "started";
  }

  /** `app.listen()`: start serving, once. */
  async listen(options: ListenOptions): Promise<ServerAddress> {
    return this.#listen("listen", options);
  }

  async #listen(by: "run" | "listen", options: ListenOptions): Promise<ServerAddress> {
    this.#assertNotStarted(by);
    const started: StartedBy = { by };
    this.#started = started;
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 8000;
    try {
      await this.#ready();
      this.#responder.http2 = options.http2 === true;
      const server = createNodeServer(options, this.#handler, this.#connections);
      this.#server = server;
      started.address = await listenOn(server, host, port, options.tls !== undefined);
      return started.address;
    } catch (err) {
      // Nothing listens: a later listen() (on another port) may try again.
      this.#server = undefined;
      this.#started = undefined;
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new CelloError("CELLO_PORT_IN_USE", `port ${port} on ${host} is taken by another process`, { cause: err });
      }
      throw err;
    }
  }

  /** One app listens once: a second run()/listen() says what is already running. */
  #assertNotStarted(by: "run" | "listen"): void {
    const started = this.#started;
    if (this.#closing) throw new CelloError("CELLO_ALREADY_LISTENING", `app.${by}() after app.close(): an app listens once; create a new App to serve again`);
    if (started === undefined) return;
    const where = started.address ? `it already serves ${started.address.url}` : "it is already starting";
    const twice = started.by === by ? `app.${by}() was called twice` : `app.${by}() was called after app.${started.by}()`;
    throw new CelloError("CELLO_ALREADY_LISTENING", `${twice}: ${where}. Call it once per app; for a second server, create another App.`);
  }

  /** The node server, once listening. */
  get server(): NodeServer | undefined {
    return this.#server;
  }

  /**
   * `app.run()`: listen where the command line or environment says, print the URL, close on SIGINT/SIGTERM.
   * With `--reload` this process watches (workers/reload.ts); with more than one worker it is
   * the cluster's primary (workers/cluster.ts); either way it never listens itself.
   */
  async run(options: RunOptions): Promise<ServerAddress> {
    // Before the signal handlers: a second run() must not install them twice.
    this.#assertNotStarted("run");
    const argv = process.argv.slice(2);
    const { host, port } = resolveRunAddress(argv, process.env, options);
    if (wantsReload(argv)) return superviseReload();
    const workers = isClusterWorker() ? 1 : resolveWorkerCount(argv, options);
    if (workers > 1) {
      this.#started = { by: "run" };
      const primary = await startCluster(workers, this.#logger);
      this.#cluster = primary;
      this.#started.address = primary.address;
      this.#logger.info(`Cello.ts running on ${primary.address.url} (${workers} workers)`);
      return primary.address;
    }
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.#closing) {
        process.exit(1); // a second signal: stop now
      }
      this.#logger.info(`${signal}: closing gracefully`);
      this.close().then(
        () => process.exit(0),
        (err) => {
          this.#logger.error("Shutdown failed", err);
          process.exit(1);
        },
      );
    };
    // Installed before the URL is printed: whoever reads the URL may signal at once.
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let address: ServerAddress;
    try {
      address = await this.#listen("run", { ...options, host, port });
    } catch (err) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (err instanceof CelloError && err.code === "CELLO_PORT_IN_USE") {
        // The person at the terminal needs one line and the flag that fixes it, not a stack trace.
        const other = port < 65535 ? port + 1 : 8000;
        this.#logger.error(`Port ${port} is already in use on ${host}: stop the other server, or start on another port with --port ${other} (or PORT=${other}).`);
        process.exit(1);
      }
      throw err;
    }
    if (isClusterWorker()) joinCluster(address, () => this.close(), this.#logger);
    else this.#logger.info(`Cello.ts running on ${address.url}`);
    return address;
  }

  /** `app.close()`: the first call closes, every call resolves when that is done. */
  close(options: SseShutdownOptions = {}): Promise<void> {
    this.#closing ??= this.#cluster ? this.#cluster.close() : this.#close(options);
    return this.#closing;
  }

  async #close(options: SseShutdownOptions): Promise<void> {
    this.#state = "draining";
    // Before anything stops: the server still accepts (a load balancer's probe sees the
    // readiness check fail) and every stream is still open. A failing handler is logged and does not stop the close.
    for (const fn of this.#handlers.draining) {
      try {
        await fn();
      } catch (err) {
        this.#logger.error("A draining handler failed", err);
      }
    }
    this.#state = "closing";
    const server = this.#server;
    const graceMs = options.graceMs ?? 5000;
    const started = Date.now();
    const serverClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    if (server) this.#connections.closeIdle(server);
    await this.#engine.shutdown({ ...options, graceMs });
    if (server) {
      const remaining = Math.max(0, graceMs - (Date.now() - started));
      // Any keep-alive connection that goes idle while we close (an ended stream, or a page's
      // other connection finishing a request) would otherwise be reused by a reconnecting
      // client and served by this closing server: close each as it goes idle.
      const sweep = setInterval(() => this.#connections.closeIdle(server), 20);
      this.#connections.closeIdle(server);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        serverClosed.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(resolve, remaining, true))),
      ]);
      clearTimeout(timer);
      clearInterval(sweep);
      if (timedOut) {
        this.#connections.closeAll(server);
        await serverClosed;
      }
    }
    this.#unclosedStreams?.stop();
    this.#channels.stopAll();
    await this.#broker.close();
    for (const fn of this.#handlers.shutdown) {
      try {
        await fn();
      } catch (err) {
        this.#logger.error("A shutdown handler failed", err);
      }
    }
    this.#state = "closed";
  }
}
