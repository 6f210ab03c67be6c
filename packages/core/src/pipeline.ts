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
import type { HookRegistry, Hooks } from "./hooks.js";
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
      this.#runHooks(this.#hooks.onRequest, 0, request, res, undefined);
      return;
    }
    this.#route(request, res);
  };

  /**
   * Run `hooks` from index `from` (onRequest hooks when `context` is undefined, else the
   * route's onRouted hooks), then route the request or call the handler. A hook that
   * returns a Response answers at once; one that throws or rejects is the request's error.
   * A hook that returns nothing synchronously costs no promise: only a hook that returns
   * a promise makes the rest wait for it (a plain route with a memory rate limit answers
   * within the tick it was read in).
   */
  #runHooks(hooks: ReadonlyArray<Hooks["onRequest"]>, from: number, request: Request, res: RawResponse, context: RouteContext | undefined): void {
    for (let i = from; i < hooks.length; i++) {
      let early: Response | void | PromiseLike<Response | void>;
      try {
        early = hooks[i]!(request);
      } catch (err) {
        this.#fail(request, res, err);
        return;
      }
      if (early instanceof Response) {
        this.#responder.send(request, res, early, context);
        return;
      }
      if (isThenable(early)) {
        Promise.resolve(early).then(
          (resolved) => {
            if (resolved instanceof Response) this.#responder.send(request, res, resolved, context);
            else this.#runHooks(hooks, i + 1, request, res, context);
          },
          (err: unknown) => this.#fail(request, res, err),
        );
        return;
      }
    }
    if (context === undefined) this.#route(request, res);
    else this.#handle(request, res, context);
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
      this.#runHooks(this.#hooks.onRouted, 0, request, res, context);
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

/** Whether a hook's result is a promise (or another thenable) to wait for. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}
