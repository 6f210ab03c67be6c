/**
 * SseWriter: the write side of an SSE connection, and the only code that
 * writes to a streaming socket. It queues frames, writes each turn's frames as
 * one write (directly to the socket as an HTTP chunk when direct-write.ts says
 * it is safe, else through `res.write()`), meets backpressure, applies the
 * buffer-limit verdict and writes heartbeats. When it writes is the engine's
 * call (engine.ts); whether the connection is still open is SseConnection's
 * (connection.ts), which extends this class with the lifecycle.
 *
 * A compressed stream (the compression plugin's encoder, see response.ts
 * `ContentEncoder`) writes each turn's frames into its encoder instead, which
 * flushes every write (`Z_SYNC_FLUSH`) and is piped into the response: such a
 * client never shares the encoded chunk of a flush pass nor the direct socket path.
 */
import type { ServerResponse } from "node:http";
import type { Http2ServerResponse } from "node:http2";
import type { Duplex } from "node:stream";
import { channels as diagnostics } from "../diagnostics.js";
import { asHttpChunk, compactHead, directSocket, servedResponse, type ServingSocket } from "./direct-write.js";
import type { ResolvedSseOptions } from "./options.js";
import type { SseCloseReason } from "./report.js";

/** A connection's place in its lifecycle (see connection.ts, which alone moves it). */
export type ConnectionState = "open" | "ending" | "closed" | "settled";

/** When a writer's frames go out: the engine's flush pass. */
export interface FlushScheduler {
  /** Flush `writer` at the end of this turn of the event loop. */
  markDirty(writer: SseWriter): void;
  /** `writer` went past its buffer limit: judge it a full turn from now. */
  putOnTrial(writer: SseWriter): void;
}

/** The frames one flush pass has already joined, so identical queues share one encoded chunk. */
export interface FlushCache {
  frames: string[] | undefined;
  chunk: string;
  /** `chunk` encoded once, for every further client that queued the same frames. */
  bytes: Buffer | undefined;
  /** `chunk` encoded once as an HTTP/1.1 chunk, for clients written to directly. */
  framed: Buffer | undefined;
  /** One clock reading for the whole pass (it stamps every client's last write). */
  now: number;
  /** Whether `cello:sse.write` has subscribers, read once for the whole pass. */
  report: boolean;
}

// A pull producer's frames are written inline once this much is queued, so a
// producer that never yields to the event loop still meets socket backpressure.
const INLINE_FLUSH_BYTES = 16 * 1024;
const COLON = 0x3a;
const HEARTBEAT_FRAME = ":\n\n";
// The heartbeat as an HTTP chunk, encoded once: every directly written stream's heartbeat is this one Buffer.
const HEARTBEAT_CHUNK = Buffer.from(asHttpChunk(HEARTBEAT_FRAME));

/** The node:http or node:http2 response a connection streams to. */
export type RawResponse = ServerResponse | Http2ServerResponse;

const kWriter = Symbol("cello.sse.writer");
// Typed as the HTTP/1 response: node:http2's compatibility response has the same write/end/drain surface.
type TaggedResponse = ServerResponse & { [kWriter]?: SseWriter };
type TaggedEncoder = Duplex & { [kWriter]?: SseWriter };

/**
 * Frames are queued and written once per event-loop turn
 * (coalescing: the cost that dominates fan-out is one socket write per client,
 * so N frames of one tick go out as one write).
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
 * of its own (shared handlers find it through a symbol on the response). Every
 * field is set in the constructors, so all connections share one shape.
 */
export abstract class SseWriter<Host extends FlushScheduler = FlushScheduler> {
  readonly options: ResolvedSseOptions;
  eventsSent = 0;
  eventsDropped = 0;
  /** Read here; moved only by SseConnection (see its lifecycle). */
  protected state: ConnectionState = "open";
  protected readonly host: Host;
  protected readonly res: TaggedResponse;
  /** Set once the head is out, when frames can go straight to the socket (see direct-write.ts). */
  #socket: ServingSocket | undefined;
  #pending: string[] | undefined;
  #pendingBytes = 0;
  #pendingEvents = 0;
  /** The socket refused more: a drain handler is armed and the write timeout runs. */
  #waitingDrain = false;
  /** Past `bufferLimit` behind a refusing socket: the engine judges it a turn later. */
  #onTrial = false;
  #lastWriteAt = Date.now();
  #writeTimer: NodeJS.Timeout | undefined;
  #writableWaiters: Array<() => void> | undefined;
  /** The content encoder every write goes through (piped into the response), for a compressed stream. */
  readonly #encoder: TaggedEncoder | undefined;

  /**
   * @param encoder - For a compressed stream: a stream that flushes every write, piped into `res` here.
   */
  constructor(host: Host, res: RawResponse, options: ResolvedSseOptions, encoder?: Duplex) {
    this.host = host;
    this.res = res as TaggedResponse;
    this.options = options;
    this.res[kWriter] = this;
    // Listen before anything is written, so a client that leaves from now on is seen.
    res.on("close", SseWriter.#onResClose);
    res.on("error", SseWriter.#onResError);
    if (encoder !== undefined) {
      this.#encoder = encoder as TaggedEncoder;
      this.#encoder[kWriter] = this;
      encoder.on("error", SseWriter.#onEncoderError);
      // pipe() meets the response's backpressure: the encoder stops taking writes while the socket refuses more.
      encoder.pipe(res as ServerResponse);
    }
  }

  static #onResClose(this: TaggedResponse): void {
    const writer = this[kWriter];
    if (writer === undefined) return;
    // The encoder's zlib context (tens to hundreds of KB) is freed now, not when GC finds it.
    writer.#encoder?.destroy();
    writer.responseClosed();
  }

  static #onResError(this: TaggedResponse): void {
    this[kWriter]?.responseFailed();
  }

  static #onEncoderDrain(this: TaggedEncoder): void {
    const writer = this[kWriter];
    if (writer) writer.#drained();
  }

  static #onEncoderError(this: TaggedEncoder): void {
    this[kWriter]?.abort("error");
  }

  static #onDrain(this: TaggedResponse): void {
    const writer = this[kWriter];
    if (writer) writer.#drained();
  }

  // The socket's response is ours while the stream is open: no tag on the socket itself.
  static #onSocketDrain(this: ServingSocket): void {
    const writer = (servedResponse(this) as TaggedResponse | null | undefined)?.[kWriter];
    if (writer) writer.#drained();
  }

  /** The response emitted "close" (written out, or the client left). */
  protected abstract responseClosed(): void;
  /** The response emitted "error": the client is gone. */
  protected abstract responseFailed(): void;
  /** The socket drained and the queue went out; the socket takes more. */
  protected abstract drained(): void;
  /** Destroy the socket now (overflow, write timeout, a heartbeat that cannot go out). */
  abstract abort(reason: SseCloseReason): void;

  /** True once closed (for any reason): no frame is taken or written any more. */
  get closed(): boolean {
    const state = this.state;
    return state === "closed" || state === "settled";
  }

  /** This connection's `bufferLimit` (for sources that send in pages). */
  get bufferLimit(): number {
    return this.options.bufferLimit;
  }

  /** Bytes waiting for this client: queued here, in the encoder (if compressed), and buffered in the socket. */
  get bufferedBytes(): number {
    const encoder = this.#encoder;
    const encoding = encoder === undefined ? 0 : encoder.writableLength + encoder.readableLength;
    return this.#pendingBytes + encoding + (this.res.writableLength ?? 0);
  }

  /** True while the socket refuses more until it drains. */
  get waitingDrain(): boolean {
    return this.#waitingDrain;
  }

  /** Whether pull producers should wait before producing more (see pump.ts). */
  get backpressured(): boolean {
    return this.#waitingDrain || this.#pendingBytes >= INLINE_FLUSH_BYTES;
  }

  /** Queue a frame for this client (a frame starting with `:` is a comment, not counted as an event). Returns false unless open (never throws). */
  send(frame: string, byteLength = Buffer.byteLength(frame)): boolean {
    if (this.state !== "open") return false;
    const pending = (this.#pending ??= []);
    pending.push(frame);
    this.#pendingBytes += byteLength;
    if (frame.charCodeAt(0) !== COLON) this.#pendingEvents++;
    if (!this.#waitingDrain) {
      // The socket takes more: whatever this turn queues goes out at its end.
      if (pending.length === 1) this.host.markDirty(this);
    } else if (this.#pendingBytes > this.options.bufferLimit && !this.#onTrial) {
      // Behind a socket that refused more. Judged a turn from now, once the client had the chance to read.
      this.#onTrial = true;
      this.host.putOnTrial(this);
    }
    return true;
  }

  /** Write everything queued now, in one write. `cache` lets a flush pass share one chunk between identical queues. */
  flush(cache?: FlushCache): void {
    const frames = this.#pending;
    if (this.closed || this.#waitingDrain || frames === undefined) return;
    const direct = this.#socket !== undefined;
    let out: string | Buffer;
    if (this.#encoder !== undefined) {
      // Compressed: this client's encoder has a state of its own, so no encoded chunk is shared.
      out = frames.length === 1 ? frames[0]! : frames.join("");
    } else if (cache !== undefined && cache.frames !== undefined && sameFrames(cache.frames, frames)) {
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
    if (cache !== undefined ? cache.report : diagnostics.sseWrite.hasSubscribers) this.wrote(this.#pendingEvents, this.#pendingBytes);
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

  /** The engine's verdict, a full turn after this connection went past its limit. */
  judge(): void {
    this.#onTrial = false;
    // Drained meanwhile (the queue went out), or closed: the client reads, nothing to do.
    if (this.closed || !this.#waitingDrain || this.#pendingBytes <= this.options.bufferLimit) return;
    if (this.options.overflow === "drop-oldest") this.#dropOldest();
    else this.abort("overflow");
  }

  /** Called by the heartbeat sweep. */
  heartbeatDue(now: number): void {
    if (this.closed || now - this.#lastWriteAt < this.options.heartbeatMs) return;
    const socket = this.res.socket;
    if (this.res.destroyed || !socket || socket.destroyed || !socket.writable) {
      // node:http quietly queues writes to a socket that can no longer send
      // (the peer vanished, the kernel gave up): a heartbeat that cannot go out is a disconnect.
      this.abort("heartbeat");
      return;
    }
    // A socket that has not drained for a whole interval is the write timeout's business.
    if (this.#waitingDrain) return;
    // No string built or encoded per stream: the shared chunk, or the frame for res.write() and an encoder.
    this.#writeOut(this.#socket !== undefined ? HEARTBEAT_CHUNK : HEARTBEAT_FRAME, now);
    if (diagnostics.sseHeartbeat.hasSubscribers) this.heartbeatWritten(HEARTBEAT_FRAME.length);
  }

  /** Diagnostics, called only while someone listens: `events` events in `bytes` SSE bytes went out in one write. */
  protected wrote(_events: number, _bytes: number): void {}
  /** Diagnostics, called only while someone listens: a heartbeat of `bytes` bytes went out. */
  protected heartbeatWritten(_bytes: number): void {}
  /** Diagnostics, called only while someone listens: `events` queued events were dropped (drop-oldest). */
  protected dropped(_events: number): void {}

  /** Write the first frame (the head was just written) and choose how every later write goes out. */
  protected startWriting(firstFrame: string): void {
    this.#write(firstFrame);
    if (diagnostics.sseWrite.hasSubscribers) this.wrote(0, Buffer.byteLength(firstFrame));
    if (this.#encoder === undefined) this.#socket = directSocket(this.res);
    compactHead(this.res);
  }

  /** End the response body: through the encoder when compressed (it finishes the coding, then ends the response). */
  protected endBody(): void {
    const encoder = this.#encoder;
    if (encoder === undefined) this.res.end();
    else if (!encoder.destroyed) encoder.end();
  }

  /** Queue `frame` last and hand the whole queue to the socket now, even one that refused more. */
  protected writeFinal(frame: string): void {
    (this.#pending ??= []).push(frame);
    this.#pendingBytes += Buffer.byteLength(frame);
    this.#waitingDrain = false;
    this.flush();
  }

  /** Write no more: drop the queue, the write timer and our drain listeners, and wake `writable()` waiters. */
  protected stopWriting(): void {
    if (this.#writeTimer) clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
    this.res.removeListener("drain", SseWriter.#onDrain);
    this.#encoder?.removeListener("drain", SseWriter.#onEncoderDrain);
    const socket = this.#socket;
    if (socket !== undefined) {
      // The socket may serve further requests (keep-alive): leave nothing of ours on it.
      socket.removeListener("drain", SseWriter.#onSocketDrain);
      this.#socket = undefined;
    }
    this.#pending = undefined;
    this.#pendingBytes = 0;
    this.#notifyWritable();
  }

  /** Drop queued frames from the head until the rest fit in the limit; the newest survive. */
  #dropOldest(): void {
    const pending = this.#pending!;
    const limit = this.options.bufferLimit;
    let bytes = this.#pendingBytes;
    let dropped = 0;
    const droppedBefore = this.eventsDropped;
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
    if (diagnostics.sseDrop.hasSubscribers && this.eventsDropped > droppedBefore) this.dropped(this.eventsDropped - droppedBefore);
  }

  /** Write SSE bytes now (as an HTTP chunk when writing to the socket directly). */
  #write(payload: string, now = Date.now()): void {
    this.#writeOut(this.#socket !== undefined ? asHttpChunk(payload) : payload, now);
  }

  /** Write bytes already in their wire form: chunk-framed when direct, SSE bytes for `res.write()`. */
  #writeOut(data: string | Buffer, now: number): void {
    this.#lastWriteAt = now;
    const socket = this.#socket;
    const encoder = this.#encoder;
    // A destroyed socket swallows the write; the close handler reports the disconnect.
    const accepted = encoder !== undefined ? encoder.destroyed || encoder.write(data) : socket !== undefined ? socket.write(data) : this.res.write(data);
    if (!accepted) {
      this.#waitingDrain = true;
      if (encoder !== undefined) encoder.once("drain", SseWriter.#onEncoderDrain);
      else if (socket !== undefined) socket.once("drain", SseWriter.#onSocketDrain);
      else this.res.once("drain", SseWriter.#onDrain);
      if (this.options.writeTimeoutMs > 0 && !this.#writeTimer) {
        this.#writeTimer = setTimeout(() => this.abort("write-timeout"), this.options.writeTimeoutMs);
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
    this.drained();
  }

  #notifyWritable(): void {
    const waiters = this.#writableWaiters;
    this.#writableWaiters = undefined;
    if (waiters) for (const resolve of waiters) resolve();
  }
}

function sameFrames(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
