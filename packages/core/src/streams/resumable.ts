/**
 * Resumable streams: a stream whose producer outlives its client. Each stream
 * gets an unguessable id; what the producer yields goes to a per-stream channel
 * of the app's broker (memory in one process, Redis across instances), and any
 * client of the stream's owner reads it from there: the first response, a
 * resume after a dropped connection (`Last-Event-ID`) on any instance, a page
 * reload that reads it from the start.
 *
 * Per stream the broker holds three channels, named with a control character
 * so that no request can name them (channel names from requests refuse control
 * characters, see channels/access.ts) and no `app.subscribe()` pattern matches
 * them: the events (`data`), the owner record and the end mark (`meta`), and
 * the control messages between instances (`ctl`: a reader attached or detached,
 * a stop). The instance that runs the producer listens to `ctl`: a stop sent to
 * any instance cancels it, and it counts the readers attached anywhere to know
 * when the grace after the last one left has run out.
 *
 * The reading side (the SSE source) is stream-reader.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import type { App } from "../app.js";
import type { ChannelBroker, PublishedMessage } from "../channels/broker.js";
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import { Response } from "../response.js";
import { SseEvent } from "../sse/event.js";
import { checkSseOptions, type SseOptions } from "../sse/options.js";
import { END_EVENT, readStream, type StreamNames } from "./stream-reader.js";

/** Why a resumable stream ended: the data of its final `end` event is `{"reason": ...}`. */
export type StreamEndReason = "done" | "stopped" | "cancelled" | "error" | "shutdown";

/**
 * Options of {@link ResumableStreams}.
 *
 * @example
 * new ResumableStreams(app, { graceMs: 30_000, history: 10_000, ttlMs: 300_000 });
 */
export interface ResumableStreamsOptions {
  /**
   * How long a producer keeps running once no client reads its stream (on any
   * instance); a client that resumes within it stops the clock. When it runs out
   * the producer's signal aborts and the stream ends with reason `"cancelled"`.
   * Default 30000; 0 cancels as soon as the last reader leaves.
   */
  graceMs?: number;
  /** Most events one stream holds for resuming: a longer stream loses its oldest. Default 10000. */
  history?: number;
  /**
   * How long a finished stream can still be read (a reload after the answer was complete),
   * in ms after its end; afterwards it is deleted and answers 404. Default 300000 (5 minutes).
   */
  ttlMs?: number;
  /**
   * The owner key of a request: only requests with the same key may read or stop the
   * stream (another gets 404, never an event). Derive it from what the request proved
   * (its guards' principal, a session), never from what it merely asks for.
   * Default: `request.principal.id` (or `.sub`) when a guard set a principal; without one
   * the stream is anyone's who holds its id (128 random bits).
   * @example
   * owner: (req) => req.principal?.tenant + ":" + req.principal?.id
   */
  owner?: (request: Request) => string | undefined;
  /** Streaming options of the responses (heartbeat, retry, ...), as a route's `sse`. */
  sse?: SseOptions;
}

/**
 * What makes a stream's events: called once with a signal that aborts when the
 * stream is stopped, its grace runs out or the app shuts down. Each yielded
 * value is one event: a string as its data, an {@link SseEvent} (its `event`
 * and `data`; the id is assigned by the stream), anything else as JSON.
 * `null`/`undefined` are skipped. The event type `end` is reserved for the
 * stream's final event.
 */
export type StreamProducer = (signal: AbortSignal) => AsyncIterable<unknown> | Iterable<unknown>;

/** The response header that carries a new stream's id. */
export const STREAM_ID_HEADER = "Cello-Stream-Id";

const STREAM_ID = /^[A-Za-z0-9_-]{22}$/;
/** A broker id: memory (`7`) or Redis Streams (`1732912345678-0`). */
const BROKER_ID = /^\d{1,20}(?:-\d{1,20})?$/;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long `app.close()` waits for this instance's producers to publish their `end`. */
const SHUTDOWN_WAIT_MS = 2000;

/** The owner record, first event of the `meta` channel. */
interface OwnerRecord {
  owner: string;
}

/** A producer running on this instance. */
interface RunningStream {
  readonly controller: AbortController;
  /** Why it was cancelled, once it was. */
  reason: StreamEndReason | undefined;
  /** Readers attached on every instance (from `ctl` messages). */
  readers: number;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
  stopControl: () => void;
  /** Resolves once its `end` was published (or failed to be). */
  ended: Promise<void>;
}

/**
 * A family of resumable streams on one app (one per kind of stream: a chat, a
 * report). Start streams from a route, then give clients a way back:
 * `Last-Event-ID` on the same route, and/or a resume URL and a stop URL.
 *
 * @example
 * const chats = new ResumableStreams(app, { graceMs: 30_000 });
 * app.post("/chat", async (req) => {
 *   const { prompt } = (await req.json()) as { prompt: string };
 *   return chats.start(req, (signal) => model.stream(prompt, signal));
 * }, { guards: [auth] });
 * app.get("/chat/streams/{id}", (req) => chats.resume(req, req.params.id!), { guards: [auth] });
 * app.delete("/chat/streams/{id}", async (req) => {
 *   await chats.stop(req, req.params.id!);
 *   return Response.noContent();
 * }, { guards: [auth] });
 */
export class ResumableStreams {
  readonly #broker: ChannelBroker;
  readonly #app: App;
  readonly #graceMs: number;
  readonly #history: number;
  readonly #ttlMs: number;
  readonly #owner: (request: Request) => string | undefined;
  readonly #sse: SseOptions | undefined;
  readonly #running = new Map<string, RunningStream>();
  readonly #expiries = new Set<ReturnType<typeof setTimeout>>();

  /**
   * @param app - The app whose broker holds the streams (`new App({ broker: redisBroker() })` spans instances).
   * @param options - See {@link ResumableStreamsOptions}.
   * @throws CelloError `CELLO_INVALID_OPTION` for an option out of range.
   */
  constructor(app: App, options: ResumableStreamsOptions = {}) {
    this.#app = app;
    this.#broker = app.broker;
    this.#graceMs = checkMs("graceMs", options.graceMs, 30_000);
    this.#ttlMs = checkMs("ttlMs", options.ttlMs, 300_000);
    const history = options.history ?? 10_000;
    if (!Number.isSafeInteger(history) || history < 1) throw new CelloError("CELLO_INVALID_OPTION", `resumable history must be a whole number >= 1, got ${String(history)}`);
    this.#history = history;
    if (options.owner !== undefined && typeof options.owner !== "function") throw new CelloError("CELLO_INVALID_OPTION", "resumable owner must be a function (request) => string | undefined");
    this.#owner = options.owner ?? principalOwner;
    if (options.sse !== undefined) checkSseOptions(options.sse);
    this.#sse = options.sse;
    // Producers of this instance end with it; the deletion timers are dropped (another instance may still serve the streams).
    // Awaited by close() while the broker is still open, so each stream's `end` is published.
    app.onEvent("draining", async () => {
      const ending = [...this.#running.values()].map((stream) => (cancel(stream, "shutdown"), stream.ended));
      await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_WAIT_MS).unref())]);
      for (const timer of this.#expiries) clearTimeout(timer);
      this.#expiries.clear();
    });
  }

  /** Producers running on this instance. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Start a stream: run `producer` in the background and answer with its events
   * (header `Cello-Stream-Id`, events with ids `<streamId>.<n>`, a final `end`
   * event `{"reason": "done" | "stopped" | "cancelled" | "error" | "shutdown"}`).
   *
   * A request that carries a `Last-Event-ID` of one of these streams (a fetch
   * client that reconnects to the same POST) resumes that stream instead, as
   * {@link ResumableStreams.resume} does, and `producer` is not called.
   *
   * @param request - The request that starts the stream; its owner key owns it.
   * @param producer - Makes the events; see {@link StreamProducer}.
   * @example
   * app.post("/report", (req) => reports.start(req, (signal) => buildReport(signal)));
   */
  async start(request: Request, producer: StreamProducer): Promise<Response> {
    if (typeof producer !== "function") throw new CelloError("CELLO_INVALID_OPTION", "start(request, producer): producer must be a function (signal) => AsyncIterable");
    const lastEventId = request.getHeader("last-event-id");
    if (lastEventId !== undefined && lastEventId !== "") {
      const dot = lastEventId.indexOf(".");
      if (dot < 0) throw HttpError.fromCode("CELLO_INVALID_LAST_EVENT_ID");
      return this.resume(request, lastEventId.slice(0, dot));
    }
    const owner = ownerHash(this.#owner(request));
    const streamId = randomBytes(16).toString("base64url");
    const names = streamNames(streamId);
    this.#broker.configure(names.data, { history: this.#history + 1, ttlMs: 0 });
    this.#broker.configure(names.meta, { history: 2, ttlMs: 0 });
    this.#broker.configure(names.ctl, { history: 1, ttlMs: 0 });
    const record: OwnerRecord = { owner };
    await this.#broker.publish(names.meta, { data: JSON.stringify(record) });
    this.#run(streamId, names, producer);
    const response = Response.sse(this.#read(streamId, names, "", request), this.#sse ?? {});
    response.setHeader(STREAM_ID_HEADER, streamId);
    return response;
  }

  /**
   * Read a stream again: after the request's `Last-Event-ID` (or `?lastEventId=`),
   * else from its first event, up to its `end` event, on whichever instance.
   *
   * Answers 404 `CELLO_STREAM_NOT_FOUND` for an id that is malformed, unknown, expired,
   * or owned by someone else (the same answer: nothing tells them apart); 400
   * `CELLO_INVALID_LAST_EVENT_ID` for a `Last-Event-ID` of another stream or one
   * that is not an id; 410 `CELLO_STREAM_GONE` when the events after it are no
   * longer held (read from the start: when the stream outgrew its `history`); 204 when the client already has the whole stream (EventSource stops).
   *
   * @param request - The resuming request (checked against the stream's owner).
   * @param streamId - The id from the `Cello-Stream-Id` header or an event id.
   * @example
   * app.get("/chat/streams/{id}", (req) => chats.resume(req, req.params.id!));
   */
  async resume(request: Request, streamId: string): Promise<Response> {
    const names = await this.#authorize(request, streamId);
    const lastEventId = request.getHeader("last-event-id") || (typeof request.query.lastEventId === "string" ? request.query.lastEventId : "");
    let after = "";
    if (lastEventId !== "") {
      const dot = lastEventId.indexOf(".");
      if (lastEventId.slice(0, dot) !== streamId) throw HttpError.fromCode("CELLO_INVALID_LAST_EVENT_ID", "it names another stream");
      after = lastEventId.slice(dot + 1);
      if (!BROKER_ID.test(after)) throw HttpError.fromCode("CELLO_INVALID_LAST_EVENT_ID");
    }
    // Checked before the head, so the client gets a status: 410 for a gap (from the start too: a
    // stream longer than its history has lost its first events), 204 for nothing left.
    const next = await this.#broker.replay(names.data, after, { limit: 1 });
    if (next.reset) throw HttpError.fromCode("CELLO_STREAM_GONE");
    if (next.events.length === 0 && after !== "" && (await this.#ended(names))) return Response.noContent();
    return Response.sse(this.#read(streamId, names, after, request), this.#sse ?? {});
  }

  /** A reader of the stream, counted by its producer while it reads (directly on this instance, else through `ctl`). */
  #read(streamId: string, names: StreamNames, after: string, request: Request): AsyncGenerator<SseEvent> {
    const tell = (what: "attach" | "detach") => {
      const local = this.#running.get(streamId);
      if (local !== undefined) this.#count(local, what);
      else this.#broker.publish(names.ctl, { data: what }).catch((err: unknown) => this.#app.logger.error("resumable stream: could not reach its producer", err));
    };
    return readStream(this.#broker, streamId, names, after, request.signal, tell);
  }

  /** A reader attached or detached: the grace runs while none reads. */
  #count(stream: RunningStream, what: "attach" | "detach"): void {
    if (what === "attach") {
      stream.readers++;
      clearTimeout(stream.graceTimer);
      stream.graceTimer = undefined;
    } else {
      stream.readers = Math.max(0, stream.readers - 1);
      if (stream.readers === 0) this.#armGrace(stream);
    }
  }

  /**
   * Stop a stream, wherever its producer runs: its signal aborts and its readers
   * get the `end` event `{"reason": "stopped"}`. Stopping a stream that already
   * ended does nothing. Refuses like {@link ResumableStreams.resume} (404).
   *
   * @param request - The request asking (checked against the stream's owner).
   * @param streamId - The stream to stop.
   * @example
   * app.delete("/chat/streams/{id}", async (req) => {
   *   await chats.stop(req, req.params.id!);
   *   return Response.noContent();
   * });
   */
  async stop(request: Request, streamId: string): Promise<void> {
    const names = await this.#authorize(request, streamId);
    const local = this.#running.get(streamId);
    if (local !== undefined) cancel(local, "stopped");
    else if (!(await this.#ended(names))) await this.#broker.publish(names.ctl, { data: "stop" });
  }

  /** The stream's channel names once the request is its owner's; else 404. */
  async #authorize(request: Request, streamId: string): Promise<StreamNames> {
    if (typeof streamId !== "string" || !STREAM_ID.test(streamId)) throw HttpError.fromCode("CELLO_STREAM_NOT_FOUND");
    const names = streamNames(streamId);
    const meta = await this.#broker.replay(names.meta, "", { limit: 2 });
    const first = meta.events[0];
    if (meta.reset || first === undefined) throw HttpError.fromCode("CELLO_STREAM_NOT_FOUND");
    const { owner } = JSON.parse(first.data) as OwnerRecord;
    if (owner !== "" && owner !== ownerHash(this.#owner(request))) throw HttpError.fromCode("CELLO_STREAM_NOT_FOUND");
    // Past its time even when the instance that would have deleted it is gone.
    const end = meta.events[1];
    if (end !== undefined && Date.now() - Number(end.data) > this.#ttlMs) throw HttpError.fromCode("CELLO_STREAM_NOT_FOUND");
    return names;
  }

  async #ended(names: StreamNames): Promise<boolean> {
    const meta = await this.#broker.replay(names.meta, "", { limit: 2 });
    return meta.events.length > 1;
  }

  /** Run the producer in the background, publishing each event; publish the end, then schedule the deletion. */
  #run(streamId: string, names: StreamNames, producer: StreamProducer): void {
    const controller = new AbortController();
    const stream: RunningStream = { controller, reason: undefined, readers: 0, graceTimer: undefined, stopControl: () => {}, ended: Promise.resolve() };
    this.#running.set(streamId, stream);
    stream.stopControl = this.#broker.subscribe(names.ctl, (message) => {
      if (message.data === "stop") cancel(stream, "stopped");
      else if (message.data === "attach" || message.data === "detach") this.#count(stream, message.data);
    });
    // Nobody reads yet: the first response attaches at once, unless its client is already gone.
    this.#armGrace(stream);
    stream.ended = this.#produce(names, producer, stream).then(async (reason) => {
      clearTimeout(stream.graceTimer);
      stream.stopControl();
      this.#running.delete(streamId);
      try {
        await this.#broker.publish(names.data, { event: END_EVENT, data: JSON.stringify({ reason }) });
        await this.#broker.publish(names.meta, { data: String(Date.now()) });
      } catch (err) {
        this.#app.logger.error("resumable stream: could not publish its end", err);
      }
      const timer = setTimeout(() => {
        this.#expiries.delete(timer);
        for (const name of [names.data, names.meta, names.ctl]) {
          this.#broker.delete?.(name).catch((err: unknown) => this.#app.logger.error("resumable stream: could not delete an expired stream", err));
        }
      }, this.#ttlMs);
      timer.unref();
      this.#expiries.add(timer);
    });
  }

  #armGrace(stream: RunningStream): void {
    clearTimeout(stream.graceTimer);
    stream.graceTimer = setTimeout(() => cancel(stream, "cancelled"), this.#graceMs);
    stream.graceTimer.unref();
  }

  /** Pull the producer until it ends or the signal aborts; resolves with why it ended. */
  async #produce(names: StreamNames, producer: StreamProducer, stream: RunningStream): Promise<StreamEndReason> {
    const signal = stream.controller.signal;
    const aborted = new Promise<"aborted">((resolve) => {
      if (signal.aborted) resolve("aborted");
      else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
    });
    const reason = (): StreamEndReason => stream.reason ?? "cancelled";
    let iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
    try {
      const source = producer(signal);
      iterator = Symbol.asyncIterator in Object(source) ? (source as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (source as Iterable<unknown>)[Symbol.iterator]();
      for (;;) {
        // Raced against the abort: a producer stuck in an await that ignores its signal still ends the stream now.
        const result = await Promise.race([iterator.next(), aborted]);
        if (result === "aborted") break;
        if (result.done) return "done";
        const message = toMessage(result.value);
        if (message !== undefined) await this.#broker.publish(names.data, message);
        if (signal.aborted) break;
      }
    } catch (err) {
      if (signal.aborted) return reason();
      this.#app.logger.error("resumable stream: the producer failed", err);
      return "error";
    }
    // Its `finally` runs (the fake model's cancel, an upstream fetch's abort), without holding up the end.
    if (typeof iterator?.return === "function") void Promise.resolve(iterator.return(undefined)).catch(() => {});
    return reason();
  }
}

/** Abort a producer's signal (an AbortError, as fetch expects), remembering the first reason. */
function cancel(stream: RunningStream, reason: StreamEndReason): void {
  stream.reason ??= reason;
  stream.controller.abort(new DOMException(`resumable stream ${reason}`, "AbortError"));
}

/** Channel names of one stream: a control character keeps them out of every request's reach. */
function streamNames(streamId: string): StreamNames {
  const base = `\u001fcello.stream:${streamId}`;
  return { data: base, meta: `${base}:meta`, ctl: `${base}:ctl` };
}

/** The default owner key: the principal's `id` (or `sub`). */
function principalOwner(request: Request): string | undefined {
  const principal = request.principal as { id?: unknown; sub?: unknown } | undefined;
  if (principal === undefined || principal === null) return undefined;
  const key = principal.id ?? principal.sub;
  if (typeof key === "string" || typeof key === "number") return String(key);
  throw new CelloError("CELLO_INVALID_OPTION", "resumable streams: the principal has no string `id` or `sub`; pass an `owner` function");
}

/** What the broker keeps of an owner key: a hash (the key itself may be an e-mail). "" for none. */
function ownerHash(key: string | undefined): string {
  if (key === undefined) return "";
  if (typeof key !== "string") throw new CelloError("CELLO_INVALID_OPTION", "resumable owner must return a string or undefined");
  return createHash("sha256").update(key).digest("base64url");
}

function checkMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || Number.isNaN(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new CelloError("CELLO_INVALID_OPTION", `resumable ${name} must be a number of ms from 0 to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}

/** One yielded value as the event the broker keeps. */
function toMessage(item: unknown): PublishedMessage | undefined {
  if (item === undefined || item === null) return undefined;
  if (typeof item === "string") return { data: item };
  if (item instanceof SseEvent) {
    if (item.isComment) return undefined;
    if (item.event === END_EVENT) throw new CelloError("CELLO_INVALID_SSE_FIELD", `the event type "${END_EVENT}" is reserved for a resumable stream's final event`);
    return item.event === undefined ? { data: item.data } : { event: item.event, data: item.data };
  }
  const text = JSON.stringify(item);
  if (text === undefined) throw new CelloError("CELLO_INVALID_SSE_FIELD", `a resumable stream event must be a string, an SseEvent or have a JSON form, got ${typeof item}`);
  return { data: text };
}
