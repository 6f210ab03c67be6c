/**
 * The server of the connections section: Cello.ts (one process, or `--workers N`
 * through `app.run()`), or the raw `net` floor, holding idle SSE streams.
 *
 * `node server.ts cello|floor [--workers N] [--heartbeat MS]`
 *
 * The floor is what Node itself needs per streaming connection: a `net` server
 * that answers any request with an SSE head, then writes pre-framed HTTP chunks
 * (one Buffer shared by every socket) for events and heartbeats, from one timer.
 *
 * Commands (IPC, answered by the process the runner started; with workers, the
 * primary, which reads its workers from /proc): `clients`, `memory` (after GC),
 * `cpu`, `timers`, `publish` (one event to every client), `burst` (the fan-out
 * micro-benchmark's ticks).
 */
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { writeHeapSnapshot } from "node:v8";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { App, silentLogger } from "@cellojs/core";
import { announceReady, serveIpc } from "../ipc.js";

const HOST = "127.0.0.1";
const system = process.argv[2] ?? "cello";
const flag = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
};
const workers = flag("workers", 1);
const heartbeatMs = flag("heartbeat", 15_000);

/** One event's data, `size` bytes of JSON. */
function eventData(seq: number, size: number): string {
  const head = `{"i":${seq},"p":"`;
  return `${head}${"x".repeat(Math.max(0, size - head.length - 2))}"}`;
}

/** `payload` as one HTTP/1.1 chunk. */
function chunk(payload: string): Buffer {
  return Buffer.from(`${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`);
}

interface Target {
  listen(): Promise<number>;
  clients(): number;
  /** Send `events` events of `size` bytes to every client as one tick. */
  publish(events: number, size: number, seq: number): void;
}

function floor(): Target {
  const sockets = new Set<Socket>();
  const head = Buffer.concat([
    Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"),
    chunk(": ok\n\n"),
  ]);
  const heartbeat = chunk(":\n\n");
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => {
      socket.write(head);
      sockets.add(socket);
    });
    socket.once("close", () => sockets.delete(socket));
  });
  if (heartbeatMs > 0) setInterval(() => {
    for (const socket of sockets) socket.write(heartbeat);
  }, heartbeatMs).unref();
  return {
    listen: () => new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))),
    clients: () => sockets.size,
    publish(events, size, seq) {
      let text = "";
      for (let i = 0; i < events; i++) text += `event: tick\ndata: ${eventData(seq + i, size)}\n\n`;
      const bytes = chunk(text);
      for (const socket of sockets) socket.write(bytes);
    },
  };
}

function cello(): { app: App; target: Target } {
  // The heartbeat set once for the app, as users set it: every stream shares one options object.
  const app = new App({ logger: silentLogger, sse: { heartbeatMs } });
  const channel = app.channel("ticks");
  app.get("/sse", (request) => channel.subscribe(request));
  // For workers: the primary asks a worker to publish (the event reaches every worker through the primary's broker).
  app.get("/publish", (request) => {
    const events = Number(request.query.events);
    const size = Number(request.query.size);
    const seq = Number(request.query.seq);
    for (let i = 0; i < events; i++) void channel.publish(eventData(seq + i, size), { event: "tick" });
    return { ok: true };
  });
  return {
    app,
    target: {
      listen: async () => (await app.run({ host: HOST, port: 0, workers })).port,
      clients: () => (workers > 1 ? -1 : channel.size),
      publish(events, size, seq) {
        for (let i = 0; i < events; i++) void channel.publish(eventData(seq + i, size), { event: "tick" });
      },
    },
  };
}

/** Resident set size of `pid` from /proc (bytes). */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

/** CPU time of `pid` (user + system) from /proc, in µs (clock ticks of 10 ms). */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat (utime, stime), counted from the state field (3).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("start the server with --expose-gc to measure memory");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const workerPids = (): number[] => Object.values(cluster.workers ?? {}).map((worker) => worker!.process.pid!);

if (cluster.isWorker) {
  // A worker of `--workers N`: serves the app, answers nothing of the runner's.
  await cello().target.listen();
} else {
  const target = system === "floor" ? floor() : cello().target;
  let seq = 0;
  const clustered = system === "cello" && workers > 1;
  serveIpc({
    clients: () => target.clients(),
    // For digging into what a connection holds (not used by the section's runs).
    heapSnapshot: async (request) => {
      await collectGarbage();
      return writeHeapSnapshot(request.path as string);
    },
    memory: async () => {
      await collectGarbage();
      if (!clustered) {
        const { heapUsed, rss } = process.memoryUsage();
        return { heapUsed, rss };
      }
      // Workers: their RSS from /proc (their heap is not reachable from here).
      return { heapUsed: null, rss: workerPids().reduce((sum, pid) => sum + rssOf(pid), 0), primaryRss: process.memoryUsage().rss };
    },
    cpu: () => {
      if (!clustered) {
        const usage = process.cpuUsage();
        return { cpuUs: usage.user + usage.system };
      }
      return { cpuUs: workerPids().reduce((sum, pid) => sum + cpuOf(pid), 0) };
    },
    // Timers and other handles: a per-connection timer would make Timeout grow with the clients.
    timers: () => (clustered ? null : process.getActiveResourcesInfo().filter((name) => name === "Timeout").length),
    publish: async (request) => {
      const events = Number(request.events ?? 1);
      const size = Number(request.size ?? 64);
      const first = seq;
      seq += events;
      if (clustered) await fetch(`http://${HOST}:${port}/publish?events=${events}&size=${size}&seq=${first}`).then((res) => res.text());
      else target.publish(events, size, first);
      return { events };
    },
    /** `ticks` ticks of `tickEvents` events, `intervalMs` apart; replies with the CPU they took once the writes are out. */
    burst: async (request) => {
      const ticks = Number(request.ticks);
      const tickEvents = Number(request.tickEvents);
      const size = Number(request.size);
      const intervalMs = Number(request.intervalMs);
      const before = process.cpuUsage();
      const started = performance.now();
      for (let tick = 0; tick < ticks; tick++) {
        const wait = started + tick * intervalMs - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        target.publish(tickEvents, size, seq);
        seq += tickEvents;
      }
      await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
      const used = process.cpuUsage(before);
      return { events: ticks * tickEvents, cpuUs: used.user + used.system };
    },
  });
  const port = await target.listen();
  announceReady({ port, pid: process.pid });
}
