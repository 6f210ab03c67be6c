// Test support: a bare TCP client for SSE, for what an HTTP client library hides
// (never reading, counting socket chunks, thousands of cheap connections).
import { connect, type Socket } from "node:net";
import { createParser } from "@cellojs/client";

export interface RawSse {
  socket: Socket;
  /** Everything received so far (head and body). */
  text(): string;
  /** The body after the head, once the head arrived. */
  body(): string;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  /** Resolves once `predicate(text())` is true. */
  until(predicate: (text: string) => boolean, timeoutMs?: number): Promise<string>;
}

/** Open `GET path` on a raw socket. With `read: false` the client never reads (a stalled reader). */
export function rawSse(port: number, path: string, options: { read?: boolean; headers?: Record<string, string>; allowHalfOpen?: boolean } = {}): Promise<RawSse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: options.allowHalfOpen ?? false });
    const chunks: string[] = [];
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    const waiters = new Set<() => void>();
    socket.on("close", () => {
      closedResolve();
      for (const w of waiters) w();
    });
    socket.on("error", () => {});
    socket.once("connect", () => {
      const extra = Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}\r\n`);
      if (options.read === false) socket.pause();
      else
        socket.on("data", (chunk) => {
          chunks.push(chunk.toString("utf8"));
          for (const w of waiters) w();
        });
      const text = () => chunks.join("");
      resolve({
        socket,
        text,
        body: () => {
          const all = text();
          const at = all.indexOf("\r\n\r\n");
          return at === -1 ? "" : all.slice(at + 4);
        },
        closed,
        until: (predicate, timeoutMs = 5000) =>
          new Promise((res, rej) => {
            const check = () => {
              if (predicate(text())) {
                waiters.delete(check);
                clearTimeout(timer);
                res(text());
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`timed out; received ${JSON.stringify(text().slice(-300))}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      });
    });
    socket.once("error", reject);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CountingSse {
  socket: Socket;
  /** Events received so far. */
  readonly count: number;
  /** The id of the last event received. */
  readonly lastId: string;
  /** Events whose id was not the one `isNext` expected after the previous one (gaps, repeats, disorder). */
  readonly misordered: number;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
  /** Resolves once `count` events have arrived. */
  until(count: number, timeoutMs?: number): Promise<void>;
}

/**
 * Open `GET path` as HTTP/1.0 (the body then comes unframed) and count the
 * events without keeping them: for streams too large to hold in a test, and for
 * memory measurements the client must not inflate. `isNext(previous, id)` says
 * whether `id` is the one expected after `previous` ("" for the first event).
 * With `pace`, the client reads at most `bytes` every `everyMs` (a slow reader).
 */
export function countingSse(
  port: number,
  path: string,
  options: { headers?: Record<string, string>; isNext?: (previous: string, id: string) => boolean; pace?: { bytes: number; everyMs: number } } = {},
): Promise<CountingSse> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let count = 0;
    let lastId = "";
    let misordered = 0;
    let headDone = false;
    let head = "";
    const waiters = new Set<() => void>();
    const parser = createParser({
      onEvent: (event) => {
        if (options.isNext && !options.isNext(lastId, event.id)) misordered++;
        lastId = event.id;
        count++;
      },
    });
    const onChunk = (chunk: Buffer) => {
      if (headDone) parser.feed(chunk);
      else {
        head += chunk.toString("latin1");
        const at = head.indexOf("\r\n\r\n");
        if (at === -1) return;
        headDone = true;
        parser.feed(Buffer.from(head.slice(at + 4), "latin1"));
        head = "";
      }
      for (const w of waiters) w();
    };
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    let pacer: NodeJS.Timeout | undefined;
    socket.on("close", () => {
      clearInterval(pacer);
      closedResolve();
      for (const w of waiters) w();
    });
    socket.on("error", () => {});
    socket.once("connect", () => {
      const extra = Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      socket.write(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${extra}\r\n`);
      const pace = options.pace;
      if (pace === undefined) socket.on("data", onChunk);
      else {
        // Paused mode: the socket buffers a little, then the kernel's buffers fill and the server must wait.
        socket.on("readable", () => {});
        pacer = setInterval(() => {
          let budget = pace.bytes;
          for (let chunk: Buffer | null; budget > 0 && (chunk = socket.read() as Buffer | null) !== null; budget -= chunk.length) onChunk(chunk);
        }, pace.everyMs);
      }
      resolve({
        socket,
        get count() {
          return count;
        },
        get lastId() {
          return lastId;
        },
        get misordered() {
          return misordered;
        },
        closed,
        until: (target, timeoutMs = 10_000) =>
          new Promise<void>((res, rej) => {
            const check = () => {
              if (count < target) return;
              waiters.delete(check);
              clearTimeout(timer);
              res();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`timed out with ${count} of ${target} events (last id ${JSON.stringify(lastId)})`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      });
    });
    socket.once("error", reject);
  });
}

export interface Pipelined {
  socket: Socket;
  text(): string;
  /** Resolves once `predicate(text())` holds; rejects with what came after `timeoutMs`. */
  until(predicate: (text: string) => boolean, timeoutMs?: number): Promise<void>;
  closed: Promise<void>;
}

/** Send GET `paths` in one write on one connection (pipelined) and collect what comes back. */
export function pipelined(port: number, paths: string[]): Promise<Pipelined> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let text = "";
    const waiters = new Set<() => void>();
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      for (const check of [...waiters]) check();
    });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n`).join(""));
      resolve({
        socket,
        text: () => text,
        closed,
        until: (predicate, timeoutMs = 5000) =>
          new Promise((done, fail) => {
            const check = () => {
              if (!predicate(text)) return;
              waiters.delete(check);
              clearTimeout(timer);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`timed out; received ${JSON.stringify(text)}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
      });
    });
  });
}

export interface RawHttpResponse {
  head: string;
  body: string;
  /** The body's end arrived (all of Content-Length, or the last chunk). */
  complete: boolean;
}

/** Split what one connection received into its responses, chunked bodies decoded. */
export function responses(text: string): RawHttpResponse[] {
  const out: RawHttpResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf("\r\n\r\n", at);
    if (headEnd === -1) throw new Error(`a response head is cut: ${JSON.stringify(text.slice(at))}`);
    const head = text.slice(at, headEnd);
    at = headEnd + 4;
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (length) {
      const body = text.slice(at, at + Number(length[1]));
      at += body.length;
      out.push({ head, body, complete: body.length === Number(length[1]) });
      continue;
    }
    if (!/\r\ntransfer-encoding: *chunked/i.test(head)) throw new Error(`neither Content-Length nor chunked: ${JSON.stringify(head)}`);
    let body = "";
    let complete = false;
    for (;;) {
      const sizeEnd = text.indexOf("\r\n", at);
      if (sizeEnd === -1) break;
      const size = parseInt(text.slice(at, sizeEnd), 16);
      if (text.length < sizeEnd + 2 + size + 2) break;
      body += text.slice(sizeEnd + 2, sizeEnd + 2 + size);
      at = sizeEnd + 2 + size + 2;
      if (size === 0) {
        complete = true;
        break;
      }
    }
    out.push({ head, body, complete });
    if (!complete) break;
  }
  return out;
}
