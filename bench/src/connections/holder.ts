/**
 * A connection holder of the connections section: raw TCP sockets from one
 * loopback source address, each sending one `GET /sse` and then only counting
 * what arrives (bytes, SSE frames, heartbeats). No HTTP or SSE parsing beyond
 * finding the end of the head and counting blank lines, so a holder costs the
 * server's measurement nothing and holds thousands of sockets cheaply.
 *
 * Commands (IPC): `connect` (open `count` more streams), `status`, `close`.
 */
import { connect, type Socket } from "node:net";
import { announceReady, serveIpc } from "../ipc.js";
import { FrameCounter } from "./frames.js";

const sockets = new Set<Socket>();
const counter = new FrameCounter();
let closedEarly = 0;

interface ConnectRequest {
  port: number;
  count: number;
  localAddress: string;
  concurrency: number;
  timeoutMs: number;
}

/** Open one stream; resolves once its head and first frame arrived, rejects if it fails first. */
function open(request: ConnectRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: request.port, localAddress: request.localAddress });
    const state = counter.stream();
    let streaming = false;
    socket.setNoDelay(true);
    socket.on("connect", () => socket.write(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
    socket.on("data", (data: Buffer) => {
      counter.feed(state, data);
      if (!streaming && state.frames > 0) {
        streaming = true;
        sockets.add(socket);
        resolve();
      }
    });
    socket.on("error", (err) => {
      if (!streaming) reject(err);
    });
    socket.on("close", () => {
      if (streaming && sockets.delete(socket)) closedEarly++;
      if (!streaming) reject(new Error("closed before the stream started"));
    });
    socket.setTimeout(request.timeoutMs, () => {
      if (streaming) return socket.setTimeout(0);
      socket.destroy(new Error(`no stream within ${request.timeoutMs} ms`));
    });
  });
}

serveIpc({
  connect: async (message) => {
    const request = message as unknown as ConnectRequest;
    const started = performance.now();
    let next = 0;
    let failures = 0;
    let firstError: string | undefined;
    const lane = async () => {
      while (next < request.count) {
        next++;
        try {
          await open(request);
        } catch (err) {
          failures++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, lane));
    return { connected: request.count - failures, failures, firstError, ms: performance.now() - started };
  },
  status: () => ({ open: sockets.size, closedEarly, ...counter.totals() }),
  close: () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    return true;
  },
});
announceReady({ pid: process.pid });
