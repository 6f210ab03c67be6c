/**
 * Reading one SSE response straight off a raw socket, for the load
 * generator's `net` clients: the status line, then the body, de-chunked when
 * the server uses chunked transfer encoding, handed to a {@link FrameCounter}
 * (and, for the few latency clients, a {@link LatencyProbe}). Nothing else of
 * HTTP is parsed: a load generator that decodes more than it must measures
 * itself, not the server.
 */
import { FrameCounter, LatencyProbe } from "./frames.js";

const CR = 0x0d;
const LF = 0x0a;
const HEAD_END = Buffer.from("\r\n\r\n");
/** A response head longer than this is not an SSE server answering: give up. */
const MAX_HEAD = 16 * 1024;
const MAX_SIZE_LINE = 256;

// Where the reader is in the response (plain numbers: the hot path compares them per chunk).
const HEAD = 0;
/** Body delimited by the connection (no Content-Length, no chunking): every byte is SSE text. */
const IDENTITY = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
/** The CRLF after a chunk's data (`#crlfLeft` bytes of it still to skip). */
const CHUNK_END = 4;
/** The last chunk (size 0) arrived, or the head was bad: nothing more is read. */
const DONE = 5;

/**
 * One SSE response as it comes off a socket, chunk by chunk.
 *
 * @example
 * const reader = new SseResponseReader();
 * socket.on("data", (chunk) => { frames += reader.push(chunk); });
 * // reader.status is 200 once the head is in; reader.count is the event frames so far
 */
export class SseResponseReader {
  /** The response's status code (0 until the status line arrived). */
  status = 0;
  /** Whether the body is chunked (`Transfer-Encoding: chunked`). */
  chunked = false;
  /** Why reading stopped early: a malformed head or chunk size (undefined while all is well). */
  error: string | undefined;
  readonly #counter = new FrameCounter();
  readonly #probe: LatencyProbe | undefined;
  #state: number = HEAD;
  #head = "";
  #sizeLine = "";
  #remaining = 0;
  #crlfLeft = 0;
  #receivedAt = 0;

  /**
   * @param samples - When given, this reader also reads each event's publish
   *   time and appends publish-to-receive latencies (ms) here.
   */
  constructor(samples?: number[]) {
    this.#probe = samples ? new LatencyProbe(samples) : undefined;
  }

  /** Event frames (not comments) received so far. Set it to 0 to start counting afresh. */
  get count(): number {
    return this.#counter.count;
  }

  set count(value: number) {
    this.#counter.count = value;
  }

  /** Whether the status line and headers are in. */
  get headComplete(): boolean {
    return this.#state !== HEAD;
  }

  /** Whether the body ended (the last chunk of a chunked body) or reading stopped on an error. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /**
   * Feed bytes as they came off the socket.
   * @param chunk - One `data` event's buffer.
   * @param receivedAt - Wall-clock ms of its arrival (only latency readers use it).
   * @returns Event frames this chunk completed.
   */
  push(chunk: Buffer, receivedAt = 0): number {
    this.#receivedAt = receivedAt;
    switch (this.#state) {
      case IDENTITY:
        return this.#body(chunk);
      case HEAD:
        return this.#readHead(chunk);
      case DONE:
        return 0;
      default:
        return this.#dechunk(chunk, 0);
    }
  }

  #body(bytes: Buffer): number {
    if (this.#probe) this.#probe.push(bytes, this.#receivedAt);
    return this.#counter.push(bytes);
  }

  #readHead(chunk: Buffer): number {
    const previous = this.#head.length;
    this.#head += chunk.toString("latin1");
    // The head may end in this chunk, with its terminator split across the previous one.
    const end = this.#head.indexOf("\r\n\r\n", Math.max(0, previous - 3));
    if (end === -1) {
      if (this.#head.length > MAX_HEAD) this.#fail(`response head longer than ${MAX_HEAD} bytes`);
      return 0;
    }
    const head = this.#head.slice(0, end);
    this.#head = "";
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!match) return this.#fail(`not an HTTP/1.x response: ${JSON.stringify(head.slice(0, 40))}`);
    this.status = Number(match[1]);
    this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/i.test(head);
    // Where the body starts in this chunk: the head is latin1, one byte per character.
    const bodyStart = end + HEAD_END.length - previous;
    if (this.chunked) {
      this.#state = CHUNK_SIZE;
      return this.#dechunk(chunk, bodyStart);
    }
    this.#state = IDENTITY;
    return bodyStart < chunk.length ? this.#body(chunk.subarray(bodyStart)) : 0;
  }

  #dechunk(chunk: Buffer, start: number): number {
    let completed = 0;
    let index = start;
    const length = chunk.length;
    while (index < length) {
      switch (this.#state) {
        case CHUNK_SIZE: {
          const lf = chunk.indexOf(LF, index);
          const end = lf === -1 ? length : lf;
          this.#sizeLine += chunk.toString("latin1", index, end);
          if (this.#sizeLine.length > MAX_SIZE_LINE) return completed + this.#fail("chunk size line too long");
          if (lf === -1) return completed;
          index = lf + 1;
          // `<hex>[;extensions]\r\n`
          const line = this.#sizeLine;
          this.#sizeLine = "";
          const semicolon = line.indexOf(";");
          const hex = (semicolon === -1 ? line : line.slice(0, semicolon)).trim();
          if (!/^[0-9a-fA-F]+$/.test(hex)) return completed + this.#fail(`bad chunk size ${JSON.stringify(line.slice(0, 20))}`);
          const size = parseInt(hex, 16);
          if (size === 0) {
            // The last chunk: the server ended the stream.
            this.#state = DONE;
            return completed;
          }
          this.#remaining = size;
          this.#state = CHUNK_DATA;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.#remaining, length - index);
          completed += this.#body(index === 0 && take === length ? chunk : chunk.subarray(index, index + take));
          index += take;
          this.#remaining -= take;
          if (this.#remaining === 0) {
            this.#state = CHUNK_END;
            this.#crlfLeft = 2;
          }
          break;
        }
        case CHUNK_END: {
          const byte = chunk[index]!;
          if (byte !== (this.#crlfLeft === 2 ? CR : LF)) return completed + this.#fail("chunk data not followed by CRLF");
          index++;
          if (--this.#crlfLeft === 0) this.#state = CHUNK_SIZE;
          break;
        }
        default:
          return completed;
      }
    }
    return completed;
  }

  #fail(reason: string): number {
    this.error = reason;
    this.#state = DONE;
    return 0;
  }
}
