/**
 * App: Cello's `App()` for TypeScript. Registers routes (calls, decorators,
 * controllers, blueprints), runs requests through hooks and handlers, hands
 * every result to respond.ts, and owns the server's lifecycle.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Blueprint } from "./blueprint.js";
import { CelloError, HttpError } from "./errors.js";
import { checkController, exploreDecorated, exploreRoutes, instantiate } from "./explorer.js";
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
import { memoryBroker, type ChannelBroker } from "./channels/broker.js";
import { Channel, subscribeResponse, type ChannelOptions } from "./channels/channel.js";
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
}

/** Options of {@link App.close}. */
export type CloseOptions = SseShutdownOptions;
export type { ListenOptions, ServerAddress };

/** A plugin: a function that configures an app through its public API. */
export type Plugin = (app: App) => void;

type LifecycleEvent = "startup" | "shutdown";
type RawResponse = ServerResponse | Http2ServerResponse;

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
  readonly #channels = new Map<string, Channel>();
  /** The broker behind this app's channels. */
  readonly broker: ChannelBroker;

  constructor(options: AppOptions = {}) {
    super();
    this.logger = options.logger ?? consoleLogger;
    this.#bodyLimit = options.bodyLimit ?? 1024 * 1024;
    this.#sseDefaults = { ...SSE_DEFAULTS, ...definedOnly(options.sse) };
    this.broker = options.broker ?? memoryBroker();
    this.engine.onStreamClosed = (owner, info) => {
      for (const hook of this.hooks.onStreamClose) this.#safely(() => hook(owner as Request, info));
    };
  }

  /**
   * Get or create a broadcast channel. Events are numbered and kept (`history`)
   * for replay; with a Redis broker the channel spans every instance.
   * @example
   * const stocks = app.channel("stocks", { history: 1000 });
   * app.get("/stocks", (req) => stocks.subscribe(req));
   * await stocks.publish({ symbol: "ACME", price: 12.5 }, { event: "tick" });
   */
  channel(name: string, options: ChannelOptions = {}): Channel {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = new Channel(name, this.broker, options, this.logger);
      this.#channels.set(name, channel);
    }
    return channel;
  }

  /**
   * Subscribe to several channels at once, by name or by a trailing-`*`
   * pattern (`"feed:*"` matches every channel this app created whose name starts with `feed:`).
   * The SSE id then carries each channel's position, so a reconnect resumes all of them.
   * @example app.get("/feed", (req) => app.subscribe(req, ["news", "alerts"]));
   */
  subscribe(request: Request, channels: string | string[], options: SubscribeOptions & { sse?: SseOptions } = {}): Response {
    const names = Array.isArray(channels) ? channels : [channels];
    const selected: Channel[] = [];
    for (const name of names) {
      if (name.endsWith("*")) {
        const prefix = name.slice(0, -1);
        for (const channel of this.#channels.values()) if (channel.name.startsWith(prefix) && !selected.includes(channel)) selected.push(channel);
      } else {
        const channel = this.channel(name);
        if (!selected.includes(channel)) selected.push(channel);
      }
    }
    if (selected.length === 0) throw HttpError.fromCode("CELLO_NOT_FOUND", `no channel matches ${names.join(", ")}`);
    return subscribeResponse(request, selected, options, this.logger);
  }

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
   */
  register(controllerClass: Function, options: { prefix?: string } = {}): this {
    checkController(controllerClass, this, "app.register");
    for (const definition of exploreRoutes(controllerClass, this.#instance(controllerClass))) {
      this.addRoute(options.prefix ? { ...definition, path: joinPaths(options.prefix, definition.path) } : definition);
    }
    return this;
  }

  /** Register every route of a blueprint (and of its nested blueprints) under its prefix. */
  registerBlueprint(blueprint: Blueprint): this {
    for (const definition of blueprint.collectRoutes((ctor) => this.#instance(ctor))) this.addRoute(definition);
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
    const body = response.body;
    try {
      if (body.kind === "sse") sseHeaders(response, http2);
      for (const hook of hooks.onResponse) hook(request, response);
    } catch (err) {
      this.#discardSource(response);
      response = errorToResponse(err, this.logger, "onResponse hook");
    }
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
    for (const hook of hooks.onStreamOpen) this.#safely(() => hook(request, response));
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
    if (this.#server) throw new CelloError("CELLO_INVALID_OPTION", "the app is already listening");
    await this.ready();
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? 8000;
    this.#http2 = options.http2 === true;
    const server = createNodeServer(options, this.handler, this.#connections);
    this.#server = server;
    return listenOn(server, host, port, options.tls !== undefined);
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
    const address = await this.listen({ ...options, host, port });
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
    for (const channel of this.#channels.values()) channel.stop();
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
