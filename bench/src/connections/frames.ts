/**
 * Counting what a connection holder receives, without parsing it: SSE frames
 * end with a blank line ("\n\n"), and a heartbeat is the comment ":\n\n" on a
 * line of its own. Both servers of the connections section write every frame
 * as (or inside) an HTTP chunk, whose framing ("\r\n") never forms "\n\n", so
 * counting blank lines counts frames, across any split into TCP reads.
 */

const LF = 0x0a;
const COLON = 0x3a;

/** One stream's counts, and the last bytes of what it received (a frame may end across two reads). */
export interface StreamCount {
  frames: number;
  /** The three bytes before the current read, newest last (-1: none yet). */
  b1: number;
  b2: number;
  b3: number;
}

/** Counts frames and heartbeats over many streams; `totals()` sums them. */
export class FrameCounter {
  frames = 0;
  heartbeats = 0;
  bytes = 0;

  /** State for one more stream. */
  stream(): StreamCount {
    return { frames: 0, b1: -1, b2: -1, b3: -1 };
  }

  /**
   * Count what `data` completes on `stream`.
   * @example const c = new FrameCounter(); const s = c.stream(); c.feed(s, Buffer.from("3\r\n:\n\n\r\n")); // c.heartbeats === 1
   */
  feed(stream: StreamCount, data: Buffer): void {
    this.bytes += data.length;
    const at = (i: number): number => (i >= 0 ? data[i]! : i === -1 ? stream.b1 : i === -2 ? stream.b2 : stream.b3);
    let i = data.indexOf(LF);
    while (i >= 0) {
      if (at(i - 1) === LF) {
        stream.frames++;
        this.frames++;
        if (at(i - 2) === COLON && at(i - 3) === LF) this.heartbeats++;
      }
      i = data.indexOf(LF, i + 1);
    }
    const n = data.length;
    const b1 = at(n - 1);
    const b2 = at(n - 2);
    const b3 = at(n - 3);
    stream.b1 = b1;
    stream.b2 = b2;
    stream.b3 = b3;
  }

  /** Totals over every stream so far. */
  totals(): { frames: number; heartbeats: number; bytes: number } {
    return { frames: this.frames, heartbeats: this.heartbeats, bytes: this.bytes };
  }
}

/** A least-squares line through `(x, y)` points: `y = intercept + slope * x`, with its r². */
export interface LinearFit {
  slope: number;
  intercept: number;
  r2: number;
}

/**
 * Fit a line through the points (least squares). Needs two distinct x values.
 * @example fitLine([[1000, 5e6], [2000, 9e6]]) // { slope: 4000, intercept: 1e6, r2: 1 }
 */
export function fitLine(points: ReadonlyArray<readonly [number, number]>): LinearFit {
  const n = points.length;
  if (n < 2) throw new Error("fitLine needs at least two points");
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  if (sxx === 0) throw new Error("fitLine needs two distinct x values");
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
}
