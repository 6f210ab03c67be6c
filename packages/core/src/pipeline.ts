/**
 * The request pipeline: each request passes through it once, one way:
 * node request -> Request -> onRequest hooks -> router -> guards -> onRouted hooks -> handler
 * -> Responder (respond.ts). It gets what it needs from its app once, at construction, and
 * never calls back into it. Guards run before onRouted hooks, so a rate limit keyed by the
 * principal (plugins/rate-limit.ts) sees who the request is.
 */
import type { TrustFunction } from "./client-ip.js";
import { channels as diagnostics } from "./diagnostics.js";
import { HttpError } from "./errors.js";
import { runGuards } from "./guards/run.js";
import type { HookRegistry } from "./hooks.js";
import type { Logger } from "./logger.js";
import { Request, kRouted } from "./request.js";
import { Response } from "./response.js";
import { errorToResponse, type RawResponse, type Responder } from "./respond.js";
import type { Router } from "./router.js";
import type { RouteContext } from "./routes.js";
import type { Guard } from "./guards/guard.js";
import type { RequestListener } from "./server.js";

/** What a {@link Pipeline} needs from its app, given once at construction. */
export interface PipelineContext {
  /** The app's routes; the app registers and compiles them, the pipeline only looks up. */
  readonly router: Router<RouteContext>;
  readonly hooks: HookRegistry;
  /** Writes whatever the pipeline answers. */
  readonly responder: Responder;
  readonly logger: Logger;
  /** The app's body limit, a request's until routing finds its route's. */
  readonly bodyLimit: number;
  /** Which peers may name the client in X-Forwarded-For (`request.ip`). */
  readonly trust: TrustFunction;
}

/** Runs every request of one app from the node request to the Responder. */
export class Pipeline {
  readonly #router: Router<RouteContext>;
  readonly #hooks: HookRegistry;
  readonly #responder: Responder;
  readonly #logger: Logger;
  readonly #bodyLimit: number;
  readonly #trust: TrustFunction;

  constructor(context: PipelineContext) {
    this.#router = context.router;
    this.#hooks = context.hooks;
    this.#responder = context.responder;
    this.#logger = context.logger;
    this.#bodyLimit = context.bodyLimit;
    this.#trust = context.trust;
  }

  /** The node request listener (the app's `handler`). Errors never escape it. */
  readonly handler: RequestListener = (raw, res) => {
    // No per-request close listener: it cost 5-8% of throughput (bench/). The request
    // notices a departed client when its signal is first read, and the SSE engine
    // listens from the moment a stream starts and checks the socket before writing.
    const request = new Request(raw, this.#bodyLimit, res, this.#trust);
    if (diagnostics.httpResponse.hasSubscribers) request.startedAt = performance.now();
    if (this.#hooks.onRequest.length > 0) {
      this.#runRequestHooks(request, res).catch((err) => this.#fail(request, res, err));
      return;
    }
    this.#route(request, res);
  };

  async #runRequestHooks(request: Request, res: RawResponse): Promise<void> {
    for (const hook of this.#hooks.onRequest) {
      const early = await hook(request);
      if (early instanceof Response) {
        this.#responder.send(request, res, early, undefined);
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
      this.#responder.send(request, res, this.#noRoute(method, path), undefined);
      return;
    }
    const context = match.store;
    request[kRouted](match.params, context);
    // A route without guards pays for this one check.
    if (context.guards !== undefined) {
      this.#guard(request, res, context, context.guards);
      return;
    }
    this.#routed(request, res, context);
  }

  /** Run the app's onRouted hooks (if any), then the handler. */
  #routed(request: Request, res: RawResponse, context: RouteContext): void {
    if (this.#hooks.onRouted.length > 0) {
      this.#runRoutedHooks(request, res, context).catch((err) => this.#fail(request, res, err));
      return;
    }
    this.#handle(request, res, context);
  }

  /** Run the route's guards, then its handler; a refusal (or a guard's failure) is the answer, written before any SSE byte. */
  #guard(request: Request, res: RawResponse, context: RouteContext, guards: readonly Guard[]): void {
    let pending: void | Promise<void>;
    try {
      pending = runGuards(request, guards);
    } catch (err) {
      this.#responder.send(request, res, errorToResponse(err, this.#logger, `a guard of ${context.where}`), context);
      return;
    }
    if (pending === undefined) {
      this.#routed(request, res, context);
      return;
    }
    pending.then(
      () => this.#routed(request, res, context),
      (err) => this.#responder.send(request, res, errorToResponse(err, this.#logger, `a guard of ${context.where}`), context),
    );
  }

  async #runRoutedHooks(request: Request, res: RawResponse, context: RouteContext): Promise<void> {
    for (const hook of this.#hooks.onRouted) {
      const early = await hook(request);
      if (early instanceof Response) {
        this.#responder.send(request, res, early, context);
        return;
      }
    }
    this.#handle(request, res, context);
  }

  /** Call the route's handler and answer with what it returns or throws. */
  #handle(request: Request, res: RawResponse, context: RouteContext): void {
    let value: unknown;
    try {
      value = context.handler(request);
    } catch (err) {
      this.#handlerFailed(request, res, err, context);
      return;
    }
    if (value instanceof Promise) {
      value.then(
        (resolved) => this.#responder.respond(request, res, resolved, context),
        (err) => this.#handlerFailed(request, res, err, context),
      );
      return;
    }
    this.#responder.respond(request, res, value, context);
  }

  /**
   * Answer a handler's failure. One that is the abort the handler asked for (it passed
   * `request.signal` to a fetch, and the client left) is no fault: nobody is left to
   * answer, so it is not logged either.
   */
  #handlerFailed(request: Request, res: RawResponse, err: unknown, context: RouteContext): void {
    const aborted = res.destroyed && err instanceof Error && err.name === "AbortError";
    this.#responder.send(request, res, aborted ? Response.noContent() : errorToResponse(err, this.#logger, context.where), context);
  }

  #noRoute(method: string, path: string): Response {
    const allowed = this.#router.allowedMethods(path);
    if (allowed.length === 0) return errorToResponse(HttpError.fromCode("CELLO_NOT_FOUND", `${method} ${path}`), this.#logger, "router");
    if (method === "OPTIONS") {
      // Automatic OPTIONS: say what the path answers to.
      return Response.noContent({ headers: { Allow: allowed.join(", ") } });
    }
    return errorToResponse(
      HttpError.fromCode("CELLO_METHOD_NOT_ALLOWED", `${method} ${path}`, { headers: { Allow: allowed.join(", ") } }),
      this.#logger,
      "router",
    );
  }

  #fail(request: Request, res: RawResponse, err: unknown): void {
    this.#responder.send(request, res, errorToResponse(err, this.#logger, `${request.method} ${request.path}`), undefined);
  }
}
