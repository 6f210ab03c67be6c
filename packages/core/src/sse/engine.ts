/**
 * The SSE engine: the only code that writes to a streaming socket. It owns
 * coalescing, backpressure, slow-client policy, heartbeats, cancellation of
 * producers and graceful shutdown, for every producer style at once.
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { Logger } from "../logger.js";
import { asHttpChunk, directSocket, servedResponse, type ServingSocket } from "./direct-write.js";
import { SseEvent, formatSseComment, formatSseRetry } from "./event.js";
import { HeartbeatSweeper } from "./heartbeat.js";
import { pump } from "./pump.js";
import type { ResolvedSseOptions, SseShutdownOptions } from "./options.js";
import type { SseCloseReason, SseStreamInfo, StreamClosedCallback, StreamOwner } from "./report.js";
import { isAttachable, kAttach, kDetach, type AttachableSource, type SseSink, type SseSource } from "./source.js";

/** The subset of node:http / node:http2 responses the engine uses. */
type RawResponse = ServerResponse | Http2ServerResponse;

// A pull producer's frames are written inline once this much is queued, so a
// producer that never yields to the event loop still meets socket backpressure.
const INLINE_FLUSH_BYTES = 16 * 1024;
// How long a producer may take to finish (its `finally`) after its client left
// before the connection is settled without it: onStreamClose runs and `done`
// resolves. A producer awaiting something that never settles is abandoned.
const PRODUCER_ABANDON_MS = 1000;
const OPEN_FRAME = formatSseComment("ok");
const COLON = 0x3a;
const HEARTBEAT_FRAME = ":\n\n";

/** The frames one flush pass has already joined, so identical queues share one encoded chunk. */
interface FlushCache {
  frames: string[] | undefined;
  chunk: string;
  /** `chunk` encoded once, for every further client that queued the same frames. */
  bytes: Buffer | undefined;
  /** `chunk` encoded once as an HTTP/1.1 chunk, for clients written to directly. */
  framed: Buffer | undefined;
  /** One clock reading for the whole pass (it stamps every client's last write). */
  now: number;
}

const kConnection = Symbol("cello.sse.connection");
type TaggedResponse = ServerResponse & { [kConnection]?: SseConnection };

/**
 * One open SSE response. Frames are queued and written once per event-loop
 * turn (coalescing: the cost that dominates fan-out is one socket write per
 * client, so N frames of one tick go out as one write).
 *
 * `bufferLimit` judges the client, not the producer. What one turn queues for
 * a socket that takes more is written whole at the end of the turn, however
 * large (a burst, one big event): the socket holds it and a client that reads
 * drains it. Only frames queued behind a socket that refused more (it has not
 * drained since) count. When they pass the limit the connection is judged one
 * full turn later, after a poll phase in which the client could read and the
 * socket drain; still over then, the overflow policy applies. A client that
 * never reads holds at most the write its socket refused plus about
 * `bufferLimit`; `writeTimeoutMs` closes one whose socket never drains at all.
 *
 * Kept small on purpose: an idle connection holds no timer, closure or promise
 * of its own (shared handlers find it through a symbol on the response).
 */
export class SseConnection implements SseSink {
  readonly options: ResolvedSseOptions;
  readonly openedAt = Date.now();
  eventsSent = 0;
  eventsDropped = 0;
  closed = false;

  readonly #engine: SseEngine;
  // Typed as the HTTP/1 response: node:http2's compatibility response has the same write/end/drain surface.
  readonly #res: TaggedResponse;
  /** Set once the head is out, when frames can go straight to the socket (see direct-write.ts). */
  #socket: ServingSocket | undefined;
  #pending: string[] | undefined;
  #pendingBytes = 0;
  #pendingEvents = 0;
  #waitingDrain = false;
  /** Past `bufferLimit` behind a refusing socket: the engine judges it a turn later. */
  #onTrial = false;
  #ending = false;
  #endReason: "end" | "error" = "end";
  #lastWriteAt = Date.now();
  #writeTimer: NodeJS.Timeout | undefined;
  #writableWaiters: Array<() => void> | undefined;
  #closeWaiters: Array<(reason: SseCloseReason) => void> | undefined;
  /** A pull producer is running (its `finally` has not finished yet). */
  #producerRunning = false;
  /** The response emitted "close": everything written reached the kernel, or the socket is gone. */
  #responseClosed = false;
  #releaseWaiters: Array<() => void> | undefined;
  #abandonTimer: NodeJS.Timeout | undefined;
  #info: SseStreamInfo | undefined;
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;
  #finished = false;
  #owner: StreamOwner | undefined;
  #attached: AttachableSource | undefined;
  #logger: Logger | undefined;

  constructor(engine: SseEngine, res: RawResponse, options: ResolvedSseOptions) {
    this.#engine = engine;
    this.#res = res as TaggedResponse;
    this.options = options;
    this.#res[kConnection] = this;
    // Listen before anything is written, so a client that leaves from now on is seen.
    res.on("close", SseConnection.#onResClose);
    res.on("error", SseConnection.#onResError);
  }

  static #onResClose(this: TaggedResponse): void {
    const connection = this[kConnection];
    if (!connection) return;
    connection.#responseClosed = true;
    // "close" after our own end() is the normal path; before it, the client left.
    if (!connection.closed) connection.#close("client");
    connection.#checkReleased();
  }

  static #onResError(this: TaggedResponse): void {
    const connection = this[kConnection];
    if (connection && !connection.closed) connection.#close("client");
  }

  static #onDrain(this: TaggedResponse): void {
    const connection = this[kConnection];
    if (connection) connection.#drained();
  }

  // The socket's response is ours while the stream is open: no tag on the socket itself.
  static #onSocketDrain(this: ServingSocket): void {
    const connection = (servedResponse(this) as TaggedResponse | null | undefined)?.[kConnection];
    if (connection) connection.#drained();
  }

  /**
   * Settles once the connection is closed and its producer has finished (its
   * `finally` ran), or was abandoned: 1 s after its client left, or when the
   * shutdown grace ran out.
   */
  get done(): Promise<void> {
    if (this.#finished) return Promise.resolve();
    this.#done ??= new Promise((resolve) => (this.#resolveDone = resolve));
    return this.#done;
  }

  /** This connection's `bufferLimit` (for sources that send in pages). */
  get bufferLimit(): number {
    return this.options.bufferLimit;
  }

  /** Bytes waiting for this client: queued by the engine plus buffered in the socket. */
  get bufferedBytes(): number {
    return this.#pendingBytes + (this.#res.writableLength ?? 0);
  }

  /** Queue a frame for this client (a frame starting with `:` is a comment, not counted as an event). Returns false once closed (never throws). */
  send(frame: string, byteLength = Buffer.byteLength(frame)): boolean {
    if (this.closed || this.#ending) return false;
    const pending = (this.#pending ??= []);
    pending.push(frame);
    this.#pendingBytes += byteLength;
    if (frame.charCodeAt(0) !== COLON) this.#pendingEvents++;
    if (!this.#waitingDrain) {
      // The socket takes more: whatever this turn queues goes out at its end.
      if (pending.length === 1) this.#engine.markDirty(this);
    } else if (this.#pendingBytes > this.options.bufferLimit && !this.#onTrial) {
      // Behind a socket that refused more. Judged a turn from now, once the client had the chance to read.
      this.#onTrial = true;
      this.#engine.putOnTrial(this);
    }
    return true;
  }

  /** End the response after the queued frames (the producer finished, or failed with `"error"`). */
  end(reason: "end" | "error" = "end"): void {
    if (this.closed || this.#ending) return;
    this.#ending = true;
    this.#endReason = reason;
    this.flush();
    if (!this.#waitingDrain) this.#finish(reason);
    // else: the drain handler finishes once the queue is written.
  }

  /** Write everything queued now, in one write. `cache` lets a flush pass share one chunk between identical queues. */
  flush(cache?: FlushCache): void {
    const frames = this.#pending;
    if (this.closed || this.#waitingDrain || frames === undefined) return;
    const direct = this.#socket !== undefined;
    let out: string | Buffer;
    if (cache !== undefined && cache.frames !== undefined && sameFrames(cache.frames, frames)) {
      // Fan-out: the same frames as the previous client. Encode once, then reuse the bytes.
      out = direct ? (cache.framed ??= Buffer.from(asHttpChunk(cache.chunk))) : (cache.bytes ??= Buffer.from(cache.chunk));
    } else {
      const chunk = frames.length === 1 ? frames[0]! : frames.join("");
      if (cache !== undefined) {
        cache.frames = frames;
        cache.chunk = chunk;
        cache.bytes = cache.framed = undefined;
      }
      out = direct ? asHttpChunk(chunk) : chunk;
    }
    this.eventsSent += this.#pendingEvents;
    this.#pending = undefined;
    this.#pendingBytes = 0;
    this.#pendingEvents = 0;
    this.#writeOut(out, cache?.now ?? Date.now());
    if (!this.#waitingDrain && this.#writableWaiters !== undefined) this.#notifyWritable();
  }

  /**
   * Resolves once everything queued has been handed to the socket and it takes
   * more (at once when closed). Pull producers and replay pages wait here, so
   * they go only as fast as the client reads.
   */
  writable(): Promise<void> {
    if (this.closed || (!this.#waitingDrain && this.#pending === undefined)) return Promise.resolve();
    return new Promise((resolve) => (this.#writableWaiters ??= []).push(resolve));
  }

  /** Resolves with the reason once the connection closes. */
  whenClosed(): Promise<SseCloseReason> {
    return new Promise((resolve) => (this.#closeWaiters ??= []).push(resolve));
  }

  /** True while the socket refuses more until it drains. */
  get waitingDrain(): boolean {
    return this.#waitingDrain;
  }

  /** Whether pull producers should wait before producing more (see pump.ts). */
  get backpressured(): boolean {
    return this.#waitingDrain || this.#pendingBytes >= INLINE_FLUSH_BYTES;
  }

  /** @internal Start writing: head, opening comment, retry hint, then the producer. */
  open(status: number, headers: Record<string, string | string[]>, source: SseSource, logger: Logger, owner: StreamOwner): void {
    const res = this.#res;
    this.#logger = logger;
    this.#owner = owner;
    const attachable = isAttachable(source) ? source : undefined;
    if (res.destroyed || !res.socket || res.socket.destroyed) {
      // The client left while the handler was still running.
      if (attachable) this.#attached = attachable;
      this.#close("client");
      return;
    }
    res.writeHead(status, headers);
    let first = OPEN_FRAME;
    if (this.options.retry !== undefined) first += formatSseRetry(this.options.retry);
    // Head and first comment in one write: EventSource fires `open` and proxies pass the stream at once.
    this.#write(first);
    this.#socket = directSocket(res);
    if (this.options.heartbeatMs > 0) this.#engine.heartbeats.add(this, this.options.heartbeatMs);
    if (attachable) {
      this.#attached = attachable;
      attachable[kAttach](this);
    } else {
      this.#producerRunning = true;
      const finished = () => this.#producerFinished();
      pump(this, source as AsyncIterable<unknown> | Iterable<unknown>, logger).then(finished, finished);
    }
  }

  /** Close with a final frame and end (graceful shutdown). */
  shutdown(finalFrame: string): void {
    if (this.closed) return;
    (this.#pending ??= []).push(finalFrame);
    this.#pendingBytes += Buffer.byteLength(finalFrame);
    this.#waitingDrain = false;
    this.flush();
    this.#finish("shutdown");
  }

  /** Destroy the socket at once (slow client). */
  destroy(reason: SseCloseReason): void {
    if (this.closed) return;
    this.#close(reason);
    this.#res.destroy();
  }

  /**
   * @internal Resolves once the producer has finished and the response has
   * closed: every byte reached the kernel, or the socket is gone (shutdown waits here).
   */
  whenReleased(): Promise<void> {
    if (this.#released()) return Promise.resolve();
    return new Promise((resolve) => (this.#releaseWaiters ??= []).push(resolve));
  }

  /**
   * @internal The shutdown grace is over: destroy the socket of a client that
   * has not read everything yet, and stop waiting for the producer.
   */
  abandon(): void {
    if (!this.closed) this.#close("shutdown");
    if (!this.#responseClosed && !this.#res.destroyed) this.#res.destroy();
    this.#settle();
  }

  /** @internal The engine's verdict, a full turn after this connection went past its limit. */
  judge(): void {
    this.#onTrial = false;
    // Drained meanwhile (the queue went out), or closed: the client reads, nothing to do.
    if (this.closed || !this.#waitingDrain || this.#pendingBytes <= this.options.bufferLimit) return;
    if (this.options.overflow === "drop-oldest") this.#dropOldest();
    else this.destroy("overflow");
  }

  /** @internal Called by the heartbeat sweep. */
  heartbeatDue(now: number): void {
    if (this.closed || now - this.#lastWriteAt < this.options.heartbeatMs) return;
    const socket = this.#res.socket;
    if (this.#res.destroyed || !socket || socket.destroyed || !socket.writable) {
      // node:http quietly queues writes to a socket that can no longer send
      // (the peer vanished, the kernel gave up): a heartbeat that cannot go out is a disconnect.
      this.destroy("heartbeat");
      return;
    }
    // A socket that has not drained for a whole interval is the write timeout's business.
    if (this.#waitingDrain) return;
    this.#write(HEARTBEAT_FRAME);
  }

  /** Drop queued frames from the head until the rest fit in the limit; the newest survive. */
  #dropOldest(): void {
    const pending = this.#pending!;
    const limit = this.options.bufferLimit;
    let bytes = this.#pendingBytes;
    let dropped = 0;
    while (bytes > limit && dropped < pending.length - 1) {
      const frame = pending[dropped++]!;
      bytes -= Buffer.byteLength(frame);
      if (frame.charCodeAt(0) !== COLON) {
        this.#pendingEvents--;
        this.eventsDropped++;
      }
    }
    pending.splice(0, dropped);
    this.#pendingBytes = bytes;
  }

  /** Write SSE bytes now (as an HTTP chunk when writing to the socket directly). */
  #write(payload: string, now = Date.now()): void {
    this.#writeOut(this.#socket !== undefined ? asHttpChunk(payload) : payload, now);
  }

  /** Write bytes already in their wire form: chunk-framed when direct, SSE bytes for `res.write()`. */
  #writeOut(data: string | Buffer, now: number): void {
    this.#lastWriteAt = now;
    const socket = this.#socket;
    // A destroyed socket swallows the write; the close handler reports the disconnect.
    const accepted = socket !== undefined ? socket.write(data) : this.#res.write(data);
    if (!accepted) {
      this.#waitingDrain = true;
      if (socket !== undefined) socket.once("drain", SseConnection.#onSocketDrain);
      else this.#res.once("drain", SseConnection.#onDrain);
      if (this.options.writeTimeoutMs > 0 && !this.#writeTimer) {
        this.#writeTimer = setTimeout(() => this.destroy("write-timeout"), this.options.writeTimeoutMs);
      }
    }
  }

  #drained(): void {
    this.#waitingDrain = false;
    if (this.#writeTimer) {
      clearTimeout(this.#writeTimer);
      this.#writeTimer = undefined;
    }
    this.flush();
    if (this.#waitingDrain) return;
    this.#notifyWritable();
    if (this.#ending && !this.closed) this.#finish(this.#endReason);
  }

  #notifyWritable(): void {
    const waiters = this.#writableWaiters;
    this.#writableWaiters = undefined;
    if (waiters) for (const resolve of waiters) resolve();
  }

  #finish(reason: SseCloseReason): void {
    if (this.closed) return;
    this.#close(reason);
    this.#res.end();
  }

  #close(reason: SseCloseReason): void {
    this.closed = true;
    this.#ending = true;
    if (this.options.heartbeatMs > 0) this.#engine.heartbeats.remove(this, this.options.heartbeatMs);
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
    this.#res.removeListener("drain", SseConnection.#onDrain);
    const socket = this.#socket;
    if (socket !== undefined) {
      // The socket may serve further requests (keep-alive): leave nothing of ours on it.
      socket.removeListener("drain", SseConnection.#onSocketDrain);
      this.#socket = undefined;
    }
    this.#pending = undefined;
    this.#pendingBytes = 0;
    this.#notifyWritable();
    const closeWaiters = this.#closeWaiters;
    this.#closeWaiters = undefined;
    if (closeWaiters) for (const resolve of closeWaiters) resolve(reason);
    if (reason !== "end" && reason !== "error") this.#owner?.markGone();
    this.#attached?.[kDetach]((err) => this.#logger?.error("An SSE close callback failed", err));
    this.#engine.forget(this);
    this.#info = {
      eventsSent: this.eventsSent,
      eventsDropped: this.eventsDropped,
      durationMs: Date.now() - this.openedAt,
      reason,
    };
    if (!this.#producerRunning) this.#settle();
    else if (reason !== "end" && reason !== "error" && reason !== "shutdown") {
      // The producer was told (request.signal, then its iterator's return()). One that
      // awaits something that never settles must not keep the stream, its hooks and
      // `done` waiting: settle without it after a moment. Shutdown has its own grace.
      this.#abandonTimer = setTimeout(() => this.#settle(), PRODUCER_ABANDON_MS);
    }
  }

  #producerFinished(): void {
    this.#producerRunning = false;
    if (this.closed) this.#settle();
    this.#checkReleased();
  }

  /** Report the close (onStreamClose) and resolve `done`, once. */
  #settle(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#abandonTimer) clearTimeout(this.#abandonTimer);
    this.#abandonTimer = undefined;
    if (this.#owner) this.#engine.onStreamClosed?.(this.#owner, this.#info!);
    this.#resolveDone?.();
  }

  #released(): boolean {
    return !this.#producerRunning && (this.#responseClosed || this.#res.destroyed);
  }

  #checkReleased(): void {
    if (this.#releaseWaiters === undefined || !this.#released()) return;
    const waiters = this.#releaseWaiters;
    this.#releaseWaiters = undefined;
    for (const resolve of waiters) resolve();
  }
}

function sameFrames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Owns every open SSE connection of one app: schedules coalesced flushes and
 * shuts them all down gracefully.
 */
export class SseEngine {
  readonly connections = new Set<SseConnection>();
  /** @internal One heartbeat timer per interval, for all streams. */
  readonly heartbeats = new HeartbeatSweeper();
  /** @internal Told about every stream that closes (the app runs its onStreamClose hooks). */
  onStreamClosed: StreamClosedCallback | undefined;
  #dirty: SseConnection[] = [];
  /** Went past their buffer limit this turn. */
  #accused: SseConnection[] = [];
  /** Went past it a turn ago: judged at this pass. */
  #onTrial: SseConnection[] = [];
  #flushScheduled = false;
  #flushAll = (): void => {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    const cache: FlushCache = { frames: undefined, chunk: "", bytes: undefined, framed: undefined, now: Date.now() };
    for (const connection of dirty) connection.flush(cache);
    if (this.#onTrial.length === 0 && this.#accused.length === 0) return;
    const onTrial = this.#onTrial;
    this.#onTrial = this.#accused;
    this.#accused = [];
    for (const connection of onTrial) connection.judge();
    // An immediate queued from this pass runs on the next turn, after its poll phase.
    if (this.#onTrial.length > 0) this.#schedule();
  };

  /** Create a connection for `res`; call `open()` on it to start streaming. */
  create(res: RawResponse, options: ResolvedSseOptions): SseConnection {
    const connection = new SseConnection(this, res, options);
    this.connections.add(connection);
    return connection;
  }

  /** @internal Queue a connection for the flush at the end of this turn of the event loop. */
  markDirty(connection: SseConnection): void {
    this.#dirty.push(connection);
    this.#schedule();
  }

  /**
   * @internal `connection` queued past its limit behind a socket that refuses more.
   * It is judged at the pass after next: one whole turn, with its poll phase, later.
   */
  putOnTrial(connection: SseConnection): void {
    this.#accused.push(connection);
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushAll);
    }
  }

  /** @internal */
  forget(connection: SseConnection): void {
    this.connections.delete(connection);
  }

  /**
   * Send every open stream a final frame and end it; wait (up to `graceMs`)
   * for producers to finish and clients to read what is left; then destroy
   * the sockets still open (a client that stopped reading) and stop waiting
   * for producers that ignore `request.signal`.
   */
  async shutdown(options: SseShutdownOptions = {}): Promise<void> {
    const graceMs = options.graceMs ?? 5000;
    const retry = options.retry ?? 1000;
    const finalFrame = formatSseRetry(retry) + (options.finalEvent ?? SseEvent.comment("shutdown")).toSseString();
    const open = [...this.connections];
    for (const connection of open) connection.shutdown(finalFrame);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, graceMs, "timeout")));
    const outcome = await Promise.race([Promise.all(open.map((c) => c.whenReleased())), grace]);
    clearTimeout(timer);
    if (outcome === "timeout") for (const connection of open) connection.abandon();
  }
}
