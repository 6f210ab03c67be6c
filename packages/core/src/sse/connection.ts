/**
 * SseConnection: one open SSE response and its lifecycle, from the head going
 * out to the close being reported. The writing itself (queue, coalesced
 * writes, backpressure, buffer limit, heartbeats) is SseWriter's (writer.ts),
 * which this class extends.
 *
 * Lifecycle: one field, `state`, that only moves forward.
 *
 *   open --> ending --> closed --> settled
 *     |                   ^
 *     +-------------------+
 *
 *   from          to       on
 *   open          ending   end() while the socket refuses more (it waits to drain)
 *   open          closed   end() while the socket takes more (through ending,
 *                          within the call); endForShutdown(); endAtDeadline();
 *                          abort(); the client leaving (the response's "close"
 *                          or "error", or a socket already gone at open())
 *   ending        closed   the socket drained and the queue went out;
 *                          endForShutdown(); abort(); the client leaving
 *   closed        settled  the producer finished (at once if there is none), or
 *                          was abandoned: 1 s after a close that is not "end",
 *                          "error" or "shutdown", or abandon() when the shutdown
 *                          grace ran out (which also closes an open connection)
 *
 *   open     Frames are queued and written. A response pipelined behind
 *            another on its connection is open from the start, but writes
 *            and produces nothing until node:http hands it the socket.
 *   ending   No new frame is taken; the queue goes out when the socket
 *            drains, then the response ends.
 *   closed   #release ran (every path to closed goes through it, once): the
 *            queue, timers and listeners dropped, the source and close waiters
 *            told, the reason fixed. The producer may still be finishing.
 *   settled  #settle ran: the close was reported (onStreamClose) and `done`
 *            resolved.
 *
 * Beside the state, meaningful only while open or ending (writer.ts): whether
 * the socket refused more and waits to drain, and whether the engine holds the
 * connection in its buffer-limit trial.
 *
 * The verbs that end a connection, one per meaning:
 *   end(reason)            graceful: what is queued goes out, then the response
 *                          ends (the producer finished, or failed: "error").
 *   endForShutdown(frame)  graceful, now: the final frame joins the queue, all
 *                          of it is handed to the socket despite backpressure,
 *                          the response ends (the engine's shutdown).
 *   endAtDeadline(frame)   the same, when the request's deadline is due
 *                          (`request.endStreamAt()`, deadline.ts): reason
 *                          "expired", "lifetime" or "deadline".
 *   abort(reason)          now: the socket is destroyed (a client that does not
 *                          read, or cannot be written to).
 *   abandon()              the shutdown grace ran out: destroy the socket if the
 *                          client has not read everything, stop waiting for the
 *                          producer.
 */
import type { Socket } from "node:net";
import { channels as diagnostics } from "../diagnostics.js";
import type { Logger } from "../logger.js";
import type { Request } from "../request.js";
import { connectionSocket } from "../server.js";
import { formatSseComment, formatSseRetry } from "./event.js";
import type { HeartbeatSweeper } from "./heartbeat.js";
import { pump } from "./pump.js";
import type { DeadlineTarget, SseDeadlineReason } from "./deadline.js";
import { kStreamDeadline, kStreamGone, type SseCloseReason, type SseStreamInfo, type StreamClosedCallback, type StreamOwner } from "./report.js";
import { isAttachable, kAttach, kDetach, type AttachableSource, type SseSink, type SseSource } from "./source.js";
import { SseWriter, type FlushScheduler } from "./writer.js";

/** What a connection needs from its engine. */
export interface ConnectionHost extends FlushScheduler {
  /** One heartbeat timer per interval, for all streams. */
  readonly heartbeats: HeartbeatSweeper;
  /** Told once per connection, after it settled. */
  readonly onStreamClosed: StreamClosedCallback | undefined;
  /** `connection` closed: stop holding it. */
  forget(connection: SseConnection): void;
  /** The app, named in diagnostics messages. */
  readonly scope: object;
}

// How long a producer may take to finish (its `finally`) after its client left
// before the connection is settled without it: onStreamClose runs and `done`
// resolves. A producer awaiting something that never settles is abandoned.
const PRODUCER_ABANDON_MS = 1000;
const OPEN_FRAME = formatSseComment("ok");

/** One open SSE response (see the lifecycle above). */
export class SseConnection extends SseWriter<ConnectionHost> implements SseSink, DeadlineTarget {
  readonly openedAt = Date.now();
  #endReason: "end" | "error" = "end";
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
  #owner: StreamOwner | undefined;
  #attached: AttachableSource | undefined;
  #logger: Logger | undefined;

  /**
   * Settles once the connection is closed and its producer has finished (its
   * `finally` ran), or was abandoned: 1 s after its client left, or when the
   * shutdown grace ran out.
   */
  get done(): Promise<void> {
    if (this.state === "settled") return Promise.resolve();
    this.#done ??= new Promise((resolve) => (this.#resolveDone = resolve));
    return this.#done;
  }

  /** Resolves with the reason once the connection closes. */
  whenClosed(): Promise<SseCloseReason> {
    return new Promise((resolve) => (this.#closeWaiters ??= []).push(resolve));
  }

  /**
   * Resolves once the producer has finished and the response has
   * closed: every byte reached the kernel, or the socket is gone (shutdown waits here).
   */
  whenReleased(): Promise<void> {
    if (this.#released()) return Promise.resolve();
    return new Promise((resolve) => (this.#releaseWaiters ??= []).push(resolve));
  }

  /**
   * Start writing: head, opening comment, retry hint, then the producer. A
   * response pipelined behind another on its connection (HTTP/1.1) starts once
   * node:http hands it the socket, when the response ahead has finished.
   */
  open(status: number, headers: Record<string, string | string[]>, source: SseSource, logger: Logger, owner: StreamOwner): void {
    const res = this.res;
    this.#logger = logger;
    this.#owner = owner;
    const attachable = isAttachable(source) ? source : undefined;
    if (attachable) this.#attached = attachable;
    const socket = connectionSocket(res);
    if (res.destroyed || !socket || socket.destroyed) {
      // The client left while the handler was still running.
      this.#release("client");
      return;
    }
    // Written now, so a head Node refuses fails this request as at any other time;
    // node:http holds it until the response has its socket.
    res.writeHead(status, headers);
    if (res.socket) this.#start(source, logger);
    else this.#awaitTurn(socket, source, logger);
  }

  /** The response has its socket: first frame, heartbeats, then the producer. */
  #start(source: SseSource, logger: Logger): void {
    let first = OPEN_FRAME;
    if (this.options.retry !== undefined) first += formatSseRetry(this.options.retry);
    // Head and first comment in one write: EventSource fires `open` and proxies pass the stream at once.
    this.startWriting(first);
    if (this.options.heartbeatMs > 0) this.host.heartbeats.add(this, this.options.heartbeatMs);
    // A deadline set before the stream opened (a guard's credential expiry) starts now; one set later starts when set.
    this.#owner?.[kStreamDeadline]?.start(this);
    if (this.#attached) this.#attached[kAttach](this);
    else {
      this.#producerRunning = true;
      const finished = () => this.#producerFinished();
      pump(this, source as AsyncIterable<unknown> | Iterable<unknown>, logger).then(finished, finished);
    }
  }

  /**
   * Queued behind a pipelined response: node:http assigns this response the
   * connection's socket when the one ahead finishes, emitting "socket" on it;
   * the client leaving meanwhile shows only on the socket (the queued response
   * emits nothing). Nothing is produced before the turn comes. A shutdown
   * meanwhile ends the response at once: node:http sends what it holds (head and
   * final frame) when the turn comes.
   */
  #awaitTurn(socket: Socket, source: SseSource, logger: Logger): void {
    const res = this.res;
    const onTurn = () => {
      socket.removeListener("close", onGone);
      if (this.state !== "open") return;
      try {
        this.#start(source, logger);
      } catch (err) {
        // As in respond(): once the head is out, a failure cuts the connection.
        logger.error("Starting an SSE stream queued behind a pipelined response failed", err);
        this.abort("error");
      }
    };
    const onGone = () => {
      res.removeListener("socket", onTurn);
      if (!this.closed) this.#release("client");
      res.destroy();
      this.#checkReleased();
    };
    res.once("socket", onTurn);
    socket.once("close", onGone);
  }

  /** open -> ending -> closed: end the response once the queued frames are written (the producer finished, or failed: `"error"`). */
  end(reason: "end" | "error" = "end"): void {
    if (this.state !== "open") return;
    this.state = "ending";
    this.#endReason = reason;
    this.flush();
    if (!this.waitingDrain) this.#endResponse(reason);
    // else: drained() ends the response once the queue is written.
  }

  /** open/ending -> closed: queue `finalFrame`, hand everything to the socket now (despite backpressure), end (graceful shutdown). */
  endForShutdown(finalFrame: string): void {
    if (this.closed) return;
    this.writeFinal(finalFrame);
    this.#endResponse("shutdown");
  }

  /** open -> closed: the request's deadline is due: queue `finalFrame`, hand everything to the socket now, end. */
  endAtDeadline(finalFrame: string, reason: SseDeadlineReason): void {
    if (this.state !== "open") return;
    this.writeFinal(finalFrame);
    this.#endResponse(reason);
  }

  /** open/ending -> closed: destroy the socket now (a client that does not read, or cannot be written to). */
  abort(reason: SseCloseReason): void {
    if (this.closed) return;
    this.#release(reason);
    this.res.destroy();
  }

  /**
   * -> settled: the shutdown grace is over. Destroy the socket of a
   * client that has not read everything yet, and stop waiting for the producer.
   */
  abandon(): void {
    if (!this.closed) this.#release("shutdown");
    if (!this.#responseClosed && !this.res.destroyed) this.res.destroy();
    this.#settle();
  }

  protected responseClosed(): void {
    this.#responseClosed = true;
    // "close" after our own end() is the normal path; before it, the client left.
    if (!this.closed) this.#release("client");
    this.#checkReleased();
  }

  protected responseFailed(): void {
    if (!this.closed) this.#release("client");
  }

  protected drained(): void {
    if (this.state === "ending") this.#endResponse(this.#endReason);
  }

  /** Release, then end the HTTP response: what the socket holds still goes out. */
  #endResponse(reason: SseCloseReason): void {
    this.#release(reason);
    this.endBody();
  }

  /** open/ending -> closed: the one path every close takes. Frees what the connection holds and tells whoever waits. */
  #release(reason: SseCloseReason): void {
    this.state = "closed";
    if (this.options.heartbeatMs > 0) this.host.heartbeats.remove(this, this.options.heartbeatMs);
    this.#owner?.[kStreamDeadline]?.stop();
    this.stopWriting();
    const closeWaiters = this.#closeWaiters;
    this.#closeWaiters = undefined;
    if (closeWaiters) for (const resolve of closeWaiters) resolve(reason);
    if (reason !== "end" && reason !== "error") this.#owner?.[kStreamGone]();
    this.#attached?.[kDetach]((err) => this.#logger?.error("An SSE close callback failed", err));
    this.host.forget(this);
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

  protected override wrote(events: number, bytes: number): void {
    if (this.#owner !== undefined) diagnostics.sseWrite.publish({ app: this.host.scope, request: this.#owner as Request, events, bytes });
  }

  protected override heartbeatWritten(bytes: number): void {
    if (this.#owner !== undefined) diagnostics.sseHeartbeat.publish({ app: this.host.scope, request: this.#owner as Request, bytes });
  }

  protected override dropped(events: number): void {
    if (this.#owner !== undefined) diagnostics.sseDrop.publish({ app: this.host.scope, request: this.#owner as Request, events });
  }

  #producerFinished(): void {
    this.#producerRunning = false;
    if (this.closed) this.#settle();
    this.#checkReleased();
  }

  /** closed -> settled: report the close (onStreamClose) and resolve `done`, once. */
  #settle(): void {
    if (this.state === "settled") return;
    this.state = "settled";
    if (this.#abandonTimer) clearTimeout(this.#abandonTimer);
    this.#abandonTimer = undefined;
    if (this.#owner) this.host.onStreamClosed?.(this.#owner, this.#info!);
    this.#resolveDone?.();
  }

  #released(): boolean {
    return !this.#producerRunning && (this.#responseClosed || this.res.destroyed);
  }

  #checkReleased(): void {
    if (this.#releaseWaiters === undefined || !this.#released()) return;
    const waiters = this.#releaseWaiters;
    this.#releaseWaiters = undefined;
    for (const resolve of waiters) resolve();
  }
}
