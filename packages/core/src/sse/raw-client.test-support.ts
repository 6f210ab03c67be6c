// Test support: a bare TCP client for SSE, for what an HTTP client library hides
// (never reading, counting socket chunks, thousands of cheap connections).
import { connect, type Socket } from "node:net";

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
