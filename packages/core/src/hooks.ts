/**
 * The public hook API: the only way plugins (CORS, logging, yours) take part
 * in a request. Hooks run in the order they were added.
 */
import type { Request } from "./request.js";
import type { Response } from "./response.js";
import type { SseStreamInfo } from "./sse/engine.js";

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
  /** Before the head is written, for every response (streams too). Mutate headers here. */
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

/**
 * Hook arrays of one app, read on the hot path. Not exported from the package's
 * index (apps add hooks with `app.addHook`), and not tagged internal either: a
 * declaration that the published App class mentions must stay in its .d.ts.
 */
export class HookRegistry {
  readonly onRequest: Array<Hooks["onRequest"]> = [];
  readonly onResponse: Array<Hooks["onResponse"]> = [];
  readonly onFinish: Array<Hooks["onFinish"]> = [];
  readonly onStreamOpen: Array<Hooks["onStreamOpen"]> = [];
  readonly onStreamClose: Array<Hooks["onStreamClose"]> = [];

  add<K extends HookName>(name: K, fn: Hooks[K]): void {
    const list = this[name] as unknown as Array<Hooks[K]> | undefined;
    if (!Array.isArray(list) || typeof fn !== "function") throw new TypeError(`Unknown hook ${String(name)} or not a function`);
    list.push(fn);
  }
}
