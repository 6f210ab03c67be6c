/**
 * A connection whose every event is checked before it is queued: the one
 * place all of a route's events pass (SseStream, generators and channel
 * subscriptions all call the connection's `send`). Used only for routes that
 * check their events (`schema.events` in development, see validation/events.ts):
 * other routes get a plain SseConnection, so the check costs them nothing.
 */
import type { Duplex } from "node:stream";
import { formatSseError } from "./event.js";
import { SseConnection, type ConnectionHost } from "./connection.js";
import type { ResolvedSseOptions } from "./options.js";
import type { RawResponse } from "./writer.js";

/** Checks one frame; returns the error to end the stream with, or undefined to send it. It logs what it refuses. */
export interface FrameCheck {
  check(frame: string): Error | undefined;
}

/**
 * An SseConnection that runs a {@link FrameCheck} on every frame a source sends.
 * A refused frame is not sent: the stream ends with an `event: error` frame instead.
 */
export class CheckedSseConnection extends SseConnection {
  readonly #check: FrameCheck;

  constructor(host: ConnectionHost, res: RawResponse, options: ResolvedSseOptions, check: FrameCheck, encoder?: Duplex) {
    super(host, res, options, encoder);
    this.#check = check;
  }

  override send(frame: string, byteLength?: number): boolean {
    if (this.state !== "open") return false;
    const problem = this.#check.check(frame);
    if (problem === undefined) return super.send(frame, byteLength);
    super.send(formatSseError(problem));
    this.end("error");
    return false;
  }
}
