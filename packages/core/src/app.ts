/**
 * App: Cello's `App()` for TypeScript. Registers routes (calls, decorators,
 * controllers, blueprints) and owns the server's lifecycle; requests run
 * through pipeline.ts, responses are written by respond.ts.
 */
import type { Blueprint } from "./blueprint.js";
import { compileTrust, type TrustProxy } from "./client-ip.js";
import { describeValue } from "./describe.js";
import { CelloError } from "./errors.js";
import { checkController, exploreDecorated, exploreRoutes, instantiate, noRoutesWarning, unregisteredControllerWarnings } from "./explorer.js";
import { checkGuards, type Guard } from "./guards/guard.js";
import { HookRegistry, type HookName, type Hooks } from "./hooks.js";
import { Lifecycle, type AppState, type LifecycleEvent } from "./lifecycle.js";
import { consoleLogger, type Logger } from "./logger.js";
import { compression, type CompressionOptions } from "./plugins/compression/compression.js";
import { cors, type CorsOptions } from "./plugins/cors.js";
import { healthChecks, type HealthCheckOptions } from "./plugins/health.js";
import { logging, type LoggingOptions } from "./plugins/logging.js";
import { checkRouteRateLimit, rateLimit, type RateLimitOptions } from "./plugins/rate-limit.js";
import { openapi } from "./plugins/openapi/plugin.js";
import type { OpenapiOptions } from "./plugins/openapi/types.js";
import { metrics, type MetricsOptions } from "./plugins/metrics/metrics.js";
import { checkRequireAccept, requireAcceptable } from "./negotiation.js";
import { Pipeline } from "./pipeline.js";
import type { Request } from "./request.js";
import type { ListenOptions, NodeServer, RequestListener, ServerAddress } from "./server.js";
import type { Response } from "./response.js";
import { Responder } from "./respond.js";
import { createRouter, joinPaths, type HttpMethod, type Router } from "./router.js";
import { RouteCollector, type RouteContext, type RouteDefinition, type RouteInfo, type RouteOptions } from "./routes.js";
import { SseEngine } from "./sse/engine.js";
import { SSE_DEFAULTS, resolveSseOptions, type ResolvedSseOptions, type SseOptions, type SseShutdownOptions } from "./sse/options.js";
import { UnclosedStreamCheck } from "./sse/unclosed-check.js";
import { defaultBroker, type RunOptions } from "./workers/cluster.js";
import type { ChannelBroker } from "./channels/broker.js";
import type { Channel, ChannelOptions } from "./channels/channel.js";
import { ChannelAccess, type ChannelAccessDefault, type ChannelAuthorizer, type ChannelPattern } from "./channels/access.js";
import { ChannelRegistry, type ChannelSelector } from "./channels/registry.js";
import type { SubscribeOptions } from "./channels/subscription.js";
import { compileRoute, resolveValidationOptions, type ResolvedValidationOptions, type ValidationOptions } from "./validation/route.js";

/** Options of `new App(options)`. */
export interface AppOptions {
  /** Largest request body in bytes; larger bodies get 413. Default 1 MiB. */
  bodyLimit?: number;
  /** Streaming defaults for every SSE route (heartbeat, retry, buffer limit, overflow policy, write timeout). */
  sse?: SseOptions;
  /** Where framework diagnostics go (errors with stacks, the startup line). Default: console. */
  logger?: Logger;
  /**
   * The broker behind `app.channel()`: in-memory by default (in the workers of
   * `app.run({ workers })`, the primary's memory broker over IPC, so channels span
   * the workers); `redisBroker()` from @cellojs/redis spans instances.
   */
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
  /**
   * Who may subscribe to a channel that no rule covers (no `authorize` option,
   * no `app.authorizeChannels()` rule for its name or a pattern matching it):
   * `"allow"` (the default: every request, as before rules existed) or `"deny"`
   * (a 403 `CELLO_FORBIDDEN`, so a channel is closed until a rule opens it).
   * @example new App({ channelAccess: "deny" })
   */
  channelAccess?: ChannelAccessDefault;
  /**
   * The development checks of routes' `schema.response` and `schema.events`: each on
   * unless `NODE_ENV=production`; set one to force it on or off. (Input validation,
   * the 422, always runs.)
   * @example new App({ validation: { responses: true, events: true } }) // in production too
   */
  validation?: ValidationOptions;
  /**
   * Guards of every route, run first, before those of its blueprints, its
   * controller and its own (see {@link App.useGuards}). Default none.
   * @example new App({ guards: [Authenticated({ verify })] })
   */
  guards?: Guard[];
  /**
   * Which peers may name the client in `X-Forwarded-For` (read by `request.ip` and the
   * rate limiter): `false` (default, none: `request.ip` is the socket's peer), a list of
   * addresses and CIDR ranges, or a function. Trust only your own proxies: a header from
   * any other peer is ignored. Bad entries throw `CELLO_INVALID_OPTION` here. See {@link TrustProxy}.
   * @example new App({ trustProxy: ["127.0.0.1", "10.0.0.0/8"] })
   */
  trustProxy?: TrustProxy;
}

/** Options of {@link App.close}. */
export type CloseOptions = SseShutdownOptions;
export type { ListenOptions, RunOptions, ServerAddress };

/** A plugin: a function that configures an app through its public API. */
export type Plugin = (app: App) => void;

/** @internal Test support: the SSE engine of `app` (its connections, its shutdown). Not exported from the package. */
export let engineOf: (app: App) => SseEngine;

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
  static {
    engineOf = (app) => app.#engine;
  }

  /** Framework diagnostics. */
  readonly logger: Logger;
  /** The broker behind this app's channels. */
  readonly broker: ChannelBroker;
  /**
   * The node request listener: `http.createServer(app.handler)` works too.
   * Errors never escape it.
   */
  readonly handler: RequestListener;

  /** Hooks added with {@link App.addHook}, read by the pipeline and the responder. */
  readonly #hooks = new HookRegistry();
  /** The SSE engine owning every open stream. */
  readonly #engine = new SseEngine(this);
  readonly #router: Router<RouteContext> = createRouter();
  /** Every registered route (one context per method), in registration order: `routes()` lists their `info`. */
  readonly #registered: RouteContext[] = [];
  readonly #instances = new Map<Function, object>();
  readonly #bodyLimit: number;
  readonly #sseDefaults: ResolvedSseOptions;
  readonly #validation: ResolvedValidationOptions;
  readonly #channels: ChannelRegistry;
  readonly #channelAccess: ChannelAccess;
  readonly #lifecycle: Lifecycle;
  /** App-wide guards, first in every route's list. */
  readonly #guards: Guard[] = [];
  /** Every registered route's own guards and where its effective list lives, so `useGuards()` reaches routes already registered. */
  readonly #guarded: Array<{ own: readonly Guard[]; options: RouteOptions; contexts: RouteContext[] }> = [];
  #ready = false;

  constructor(options: AppOptions = {}) {
    super();
    this.logger = options.logger ?? consoleLogger;
    this.#bodyLimit = options.bodyLimit ?? 1024 * 1024;
    this.#sseDefaults = resolveSseOptions(SSE_DEFAULTS, options.sse);
    this.#validation = resolveValidationOptions(options.validation);
    this.broker = options.broker ?? defaultBroker();
    const unclosedMs = options.unclosedStreamWarningMs ?? 10_000;
    const unclosedStreams = unclosedMs > 0 && process.env.NODE_ENV !== "production" ? new UnclosedStreamCheck(unclosedMs, this.logger) : undefined;
    this.#channelAccess = new ChannelAccess(options.channelAccess);
    this.#channels = new ChannelRegistry(this.broker, this.logger, this.#channelAccess, options.maxChannels, this);
    if (options.guards !== undefined) this.#guards.push(...checkGuards(options.guards, "new App()"));
    // Requests flow one way: pipeline -> responder -> engine; none of them calls back into the app.
    const responder = new Responder({ hooks: this.#hooks, engine: this.#engine, logger: this.logger, sseDefaults: this.#sseDefaults, unclosedStreams, scope: this });
    this.handler = new Pipeline({
      router: this.#router,
      hooks: this.#hooks,
      responder,
      logger: this.logger,
      bodyLimit: this.#bodyLimit,
      trust: compileTrust(options.trustProxy),
    }).handler;
    this.#lifecycle = new Lifecycle({
      logger: this.logger,
      handler: this.handler,
      ready: () => this.ready(),
      responder,
      engine: this.#engine,
      unclosedStreams,
      channels: this.#channels,
      broker: this.broker,
    });
  }

  /**
   * Get or create a broadcast channel. Events are numbered and kept (`history`)
   * for replay; with a Redis broker the channel spans every instance. The app
   * keeps it until `channel.delete()`; a new name past `maxChannels` throws a
   * CelloError `CELLO_TOO_MANY_CHANNELS`. A name that is empty, longer than 256
   * characters or holds a control character throws a CelloError
   * `CELLO_INVALID_CHANNEL_NAME` (a 400 if it reaches a client).
   * @param name - The channel's name, always literal (`*` is a character like any other).
   * @param options - `history` (1000), `ttlMs` (0), `authorize` and `audience`
   *   (see {@link ChannelOptions}); those of the first call stay.
   * @example
   * const stocks = app.channel("stocks", { history: 1000 });
   * app.get("/stocks", (req) => stocks.subscribe(req));
   * await stocks.publish({ symbol: "ACME", price: 12.5 }, { event: "tick" });
   */
  channel(name: string, options?: ChannelOptions): Channel {
    return this.#channels.declare(name, options);
  }

  /**
   * Subscribe to several channels at once, by name or by pattern. A string is
   * always one channel's name, even with a `*` in it (so a name taken from a
   * request never selects other channels); a pattern is an object:
   * `{ pattern: "feed:*" }` selects every channel the app holds whose name starts
   * with `feed:`. The SSE id then carries each channel's position, so a reconnect
   * resumes all of them.
   *
   * A name the app does not hold yet makes a channel that lives while it has
   * subscribers, so names taken from requests do not pile up; past `maxChannels`
   * the request is answered 503 (`CELLO_TOO_MANY_CHANNELS`). Before anything is
   * made, each name is checked (empty, over 256 characters or with a control
   * character: 400 `CELLO_INVALID_CHANNEL_NAME`) and every rule covering each
   * channel is asked (see {@link App.authorizeChannels}): one refused name is a
   * 403 `CELLO_FORBIDDEN` for the whole request, before any SSE byte. A pattern
   * selects only the channels the request may see (403 if it matched only others;
   * 404 if it matched none).
   * @example
   * app.get("/feed", (req) => app.subscribe(req, ["news", "alerts"]));
   * app.get("/rooms", (req) => app.subscribe(req, { pattern: "room:*" }));
   * app.get("/rooms/{room}", (req) => app.subscribe(req, `room:${req.params.room}`)); // "*" here is a room called "*"
   */
  subscribe(request: Request, channels: ChannelSelector | readonly ChannelSelector[], options: SubscribeOptions & { sse?: SseOptions } = {}): Promise<Response> {
    try {
      return this.#channels.subscribe(request, Array.isArray(channels) ? (channels as readonly ChannelSelector[]) : [channels as ChannelSelector], options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Declare who may subscribe to a channel, by name or by `{ pattern }`: before
   * any subscription (`channel.subscribe(request)`, `app.subscribe(request, ...)`)
   * every rule covering the channel is asked with the request and the channel's
   * name, with the channel's own `authorize` option; all must return `true`
   * (anything else, `undefined` included, refuses: 403 `CELLO_FORBIDDEN` before any
   * SSE byte). A rule may be async and may throw an `HttpError` (a 401 with
   * `WWW-Authenticate`, say). Channels no rule covers follow `AppOptions.channelAccess`.
   * @param channels - A channel's name, or `{ pattern: "prefix*" }`.
   * @param authorize - `(request, channel) => boolean | Promise<boolean>`.
   * @example
   * // Each user subscribes only to their own channel; replays never cross users.
   * app.authorizeChannels({ pattern: "user:*" }, (req, name) => name === `user:${req.getHeader("x-user")}`);
   * app.get("/me/events", (req) => app.subscribe(req, `user:${req.getHeader("x-user")}`));
   */
  authorizeChannels(channels: string | ChannelPattern, authorize: ChannelAuthorizer): this {
    this.#channelAccess.add(channels, authorize);
    return this;
  }

  /** @internal Register one definition (see RouteCollector). */
  protected addRoute(definition: RouteDefinition): void {
    const routeName = `${definition.methods.join("|")} ${definition.path}`;
    checkRouteRateLimit(definition.options.rateLimit, routeName);
    // The route's effective guards (app-wide first) go into its registered options and its contexts.
    const own = definition.options.guards === undefined ? [] : checkGuards(definition.options.guards, routeName);
    const guards = this.#guards.length === 0 && own.length === 0 ? undefined : [...this.#guards, ...own];
    const sse = resolveSseOptions(this.#sseDefaults, definition.options.sse);
    const accept = checkRequireAccept(definition.options.requireAccept, routeName);
    const contexts: RouteContext[] = [];
    for (const method of definition.methods) {
      const where = `${method} ${definition.path}`;
      const { handler, eventCheck } = compileRoute(definition.handler, definition.options.schema, where, this.logger, this.#validation);
      const context: RouteContext = {
        // Negotiation wraps validation: a 406 comes before a 422.
        handler: requireAcceptable(handler, accept),
        bodyLimit: definition.options.bodyLimit ?? this.#bodyLimit,
        sse,
        where,
        eventCheck,
        guards,
        info: routeInfo(method, definition.path, definition.options, guards),
      };
      this.#router.add(method, definition.path, context);
      this.#registered.push(context);
      contexts.push(context);
    }
    this.#guarded.push({ own, options: definition.options, contexts });
  }

  /**
   * Add app-wide guards: they run first on every route, before the route's
   * blueprints', controller's and own guards, in the order added (after those
   * of `new App({ guards })`). Routes registered before the call get them too.
   * Anything but guard functions throws a CelloError `CELLO_INVALID_OPTION`.
   * @example app.useGuards(Authenticated({ verify, cookie: "token" }));
   */
  useGuards(...guards: Guard[]): this {
    this.#guards.push(...checkGuards(guards, "app.useGuards()"));
    for (const route of this.#guarded) {
      const effective = [...this.#guards, ...route.own];
      for (const context of route.contexts) {
        context.guards = effective;
        context.info = routeInfo(context.info.method, context.info.path, route.options, effective);
      }
    }
    return this;
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
    this.#hooks.add(name, fn);
    return this;
  }

  /**
   * Apply a plugin: call it with this app. Anything but a function throws a
   * CelloError `CELLO_INVALID_OPTION` naming what was passed.
   * @param plugin - A {@link Plugin}, e.g. `cors()`.
   * @example app.use(cors({ origins: ["https://example.com"] })).use(logging());
   */
  use(plugin: Plugin): this {
    if (typeof plugin !== "function") {
      throw new CelloError("CELLO_INVALID_OPTION", `app.use() takes a plugin, a function (app) => void such as cors() or logging(); got ${describeValue(plugin)}`);
    }
    plugin(this);
    return this;
  }

  /** Cello's `app.enable_cors()`: CORS headers on every response and preflight answers. See {@link CorsOptions}. */
  enableCors(options?: CorsOptions): this {
    return this.use(cors(options));
  }

  /**
   * Cello's `app.enable_compression()`: gzip or brotli for responses of a compressible type above
   * `threshold` (1 KiB), as the client's `Accept-Encoding` allows, with `Vary: Accept-Encoding`;
   * SSE streams too where opted in (`{ sse: { compress: true } }` on a route, or `sse: true` here),
   * flushed at every write so events stay live. See {@link CompressionOptions}.
   * @example app.enableCompression({ sse: true });
   */
  enableCompression(options?: CompressionOptions): this {
    return this.use(compression(options));
  }

  /** Cello's `app.enable_logging()`: one line per request, and per stream open and close. See {@link LoggingOptions}. */
  enableLogging(options?: LoggingOptions): this {
    return this.use(logging(options));
  }

  /**
   * Cello's `app.enable_rate_limit()`: a request rate per client (sliding or fixed window,
   * 429 `CELLO_RATE_LIMITED` with `Retry-After` and `RateLimit-*` headers) and caps on
   * concurrent SSE streams (429 per IP or key, 503 in all), app-wide and per route
   * (`rateLimit` route option). See {@link RateLimitOptions}.
   * @example app.enableRateLimit({ points: 100, duration: 60, streams: { perIp: 5 } });
   */
  enableRateLimit(options?: RateLimitOptions): this {
    return this.use(rateLimit(options));
  }

  /**
   * Cello's `app.enable_openapi()`: serve an OpenAPI 3.2 document of the app's routes at
   * `/openapi.json` (their guards' security, their schemas as JSON Schema, SSE events as
   * `itemSchema`), and with `ui` a docs page at `/docs`. The document is built once, at
   * startup (`ready()`): a schema that cannot be converted fails startup with a CelloError
   * `CELLO_OPENAPI_SCHEMA` naming the route. See {@link OpenapiOptions}.
   * @example
   * import { scalarUi } from "@cellojs/openapi";
   * app.enableOpenapi({ title: "Notifications", version: "1.2.0", ui: scalarUi() });
   */
  enableOpenapi(options?: OpenapiOptions): this {
    return this.use(openapi(options));
  }

  /**
   * Cello's `app.enable_prometheus()`: serve `/metrics` in the Prometheus text format
   * (prom-client, a peer dependency to install): HTTP requests by route template and status
   * with durations, SSE streams, events, bytes, drops and closes by reason, channel
   * publishes and publish-to-flush latency, replays, resets, broker state. Call it before
   * `listen()`. See {@link MetricsOptions}.
   * @example app.enableMetrics(); // GET /metrics
   */
  enableMetrics(options?: MetricsOptions): this {
    return this.use(metrics(options));
  }

  /**
   * Cello's `app.enable_health_checks()`: `/health`, `/health/live`, `/health/ready` and
   * `/health/startup`. Readiness fails (503) from the first moment of `close()`, before
   * any stream ends; `drainDelayMs` keeps it so while a load balancer notices. See {@link HealthCheckOptions}.
   * @example app.enableHealthChecks({ checks: { db: () => db.ping() }, drainDelayMs: 10_000 });
   */
  enableHealthChecks(options?: HealthCheckOptions): this {
    return this.use(healthChecks(options));
  }

  /**
   * Run `fn` at `"startup"` (before the server accepts), `"draining"` (first thing in
   * `close()`: the server still accepts and streams are still open; `close()` awaits it,
   * so a handler that waits delays the rest) or `"shutdown"` (after streams closed).
   * @example app.onEvent("draining", () => console.log("draining: readiness now fails"));
   */
  onEvent(event: LifecycleEvent, fn: () => unknown): this {
    this.#lifecycle.on(event, fn);
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
    await this.#lifecycle.startup();
  }

  /**
   * Every registered route as `{ method, path, options }` (one entry per method), in registration
   * order; routes of `@app.get` classes appear once `ready()` ran. `options` are the route's
   * options as registered (frozen). The OpenAPI document is built from this list.
   * @example app.routes().map((r) => `${r.method} ${r.path}`) // ["GET /", "GET /sse/counter"]
   */
  routes(): RouteInfo[] {
    return this.#registered.map((context) => context.info);
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
    return this.#lifecycle.listen(options);
  }

  /** The underlying node server, once listening. */
  get server(): NodeServer | undefined {
    return this.#lifecycle.server;
  }

  /**
   * Where the app is in its life: `"created"`, `"starting"` (startup handlers running),
   * `"started"`, `"draining"` (`close()` began, the server still accepts), `"closing"`, `"closed"`.
   * @example app.get("/state", () => ({ state: app.state })); // { "state": "started" }
   */
  get state(): AppState {
    return this.#lifecycle.state;
  }

  /**
   * How many SSE streams are open right now: opened and not yet closed, by
   * either side. For a health check, a metric, or a test that a stream ended.
   * @example app.get("/health", () => ({ ok: true, streams: app.openStreams }));
   */
  get openStreams(): number {
    return this.#engine.connections.size;
  }

  /**
   * Cello's `app.run()`: listen on `--host`/`--port` flags, else `HOST`/`PORT`,
   * else `options`, else 127.0.0.1:8000; print the URL; close gracefully on SIGINT/SIGTERM.
   *
   * `--workers N` (or `options.workers`; `auto` = one per core) serves from N
   * processes on one port (node:cluster): this process becomes their primary, the
   * workers run this same script, and run() here resolves once they all listen.
   * SIGINT/SIGTERM drain every worker; a worker that dies is replaced. `--reload`
   * (development) re-runs the script under `node --watch`: it restarts when a
   * source file changes, and run() in the watching process never resolves.
   * A bad `--workers`/`--port` value rejects with `CELLO_INVALID_OPTION` naming it.
   *
   * @example
   * await app.run({ workers: "auto" }); // or: node server.js --workers 4
   */
  async run(options: RunOptions = {}): Promise<ServerAddress> {
    return this.#lifecycle.run(options);
  }

  /**
   * Close gracefully: stop accepting, send each open stream a final frame
   * (with `retry`), end it, wait up to `graceMs` for producers to finish, then
   * run shutdown handlers.
   */
  close(options: CloseOptions = {}): Promise<void> {
    return this.#lifecycle.close(options);
  }
}

export type { AppState, LifecycleEvent, RouteInfo, RouteOptions };

/**
 * What `app.routes()` lists and `request.route` gives plugins: frozen, so a reader cannot
 * change it; `options.guards` holds the route's effective guards (`useGuards()` makes a new one).
 */
function routeInfo(method: HttpMethod, path: string, options: RouteOptions, guards: readonly Guard[] | undefined): RouteInfo {
  const { guards: _own, ...rest } = options;
  const registered: RouteOptions = guards === undefined ? rest : { ...rest, guards: Object.freeze([...guards]) as Guard[] };
  return Object.freeze({ method, path, options: Object.freeze(registered) });
}
