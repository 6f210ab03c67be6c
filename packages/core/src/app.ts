/**
 * App: Cello's `App()` for TypeScript. Registers routes (calls, decorators,
 * controllers, blueprints) and owns the server's lifecycle; requests run
 * through pipeline.ts, responses are written by respond.ts.
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { Blueprint } from "./blueprint.js";
import { CelloError } from "./errors.js";
import { checkController, exploreDecorated, exploreRoutes, instantiate, noRoutesWarning, unregisteredControllerWarnings } from "./explorer.js";
import { HookRegistry, type HookName, type Hooks } from "./hooks.js";
import { consoleLogger, type Logger } from "./logger.js";
import { cors, type CorsOptions } from "./plugins/cors.js";
import { logging, type LoggingOptions } from "./plugins/logging.js";
import { Pipeline } from "./pipeline.js";
import type { RawRequest, Request } from "./request.js";
import { Connections, createNodeServer, listenOn, resolveRunAddress, type ListenOptions, type NodeServer, type ServerAddress } from "./server.js";
import type { Response } from "./response.js";
import { Responder, withSseOptions } from "./respond.js";
import { createRouter, joinPaths, type HttpMethod, type Router } from "./router.js";
import { RouteCollector, type RouteContext, type RouteDefinition, type RouteOptions } from "./routes.js";
import { SSE_DEFAULTS, SseEngine, type ResolvedSseOptions, type SseOptions, type SseShutdownOptions } from "./sse/engine.js";
import { UnclosedStreamCheck } from "./sse/unclosed-check.js";
import { memoryBroker, type ChannelBroker } from "./channels/broker.js";
import type { Channel, ChannelOptions } from "./channels/channel.js";
import { ChannelRegistry } from "./channels/registry.js";
import type { SubscribeOptions } from "./channels/subscription.js";

/** Options of `new App(options)`. */
export interface AppOptions {
  /** Largest request body in bytes; larger bodies get 413. Default 1 MiB. */
  bodyLimit?: number;
  /** Streaming defaults for every SSE route (heartbeat, retry, buffer limit, overflow policy, write timeout). */
  sse?: SseOptions;
  /** Where framework diagnostics go (errors with stacks, the startup line). Default: console. */
  logger?: Logger;
  /** The broker behind `app.channel()`: in-memory by default; `redisBroker()` from @cellojs/redis spans instances. */
  broker?: ChannelBroker;
  /**
   * Development hint: warn (once per route, through `logger.warn`) when an
   * SseStream returned by a handler has had no new event for this many ms and
   * has no `onClose()` callback: most likely a finite stream ported from Cello
   * without `stream.close()`. Default 10000; 0 turns it off. Always off when
   * `NODE_ENV=production`.
   */
  unclosedStreamWarningMs?: number;
  /**
   * Most channels the app holds at once (`Infinity` for no limit). Default 10000.
   * Past it, `app.channel()` of a new name throws a CelloError `CELLO_TOO_MANY_CHANNELS`,
   * and a request whose `app.subscribe()` would make one is answered 503. Channels
   * `app.subscribe()` made for a request are dropped when their last subscriber
   * leaves; those from `app.channel()` stay until `channel.delete()`.
   * @example new App({ maxChannels: 50_000 })
   */
  maxChannels?: number;
}

/** Options of {@link App.close}. */
export type CloseOptions = SseShutdownOptions;
export type { ListenOptions, ServerAddress };

/** A plugin: a function that configures an app through its public API. */
export type Plugin = (app: App) => void;

type LifecycleEvent = "startup" | "shutdown";
/** Which of run()/listen() started the app, and where it listens once it does. */
interface StartedBy {
  by: "run" | "listen";
  address?: ServerAddress;
}
type RawResponse = ServerResponse | Http2ServerResponse;

/**
 * A Cello.ts application.
 *
 * @example
 * import { App, SseStream } from "@cellojs/core";
 * const app = new App();
 * app.get("/", () => ({ hello: "world" }));
 * app.get("/sse/counter", () => {
 *   const stream = new SseStream();
 *   for (let i = 1; i <= 5; i++) stream.addEvent("count", JSON.stringify({ value: i }));
 *   stream.close();
 *   return stream;
 * });
 * app.enableCors();
 * await app.run(); // http://127.0.0.1:8000, honours --host/--port and HOST/PORT
 */
export class App extends RouteCollector {
  /** Framework diagnostics. */
  readonly logger: Logger;
  /** The hook registry plugins add to with {@link App.addHook}. */
  readonly hooks = new HookRegistry();
  /** @internal The SSE engine owning every open stream. */
  readonly engine = new SseEngine();

  readonly #router: Router<RouteContext> = createRouter();
  readonly #bodyLimit: number;
  readonly #sseDefaults: ResolvedSseOptions;
  readonly #instances = new Map<Function, object>();
  readonly #lifecycle: Record<LifecycleEvent, Array<() => unknown>> = { startup: [], shutdown: [] };
  #ready = false;
  #server: NodeServer | undefined;
  #closing: Promise<void> | undefined;
  readonly #connections = new Connections();
  readonly #registered: Array<{ method: HttpMethod; path: string }> = [];
  readonly #channels: ChannelRegistry;
  readonly #unclosedStreams: UnclosedStreamCheck | undefined;
  readonly #responder: Responder;

  /**
   * The node request listener: `http.createServer(app.handler)` works too.
   * Errors never escape it.
   */
  readonly handler: (raw: RawRequest, res: RawResponse) => void;
  /** Set by the first run()/listen(): a second call says which came first. */
  #started: StartedBy | undefined;
  /** The broker behind this app's channels. */
  readonly broker: ChannelBroker;

  constructor(options: AppOptions = {}) {
    super();
    this.logger = options.logger ?? consoleLogger;
    this.#bodyLimit = options.bodyLimit ?? 1024 * 1024;
    this.#sseDefaults = withSseOptions(SSE_DEFAULTS, options.sse);
    this.broker = options.broker ?? memoryBroker();
    const unclosedMs = options.unclosedStreamWarningMs ?? 10_000;
    if (unclosedMs > 0 && process.env.NODE_ENV !== "production") this.#unclosedStreams = new UnclosedStreamCheck(unclosedMs, this.logger);
    this.#channels = new ChannelRegistry(this.broker, this.logger, options.maxChannels);
    this.#responder = new Responder({ hooks: this.hooks, engine: this.engine, logger: this.logger, sseDefaults: this.#sseDefaults, unclosedStreams: this.#unclosedStreams });
    this.handler = new Pipeline({ router: this.#router, hooks: this.hooks, responder: this.#responder, logger: this.logger, bodyLimit: this.#bodyLimit }).handler;
  }

  /**
   * Get or create a broadcast channel. Events are numbered and kept (`history`)
   * for replay; with a Redis broker the channel spans every instance. The app
   * keeps it until `channel.delete()`; a new name past `maxChannels` throws a
   * CelloError `CELLO_TOO_MANY_CHANNELS`.
   * @param name - The channel's name.
   * @param options - `history` (1000) and `ttlMs` (0); those of the first call stay.
   * @example
   * const stocks = app.channel("stocks", { history: 1000 });
   * app.get("/stocks", (req) => stocks.subscribe(req));
   * await stocks.publish({ symbol: "ACME", price: 12.5 }, { event: "tick" });
   */
  channel(name: string, options?: ChannelOptions): Channel {
    return this.#channels.declare(name, options);
  }

  /**
   * Subscribe to several channels at once, by name or by a trailing-`*`
   * pattern (`"feed:*"` matches every channel the app holds whose name starts with `feed:`).
   * The SSE id then carries each channel's position, so a reconnect resumes all of them.
   * A name the app does not hold yet makes a channel that lives while it has
   * subscribers, so names taken from requests do not pile up; past `maxChannels`
   * the request is answered 503 (`CELLO_TOO_MANY_CHANNELS`).
   * @example
   * app.get("/feed", (req) => app.subscribe(req, ["news", "alerts"]));
   * app.get("/rooms/{room}", (req) => app.subscribe(req, `room:${req.params.room}`));
   */
  subscribe(request: Request, channels: string | string[], options: SubscribeOptions & { sse?: SseOptions } = {}): Response {
    return this.#channels.subscribe(request, Array.isArray(channels) ? channels : [channels], options);
  }

  protected addRoute(definition: RouteDefinition): void {
    for (const method of definition.methods) this.#registered.push({ method, path: definition.path });
    const sse = withSseOptions(this.#sseDefaults, definition.options.sse);
    for (const method of definition.methods) {
      this.#router.add(method, definition.path, {
        handler: definition.handler,
        bodyLimit: definition.options.bodyLimit ?? this.#bodyLimit,
        sse,
        where: `${method} ${definition.path}`,
      });
    }
  }

  /**
   * Register a controller class whose methods carry `@get`/`@post`/... (and
   * optionally `@controller(prefix)`). The class is instantiated once.
   * A class with no such method is registered with a warning naming it (its routes would silently 404).
   * @param options.prefix - A prefix in front of the controller's own. Default: none.
   * @example app.register(Users, { prefix: "/v1" });
   */
  register(controllerClass: Function, options: { prefix?: string } = {}): this {
    if (!checkController(controllerClass, this, "app.register")) this.logger.warn(noRoutesWarning("app.register", controllerClass));
    for (const definition of exploreRoutes(controllerClass, this.#instance(controllerClass))) {
      this.addRoute(options.prefix ? { ...definition, path: joinPaths(options.prefix, definition.path) } : definition);
    }
    return this;
  }

  /** Register every route of a blueprint (and of its nested blueprints) under its prefix. */
  registerBlueprint(blueprint: Blueprint): this {
    const warn = (message: string) => this.logger.warn(message);
    for (const definition of blueprint.collectRoutes((ctor) => this.#instance(ctor), warn)) this.addRoute(definition);
    return this;
  }

  /**
   * Add a hook (see {@link Hooks}). Plugins use this, never private state.
   * @example app.addHook("onResponse", (req, res) => { res.setHeader("X-Powered-By", "cello"); });
   */
  addHook<K extends HookName>(name: K, fn: Hooks[K]): this {
    this.hooks.add(name, fn);
    return this;
  }

  /** Apply a plugin. */
  use(plugin: Plugin): this {
    plugin(this);
    return this;
  }

  /** Cello's `app.enable_cors()`: CORS headers on every response and preflight answers. See {@link CorsOptions}. */
  enableCors(options?: CorsOptions): this {
    return this.use(cors(options));
  }

  /** Cello's `app.enable_logging()`: one line per request, and per stream open and close. See {@link LoggingOptions}. */
  enableLogging(options?: LoggingOptions): this {
    return this.use(logging(options));
  }

  /** Run `fn` at startup (before the server accepts) or shutdown (after streams closed). */
  onEvent(event: LifecycleEvent, fn: () => unknown): this {
    if (!(event in this.#lifecycle)) throw new CelloError("CELLO_INVALID_OPTION", `unknown event ${JSON.stringify(event)}`);
    this.#lifecycle[event].push(fn);
    return this;
  }

  /**
   * Instantiate classes decorated with `@app.get(...)`, compile the router and
   * run startup handlers. `listen()` calls it; call it yourself to surface
   * registration errors early.
   */
  async ready(): Promise<void> {
    if (this.#ready) return;
    this.#ready = true;
    for (const definition of exploreDecorated(this, this.decoratedSites, (ctor) => this.#instance(ctor))) this.addRoute(definition);
    for (const warning of unregisteredControllerWarnings()) this.logger.warn(warning);
    this.#router.compile();
    for (const fn of this.#lifecycle.startup) await fn();
  }

  /** Every registered route as `{ method, path }`, in registration order (after `ready()` for `@app.get` classes). */
  routes(): Array<{ method: HttpMethod; path: string }> {
    return this.#registered.map((r) => ({ ...r }));
  }

  #instance(ctor: Function): object {
    let instance = this.#instances.get(ctor);
    if (!instance) {
      instance = instantiate(ctor);
      this.#instances.set(ctor, instance);
    }
    return instance;
  }

  /**
   * Start listening and resolve with the bound address (`port: 0` picks a free port).
   * @example const { url } = await app.listen({ port: 0 });
   */
  async listen(options: ListenOptions = {}): Promise<ServerAddress> {
    return this.#listen("listen", options);
  }

  async #listen(by: "run" | "listen", options: ListenOptions): Promise<ServerAddress> {
    this.#assertNotStarted(by);
    const started: StartedBy = { by };
    this.#started = started;
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 8000;
    try {
      await this.ready();
      this.#responder.http2 = options.http2 === true;
      const server = createNodeServer(options, this.handler, this.#connections);
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

  /** The underlying node server, once listening. */
  get server(): NodeServer | undefined {
    return this.#server;
  }

  /**
   * Cello's `app.run()`: listen on `--host`/`--port` flags, else `HOST`/`PORT`,
   * else `options`, else 127.0.0.1:8000; print the URL; close gracefully on SIGINT/SIGTERM.
   */
  async run(options: ListenOptions = {}): Promise<ServerAddress> {
    // Before the signal handlers: a second run() must not install them twice.
    this.#assertNotStarted("run");
    const { host, port } = resolveRunAddress(process.argv.slice(2), process.env, options);
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.#closing) {
        process.exit(1); // a second signal: stop now
      }
      this.logger.info(`${signal}: closing gracefully`);
      this.close().then(
        () => process.exit(0),
        (err) => {
          this.logger.error("Shutdown failed", err);
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
        this.logger.error(`Port ${port} is already in use on ${host}: stop the other server, or start on another port with --port ${other} (or PORT=${other}).`);
        process.exit(1);
      }
      throw err;
    }
    this.logger.info(`Cello.ts running on ${address.url}`);
    return address;
  }

  /**
   * Close gracefully: stop accepting, send each open stream a final frame
   * (with `retry`), end it, wait up to `graceMs` for producers to finish, then
   * run shutdown handlers.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async #close(options: CloseOptions): Promise<void> {
    const server = this.#server;
    const graceMs = options.graceMs ?? 5000;
    const started = Date.now();
    const serverClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    if (server) this.#connections.closeIdle(server);
    await this.engine.shutdown({ ...options, graceMs });
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
    await this.broker.close();
    for (const fn of this.#lifecycle.shutdown) {
      try {
        await fn();
      } catch (err) {
        this.logger.error("A shutdown handler failed", err);
      }
    }
  }
}

export type { RouteOptions };
