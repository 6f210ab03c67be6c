/**
 * Counting what arrives, cheaply enough that one load process can keep up
 * with a server pushing to thousands of clients: most clients only count
 * frame terminators; a few also read each event's publish timestamp.
 */

const LF = 0x0a;
const COLON = 0x3a;
const TERMINATOR = Buffer.from("\n\n");

/**
 * Counts event frames in one SSE response body, chunk by chunk, by their
 * blank-line terminators (`\n\n`). Comment frames (those whose first byte is
 * `:`, i.e. keep-alives and opening comments) are not counted, so a server's
 * heartbeats never inflate the delivery count. A terminator split across two
 * chunks is counted once. Assumes LF line endings, which every server under test uses.
 *
 * @example
 * const counter = new FrameCounter();
 * counter.push(Buffer.from(": ok\n\nevent: tick\ndata: 1\n\nda")); // 1
 * counter.push(Buffer.from("ta: 2\n")); // 0
 * counter.push(Buffer.from("\n")); // 1
 */
export class FrameCounter {
  /** Event frames completed so far. */
  count = 0;
  // The previous chunk ended with an LF that did not finish a terminator.
  #pendingLf = false;
  // The next byte starts a frame.
  #atFrameStart = true;
  // The frame being read started with ":" (a comment).
  #inComment = false;

  /**
   * Feed one chunk.
   * @param chunk - Bytes as they came off the socket.
   * @returns Event frames completed by this chunk.
   */
  push(chunk: Buffer): number {
    const length = chunk.length;
    if (length === 0) return 0;
    let completed = 0;
    let index = 0;
    if (this.#pendingLf && chunk[0] === LF) {
      if (!this.#inComment) completed++;
      index = 1;
      this.#atFrameStart = true;
    }
    this.#pendingLf = false;
    for (;;) {
      if (this.#atFrameStart) {
        if (index >= length) break;
        this.#inComment = chunk[index] === COLON;
        this.#atFrameStart = false;
      }
      const end = chunk.indexOf(TERMINATOR, index);
      if (end === -1) {
        this.#pendingLf = chunk[length - 1] === LF;
        break;
      }
      if (!this.#inComment) completed++;
      index = end + 2;
      this.#atFrameStart = true;
    }
    this.count += completed;
    return completed;
  }
}

const STAMP = '"t":';

/**
 * Reads the publish timestamp (`"t":<wall-clock ms>`) of every complete event
 * in a body and records publish-to-receive latencies. Only a sample of the
 * clients use it: decoding text is far dearer than counting bytes.
 *
 * @example
 * const samples: number[] = [];
 * const probe = new LatencyProbe(samples);
 * probe.push(Buffer.from('event: tick\ndata: {"t":1000.5,"i":1}\n\n'), 1002); // samples: [1.5]
 */
export class LatencyProbe {
  readonly #samples: number[];
  #rest = "";

  /** @param samples - Where latencies (ms) are appended. */
  constructor(samples: number[]) {
    this.#samples = samples;
  }

  /**
   * Feed one chunk received at `receivedAt`.
   * @param chunk - Bytes as they came off the socket.
   * @param receivedAt - Wall-clock ms (`performance.timeOrigin + performance.now()`), as the server stamps events.
   */
  push(chunk: Buffer, receivedAt: number): void {
    const text = this.#rest + chunk.toString("latin1");
    const end = text.lastIndexOf("\n\n");
    if (end === -1) {
      this.#rest = text;
      return;
    }
    let position = text.indexOf(STAMP);
    while (position !== -1 && position < end) {
      const sentAt = parseFloat(text.slice(position + STAMP.length, position + STAMP.length + 24));
      if (Number.isFinite(sentAt)) this.#samples.push(receivedAt - sentAt);
      position = text.indexOf(STAMP, position + STAMP.length);
    }
    this.#rest = text.slice(end + 2);
  }
}

/**
 * Percentiles of latency samples in ms (nearest rank); zeros when there are none.
 * @param samples - Latencies in ms, in any order (not modified).
 * @example summarize([1, 2, 3, 4]) // { count: 4, p50: 2, p99: 4, max: 4 }
 */
export function summarize(samples: number[]): { count: number; p50: number; p99: number; max: number } {
  if (samples.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { count: sorted.length, p50: round2(at(0.5)), p99: round2(at(0.99)), max: round2(sorted[sorted.length - 1]!) };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
