/**
 * The public hook API: the only way plugins (CORS, logging, yours) take part
 * in a request. Hooks run in the order they were added.
 */
import { describeValue } from "./describe.js";
import { CelloError } from "./errors.js";
import type { Request } from "./request.js";
import type { Response } from "./response.js";
import type { SseStreamInfo } from "./sse/report.js";

/** What {@link Hooks.onFinish} is told about a completed non-streaming response. */
export interface FinishInfo {
  status: number;
}

/** Every hook a plugin can add with `app.addHook(name, fn)`. */
export interface Hooks {
  /**
   * Before routing. Return a Response to answer at once (a CORS preflight, an
   * auth check); return nothing to go on. May be async.
   */
  onRequest: (request: Request) => Response | void | Promise<Response | void>;
  /**
   * After routing found a route, before its handler: `request.route` and `request.params`
   * are set. Return a Response to answer instead of the handler (a rate limit, a guard);
   * return nothing to go on. May be async. Not run for requests no route answers.
   */
  onRouted: (request: Request) => Response | void | Promise<Response | void>;
  /**
   * Before the head is written, for every response (streams too). Mutate headers here.
   * Throw an HttpError to answer with it instead (an SSE source is then cancelled before
   * any byte of it is written); the other onResponse hooks still run on that answer.
   */
  onResponse: (request: Request, response: Response) => void;
  /** After a non-streaming response was handed to the socket. */
  onFinish: (request: Request, info: FinishInfo) => void;
  /** When an SSE stream opens (after its head was written). */
  onStreamOpen: (request: Request, response: Response) => void;
  /** When an SSE stream closes, with what it sent and why it closed. */
  onStreamClose: (request: Request, info: SseStreamInfo) => void;
}

/** A hook name. */
export type HookName = keyof Hooks;

/** Every hook name, in the order of a request's life (the Record makes TypeScript check that none is missing). */
const HOOK_NAMES = Object.keys({ onRequest: true, onRouted: true, onResponse: true, onFinish: true, onStreamOpen: true, onStreamClose: true } satisfies Record<HookName, true>) as readonly HookName[];

/**
 * Hook arrays of one app, read on the hot path. Not exported from the package's
 * index (apps add hooks with `app.addHook`), and not tagged internal either: a
 * declaration that the published App class mentions must stay in its .d.ts.
 */
export class HookRegistry {
  readonly onRequest: Array<Hooks["onRequest"]> = [];
  readonly onRouted: Array<Hooks["onRouted"]> = [];
  readonly onResponse: Array<Hooks["onResponse"]> = [];
  readonly onFinish: Array<Hooks["onFinish"]> = [];
  readonly onStreamOpen: Array<Hooks["onStreamOpen"]> = [];
  readonly onStreamClose: Array<Hooks["onStreamClose"]> = [];

  /**
   * Add `fn` to hook `name`.
   * @throws CelloError `CELLO_INVALID_OPTION` for a name that is not a hook, or an `fn` that is not a function.
   */
  add<K extends HookName>(name: K, fn: Hooks[K]): void {
    if (!HOOK_NAMES.includes(name)) {
      const near = HOOK_NAMES.find((hook) => hook.toLowerCase() === String(name).toLowerCase());
      throw new CelloError(
        "CELLO_INVALID_OPTION",
        `app.addHook(${describeValue(name)}, fn): no such hook${near ? ` (did you mean "${near}"?)` : ""}; the hooks are ${HOOK_NAMES.join(", ")}`,
      );
    }
    if (typeof fn !== "function") {
      throw new CelloError("CELLO_INVALID_OPTION", `app.addHook("${name}", fn): fn must be a function, got ${describeValue(fn)}`);
    }
    (this[name] as Array<Hooks[K]>).push(fn);
  }
}
