/**
 * The route-registering surface shared by App and Blueprint:
 * `get/post/put/patch/delete/options/head/route`, each usable as a call with a
 * handler or, with only a path, as a method decorator (Cello's `@app.get`).
 */
import { routeDecorator, type DecoratedSite, type RouteDecorator } from "./decorators.js";
import { CelloError } from "./errors.js";
import { checkGuards, type Guard } from "./guards/guard.js";
import type { Request } from "./request.js";
import type { OperationDocs } from "./plugins/openapi/types.js";
import type { HttpMethod } from "./router.js";
import type { FrameCheck } from "./sse/checked-connection.js";
import type { RouteRateLimit } from "./plugins/rate-limit.js";
import type { ResolvedSseOptions, SseOptions } from "./sse/options.js";
import type { RouteResult, RouteSchema, ValidatedRequest } from "./validation/schema.js";

/** A route handler: gets the Request, returns anything `respond` understands (or a Promise of it). */
export type Handler = (request: Request) => unknown;

/**
 * The handler of a route with a `schema`: `request.valid` is typed from the
 * schemas, and with a `response` schema the return value is checked against it.
 */
export type ValidatedHandler<S extends RouteSchema> = (request: ValidatedRequest<S>) => RouteResult<S>;

/** Per-route options. */
export interface RouteOptions {
  /** Body size limit for this route in bytes (default: the app's, 1 MiB). */
  bodyLimit?: number;
  /** Streaming options for SSE responses of this route (heartbeat, retry, buffer limit, overflow policy). */
  sse?: SseOptions;
  /**
   * Standard Schemas (zod 4, valibot, arktype...) for the route's params, query,
   * headers and body (invalid input: 422 problem details, before the handler runs),
   * its response and its SSE events (checked in development). See {@link RouteSchema}.
   */
  schema?: RouteSchema;
  /**
   * This route's limits under `app.enableRateLimit()`: its own request rate and stream caps
   * (counted apart from the app's), or `false` to exempt it (a health check). Ignored when
   * rate limiting is not enabled. See {@link RouteRateLimit}.
   * @example app.post("/login", login, { rateLimit: { points: 5, duration: 60 } });
   */
  rateLimit?: RouteRateLimit | false;
  /** How the route appears in the OpenAPI document (`app.enableOpenapi()`): summary, tags, operationId, exclude... */
  openapi?: OperationDocs;
  /**
   * Guards run in order after routing and before the handler (so before any SSE
   * byte); the first refusal answers (401, 403). Registered, a route's
   * `options.guards` holds its effective guards: the app's, its blueprints'
   * (outer first), its controller's, then its own.
   * @example app.get("/admin", handler, { guards: [Authenticated({ verify }), RoleGuard(["admin"])] });
   */
  guards?: Guard[];
  /**
   * Answer 406 (`CELLO_NOT_ACCEPTABLE`, problem+json, `Vary: Accept`) instead of running the
   * handler when the request's `Accept` admits none of these media types: a stream-only
   * route asked for JSON. Wildcards (`*\/*`, `text/*`) and q-values count as RFC 9110
   * says; a request without `Accept` admits anything. Checked after the guards, before
   * validation. Default: none (every request runs the handler).
   * @example app.post("/mcp", handler, { requireAccept: "text/event-stream" });
   */
  requireAccept?: string | string[];
}

/**
 * A route as `app.routes()` lists it (and the OpenAPI document reads it), one per method;
 * also what `request.route` tells plugins about the route answering a request.
 */
export interface RouteInfo {
  method: HttpMethod;
  /** As registered, prefixes included: `/users/{id}` (a template: bounded, unlike raw paths). */
  path: string;
  /** The route's options as registered. */
  options: Readonly<RouteOptions>;
}

/** {@link RouteOptions} whose `schema` is `S`, so a handler's `request.valid` is typed from it. */
export type RouteOptionsWith<S extends RouteSchema> = Omit<RouteOptions, "schema"> & { schema?: S };

/** A route as plain data: what the explorer produces and the app registers. */
export interface RouteDefinition {
  methods: HttpMethod[];
  path: string;
  handler: Handler;
  options: RouteOptions;
}

/** A route as the request pipeline runs it: the router's store, resolved once at registration. */
export interface RouteContext {
  handler: Handler;
  /** The route's body limit (the app's unless the route sets one). */
  bodyLimit: number;
  /** The route's SSE options over the app's. */
  sse: ResolvedSseOptions;
  /** `METHOD /path`, naming the route in logs. */
  where: string;
  /** The check of every SSE event the route sends (`schema.events` with event checks on); undefined otherwise. */
  eventCheck: FrameCheck | undefined;
  /** The route's effective guards, run before the handler; undefined when it has none (nothing to run). */
  guards: readonly Guard[] | undefined;
  /** What `request.route` gives plugins. */
  info: RouteInfo;
}

function checkBound(collector: RouteCollector | undefined, name: string): asserts collector is RouteCollector {
  // `@app.get` without a path calls the method detached from its app (so does `const get = app.get`).
  if (!(collector instanceof RouteCollector)) {
    throw new CelloError("CELLO_INVALID_DECORATOR", `${name}() was called without its app: write @app.${name}("/path") as a decorator, or app.${name}("/path", handler)`);
  }
}

/**
 * Base of {@link App} and {@link Blueprint}. Subclasses decide what
 * registering means (the app adds to its router; a blueprint keeps a list).
 */
export abstract class RouteCollector {
  /**
   * @internal Where this collector's `@x.get(...)` decorators were applied, in order:
   * a class, or (standard decorators on instance methods) the class's metadata object.
   */
  protected readonly decoratedSites = new Set<DecoratedSite>();

  /** @internal Register one definition. */
  protected abstract addRoute(definition: RouteDefinition): void;

  /**
   * Register `handler` for `path` and `methods`, or return a decorator when no
   * handler is given (Cello's `@app.route("/x", methods=["GET", "POST"])`).
   */
  route<S extends RouteSchema = {}>(path: string, options: RouteOptionsWith<S> & { methods: HttpMethod[] }, handler: ValidatedHandler<S>): this;
  route(path: string, options: RouteOptions & { methods: HttpMethod[] }): RouteDecorator;
  route(path: string, options: RouteOptions & { methods: HttpMethod[] }, handler?: Handler | ValidatedHandler<RouteSchema>): this | RouteDecorator {
    checkBound(this, "route");
    const { methods, ...rest } = options;
    return this.#register([...methods], path, handler as Handler | undefined, rest);
  }

  /**
   * GET `path` (HEAD is answered from it).
   * @example
   * app.get("/hello/{name}", (req) => ({ hello: req.params.name }));
   * class Demo { @app.get("/sse/counter") counter(req: Request) { return new SseStream(); } }
   */
  get<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  get(path: string, options?: RouteOptions): RouteDecorator;
  get(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "get");
    return this.#dispatch("GET", path, handlerOrOptions, options);
  }

  /** POST `path`; without a handler, a method decorator. */
  post<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  post(path: string, options?: RouteOptions): RouteDecorator;
  post(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "post");
    return this.#dispatch("POST", path, handlerOrOptions, options);
  }

  /** PUT `path`; without a handler, a method decorator. */
  put<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  put(path: string, options?: RouteOptions): RouteDecorator;
  put(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "put");
    return this.#dispatch("PUT", path, handlerOrOptions, options);
  }

  /** PATCH `path`; without a handler, a method decorator. */
  patch<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  patch(path: string, options?: RouteOptions): RouteDecorator;
  patch(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "patch");
    return this.#dispatch("PATCH", path, handlerOrOptions, options);
  }

  /** DELETE `path`; without a handler, a method decorator. */
  delete<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  delete(path: string, options?: RouteOptions): RouteDecorator;
  delete(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "delete");
    return this.#dispatch("DELETE", path, handlerOrOptions, options);
  }

  /** OPTIONS `path`; without a handler, a method decorator. */
  options<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  options(path: string, options?: RouteOptions): RouteDecorator;
  options(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "options");
    return this.#dispatch("OPTIONS", path, handlerOrOptions, options);
  }

  /** HEAD `path` (only needed to answer HEAD differently from GET). */
  head<S extends RouteSchema = {}>(path: string, handler: ValidatedHandler<S>, options?: RouteOptionsWith<S>): this;
  head(path: string, options?: RouteOptions): RouteDecorator;
  head(path: string, handlerOrOptions?: Handler | ValidatedHandler<RouteSchema> | RouteOptions, options?: RouteOptions): this | RouteDecorator {
    checkBound(this, "head");
    return this.#dispatch("HEAD", path, handlerOrOptions, options);
  }

  #dispatch(method: HttpMethod, path: string, handlerOrOptions: Handler | ValidatedHandler<RouteSchema> | RouteOptions | undefined, options: RouteOptions | undefined): this | RouteDecorator {
    // A validated handler reads `request.valid`, which every Request has: it is a Handler at run time.
    if (typeof handlerOrOptions === "function") return this.#register([method], path, handlerOrOptions as Handler, options ?? {});
    return this.#register([method], path, undefined, handlerOrOptions ?? {});
  }

  #register(methods: HttpMethod[], path: string, handler: Handler | undefined, options: RouteOptions): this | RouteDecorator {
    if (options.guards !== undefined) options = { ...options, guards: checkGuards(options.guards, `${methods.join("|")} ${path}`) };
    if (handler) {
      this.addRoute({ methods, path, handler, options });
      return this;
    }
    // `@app.get`, `@blueprint.post`: how the decorator reads in an error.
    const name = this.constructor.name;
    const label = `@${name.charAt(0).toLowerCase()}${name.slice(1)}.${methods.length === 1 ? methods[0]!.toLowerCase() : "route"}`;
    // The class is still being defined here; it is instantiated when the app starts.
    return routeDecorator(label, { methods, path, options, owner: this }, (site) => this.decoratedSites.add(site));
  }
}
