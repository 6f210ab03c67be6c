/**
 * App: Cello's `App()` for TypeScript. Registers routes (calls, decorators,
 * controllers, blueprints), runs requests through hooks and handlers, hands
 * every result to respond.ts, and owns the server's lifecycle.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Blueprint } from "./blueprint.js";
import { declaredControllers, readControllerPrefix, readRouteMetadata } from "./decorators.js";
import { CelloError, HttpError, assertHeadersSafe } from "./errors.js";
import { checkController, exploreDecorated, exploreRoutes, instantiate, noRoutesWarning } from "./explorer.js";
import { HookRegistry, type HookName, type Hooks } from "./hooks.js";
import { consoleLogger, type Logger } from "./logger.js";
import { cors, type CorsOptions } from "./plugins/cors.js";
import { logging, type LoggingOptions } from "./plugins/logging.js";
import { Request } from "./request.js";
import { Connections, createNodeServer, listenOn, resolveRunAddress, type ListenOptions, type NodeServer, type ServerAddress } from "./server.js";
import { Response } from "./response.js";
import { errorToResponse, sseHeaders, stripConnectionHeaders, toResponse, writeBytes } from "./respond.js";
import { createRouter, joinPaths, type HttpMethod, type Router } from "./router.js";
import { RouteCollector, type RouteDefinition, type RouteOptions } from "./routes.js";
import { SSE_DEFAULTS, SseEngine, type SseOptions, type SseShutdownOptions } from "./sse/engine.js";
import { isAttachable, kDetach } from "./sse/source.js";
import { SseStream } from "./sse/stream.js";
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

// Classes an app instantiated (registered directly, through a blueprint, or with `@app.get`),
// across every app of the process: a @controller class missing here at startup was never registered.
const instantiatedClasses = new WeakSet<Function>();
// A class is reported once per process, not once per app.
const reportedControllers = new WeakSet<Function>();

interface RouteContext {
  handler: RouteDefinition["handler"];
  bodyLimit: number;
  sse: typeof SSE_DEFAULTS;
  where: string;
}

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
  readonly #sseDefaults: typeof SSE_DEFAULTS;
  readonly #instances = new Map<Function, object>();
  readonly #lifecycle: Record<LifecycleEvent, Array<() => unknown>> = { startup: [], shutdown: [] };
  #ready = false;
  #server: NodeServer | undefined;
  #http2 = false;
  #closing: Promise<void> | undefined;
  readonly #connections = new Connections();
  readonly #registered: Array<{ method: HttpMethod; path: string }> = [];
  readonly #channels: ChannelRegistry;
  readonly #unclosedStreams: UnclosedStreamCheck | undefined;
  /** Set by the first run()/listen(): a second call says which came first. */
  #started: StartedBy | undefined;
  /** The broker behind this app's channels. */
  readonly broker: ChannelBroker;

  constructor(options: AppOptions = {}) {
    super();
    this.logger = options.logger ?? consoleLogger;
    this.#bodyLimit = options.bodyLimit ?? 1024 * 1024;
    this.#sseDefaults = { ...SSE_DEFAULTS, ...definedOnly(options.sse) };
    this.broker = options.broker ?? memoryBroker();
    const unclosedMs = options.unclosedStreamWarningMs ?? 10_000;
    if (unclosedMs > 0 && process.env.NODE_ENV !== "production") this.#unclosedStreams = new UnclosedStreamCheck(unclosedMs, this.logger);
    this.#channels = new ChannelRegistry(this.broker, this.logger, options.maxChannels);
    this.engine.onStreamClosed = (owner, info) => {
      this.#unclosedStreams?.forget(owner);
      // A stream closed inside its handler closes during connection.open(), before #send runs the
      // onStreamOpen hooks: report every close a microtask later, so a hook always sees open before close.
      queueMicrotask(() => {
        for (const hook of this.hooks.onStreamClose) this.#safely(() => hook(owner as Request, info));
      });
    };
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

  /** @internal Register one definition (see RouteCollector). */
  protected addRoute(definition: RouteDefinition): void {
    for (const method of definition.methods) this.#registered.push({ method, path: definition.path });
    const sse = { ...this.#sseDefaults, ...definedOnly(definition.options.sse) };
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
    this.#warnUnregisteredControllers();
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
      instantiatedClasses.add(ctor);
    }
    return instance;
  }

  /** Warn about each `@controller` class that no app or blueprint registered: its routes are not served. */
  #warnUnregisteredControllers(): void {
    for (const ctor of declaredControllers) {
      if (instantiatedClasses.has(ctor) || reportedControllers.has(ctor)) continue;
      reportedControllers.add(ctor);
      const name = className(ctor);
      const routes = readRouteMetadata(ctor).flatMap((entry) => entry.methods.map((method) => `${method} ${joinPaths(readControllerPrefix(ctor), entry.path)}`));
      const served = routes.length === 0 ? "" : `, so ${routes.length === 1 ? "its route" : `its ${routes.length} routes`} (${listSome(routes)}) ${routes.length === 1 ? "is" : "are"} not served`;
      this.logger.warn(`@controller class ${name} was never passed to app.register()${served}. Add app.register(${name}) (or blueprint.register(${name})) before the app starts.`);
    }
  }

  /**
   * The node request listener: `http.createServer(app.handler)` works too.
   * Errors never escape it.
   */
  readonly handler = (raw: IncomingMessage | Http2ServerRequest, res: RawResponse): void => {
    // No per-request close listener: it cost 5-8% of throughput (bench/). The request
    // notices a departed client when its signal is first read, and the SSE engine
    // listens from the moment a stream starts and checks the socket before writing.
    const request = new Request(raw, this.#bodyLimit, res);
    if (this.hooks.onRequest.length > 0) {
      this.#runRequestHooks(request, res).catch((err) => this.#fail(request, res, err));
      return;
    }
    this.#route(request, res);
  };

  async #runRequestHooks(request: Request, res: RawResponse): Promise<void> {
    for (const hook of this.hooks.onRequest) {
      const early = await hook(request);
      if (early instanceof Response) {
        this.#send(request, res, early, undefined);
        return;
      }
    }
    this.#route(request, res);
  }

  #route(request: Request, res: RawResponse): void {
    const method = request.method;
    const path = request.path;
    const match = this.#router.find(method, path);
    if (match === null) {
      this.#send(request, res, this.#noRoute(method, path), undefined);
      return;
    }
    const context = match.store;
    request.params = match.params;
    request.bodyLimit = context.bodyLimit;
    let value: unknown;
    try {
      value = context.handler(request);
    } catch (err) {
      this.#send(request, res, errorToResponse(err, this.logger, context.where), context);
      return;
    }
    if (value instanceof Promise) {
      value.then(
        (resolved) => this.#sendValue(request, res, resolved, context),
        (err) => this.#send(request, res, errorToResponse(err, this.logger, context.where), context),
      );
      return;
    }
    this.#sendValue(request, res, value, context);
  }

  #sendValue(request: Request, res: RawResponse, value: unknown, context: RouteContext): void {
    let response: Response;
    try {
      response = toResponse(value);
    } catch (err) {
      response = errorToResponse(err, this.logger, context.where);
    }
    this.#send(request, res, response, context);
  }

  #noRoute(method: string, path: string): Response {
    const allowed = this.#router.allowedMethods(path);
    if (allowed.length === 0) return errorToResponse(HttpError.fromCode("CELLO_NOT_FOUND", `${method} ${path}`), this.logger, "router");
    if (method === "OPTIONS") {
      // Automatic OPTIONS: say what the path answers to.
      return Response.noContent({ headers: { Allow: allowed.join(", ") } });
    }
    return errorToResponse(
      HttpError.fromCode("CELLO_METHOD_NOT_ALLOWED", `${method} ${path}`, { headers: { Allow: allowed.join(", ") } }),
      this.logger,
      "router",
    );
  }

  #send(request: Request, res: RawResponse, response: Response, context: RouteContext | undefined): void {
    if (res.headersSent || res.destroyed) {
      // The client is gone: nothing to write, but a stream's close callbacks must still run.
      this.#discardSource(response);
      return;
    }
    const http2 = this.#isHttp2(request);
    const headOnly = request.method === "HEAD";
    const hooks = this.hooks;
    const where = context?.where ?? `${request.method} ${request.path}`;
    try {
      if (response.body.kind === "sse") sseHeaders(response, http2);
      for (const hook of hooks.onResponse) hook(request, response);
    } catch (err) {
      this.#discardSource(response);
      response = errorToResponse(err, this.logger, `an onResponse hook of ${where}`);
    }
    // From here on any failure (a header written past setHeader, a status Node refuses, a throw
    // inside writeHead) is this request's logged 500, or its cut connection once the head is
    // out: never an exception that escapes the request listener and ends the process.
    try {
      // Handlers and hooks may write `response.headers` directly: check every header before the head.
      assertHeadersSafe(response.headers);
      if (response.body.kind !== "sse") {
        writeBytes(res, response, headOnly, http2);
        for (const hook of hooks.onFinish) this.#safely(() => hook(request, { status: response.status }));
        return;
      }
      const sseBody = response.body;
      if (headOnly) {
        this.#discardSource(response);
        if (http2) stripConnectionHeaders(response.headers);
        (res as ServerResponse).writeHead(response.status, response.headers);
        res.end();
        return;
      }
      if (http2) stripConnectionHeaders(response.headers);
      const routeOptions = context?.sse ?? this.#sseDefaults;
      // The route's resolved options object is shared by its connections unless this response overrides one.
      const options = hasDefined(sseBody.options) ? { ...routeOptions, ...definedOnly(sseBody.options) } : routeOptions;
      const connection = this.engine.create(res, options);
      connection.open(response.status, response.headers, sseBody.source, this.logger, request);
      if (this.#unclosedStreams !== undefined && sseBody.source instanceof SseStream) {
        this.#unclosedStreams.watch(sseBody.source, where, request);
      }
      for (const hook of hooks.onStreamOpen) this.#safely(() => hook(request, response));
    } catch (err) {
      this.#writeFailed(request, res, response, err, where);
    }
  }

  /** Writing `response` threw: answer a logged 500 while the head is not out, else cut the connection. */
  #writeFailed(request: Request, res: RawResponse, response: Response, err: unknown, where: string): void {
    if (res.headersSent) {
      // A truncated body must not pass for a whole one: the client sees the connection cut.
      this.logger.error(`Writing the response failed in ${where}`, err);
      res.destroy();
      return;
    }
    this.#discardSource(response);
    const fallback = errorToResponse(err, this.logger, where);
    try {
      writeBytes(res, fallback, request.method === "HEAD", this.#isHttp2(request));
    } catch (again) {
      this.logger.error(`Writing the error response failed in ${where}`, again);
      res.destroy();
      return;
    }
    for (const hook of this.hooks.onFinish) this.#safely(() => hook(request, { status: fallback.status }));
  }

  #discardSource(response: Response): void {
    if (response.body.kind !== "sse") return;
    const source = response.body.source;
    if (isAttachable(source)) source[kDetach]((err) => this.logger.error("An SSE close callback failed", err));
    else if (typeof (source as AsyncGenerator).return === "function") void Promise.resolve((source as AsyncGenerator).return(undefined)).catch(() => {});
  }

  #fail(request: Request, res: RawResponse, err: unknown): void {
    this.#send(request, res, errorToResponse(err, this.logger, `${request.method} ${request.path}`), undefined);
  }

  #safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error("A hook failed", err);
    }
  }

  #isHttp2(request: Request): boolean {
    return this.#http2 && request.raw.httpVersionMajor === 2;
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
      this.#http2 = options.http2 === true;
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

function className(ctor: Function): string {
  return ctor.name || "(anonymous class)";
}

/** The first three items, then how many more. */
function listSome(items: string[]): string {
  return items.length <= 3 ? items.join(", ") : `${items.slice(0, 3).join(", ")} and ${items.length - 3} more`;
}

function hasDefined(options: object | undefined): boolean {
  if (!options) return false;
  for (const value of Object.values(options)) if (value !== undefined) return true;
  return false;
}

function definedOnly<T extends object>(options: T | undefined): Partial<T> {
  const result: Partial<T> = {};
  if (!options) return result;
  for (const key of Object.keys(options) as Array<keyof T>) if (options[key] !== undefined) result[key] = options[key];
  return result;
}

export type { RouteOptions };
