/**
 * The SSE engine: owns every open connection of one app and decides when they
 * write. It runs the flush pass (each turn's frames go out as one write per
 * client, and clients that queued the same frames share one encoded chunk),
 * the buffer-limit trial, the heartbeat sweep and graceful shutdown.
 *
 * The rest of the SSE layer, one concern per file: options.ts (options and
 * defaults), connection.ts (one response's lifecycle), writer.ts (its writes
 * and backpressure), direct-write.ts (the node:http fast path), pump.ts (pull
 * producers), source.ts (push sources), heartbeat.ts, report.ts (what a
 * closed stream reports).
 */
import type { Duplex } from "node:stream";
import { channels as diagnostics } from "../diagnostics.js";
import { SseEvent, formatSseRetry } from "./event.js";
import { HeartbeatSweeper } from "./heartbeat.js";
import type { ResolvedSseOptions, SseShutdownOptions } from "./options.js";
import type { StreamClosedCallback } from "./report.js";
import { SseConnection, type ConnectionHost } from "./connection.js";
import { CheckedSseConnection, type FrameCheck } from "./checked-connection.js";
import type { FlushCache, RawResponse, SseWriter } from "./writer.js";

/**
 * Owns every open SSE connection of one app: schedules coalesced flushes,
 * judges slow clients, and shuts them all down gracefully.
 */
export class SseEngine implements ConnectionHost {
  readonly connections = new Set<SseConnection>();
  /** The app, named in diagnostics messages (see diagnostics.ts); never called. */
  readonly scope: object;
  /** One heartbeat timer per interval, for all streams. */
  readonly heartbeats = new HeartbeatSweeper();
  /** Told about every stream that closes (the app runs its onStreamClose hooks). */
  onStreamClosed: StreamClosedCallback | undefined;
  #dirty: SseWriter[] = [];
  /** Went past their buffer limit this turn. */
  #accused: SseWriter[] = [];
  /** Went past it a turn ago: judged at this pass. */
  #onTrial: SseWriter[] = [];
  #flushScheduled = false;
  #flushAll = (): void => {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    const cache: FlushCache = { frames: undefined, chunk: "", bytes: undefined, framed: undefined, now: Date.now(), report: diagnostics.sseWrite.hasSubscribers };
    for (const connection of dirty) connection.flush(cache);
    if (this.#onTrial.length === 0 && this.#accused.length === 0) return;
    const onTrial = this.#onTrial;
    this.#onTrial = this.#accused;
    this.#accused = [];
    for (const connection of onTrial) connection.judge();
    // An immediate queued from this pass runs on the next turn, after its poll phase.
    if (this.#onTrial.length > 0) this.#schedule();
  };

  constructor(scope: object = {}) {
    this.scope = scope;
  }

  /**
   * Create a connection for `res`; call `open()` on it to start streaming.
   * With `check`, every frame is checked before it is queued (see checked-connection.ts).
   * `encoder`: for a compressed stream, the encoder every write goes through.
   */
  create(res: RawResponse, options: ResolvedSseOptions, check?: FrameCheck, encoder?: Duplex): SseConnection {
    const connection = check === undefined ? new SseConnection(this, res, options, encoder) : new CheckedSseConnection(this, res, options, check, encoder);
    this.connections.add(connection);
    return connection;
  }

  /** Queue a connection for the flush at the end of this turn of the event loop. */
  markDirty(connection: SseWriter): void {
    this.#dirty.push(connection);
    this.#schedule();
  }

  /**
   * `connection` queued past its limit behind a socket that refuses more.
   * It is judged at the pass after next: one whole turn, with its poll phase, later.
   */
  putOnTrial(connection: SseWriter): void {
    this.#accused.push(connection);
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushAll);
    }
  }

  /** `connection` closed: stop holding it. */
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
    for (const connection of open) connection.endForShutdown(finalFrame);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, graceMs, "timeout")));
    const outcome = await Promise.race([Promise.all(open.map((c) => c.whenReleased())), grace]);
    clearTimeout(timer);
    if (outcome === "timeout") for (const connection of open) connection.abandon();
  }
}
