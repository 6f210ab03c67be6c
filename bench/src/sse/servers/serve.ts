/**
 * What every SSE server under test shares: the publisher (fixed-rate ticks of
 * events stamped with the wall clock), memory and CPU readings, and the IPC
 * commands the runner drives them with. A server only says how it accepts a
 * client on `GET /sse` and how it sends one tick's events to all of them.
 */
import { writeHeapSnapshot } from "node:v8";
import { announceReady, serveIpc, wallNow, type IpcHandlers } from "../../ipc.js";
import { summarize } from "../frames.js";

/** Host every server binds: loopback only. */
export const HOST = "127.0.0.1";

/** The event type every server sends (`event: tick`). */
export const EVENT_NAME = "tick";

/** One event of a tick: its `data` is a one-line JSON text carrying the publish time. */
export interface TickEvent {
  data: string;
}

/** A server under test, as the publisher sees it. */
export interface SseServer {
  /** Listen on {@link HOST}, port 0, and resolve with the port. Clients connect to `GET /sse`. */
  listen(): Promise<number>;
  /** Clients connected now. */
  clients(): number;
  /** Send every event of one tick to every client, in order. */
  publish(events: readonly TickEvent[]): void;
  /** Further IPC commands this server answers (the built-in ones win a name clash). */
  commands?: IpcHandlers;
}

/** The `publish` command: `rate` events/s per client, `tickEvents` per tick, `size` bytes of data each, for `durationMs`. */
export interface PublishRequest {
  rate: number;
  size: number;
  tickEvents: number;
  durationMs: number;
}

/** What the publisher did. */
export interface PublishReport {
  /** Events published (each should reach every client). */
  events: number;
  ticks: number;
  /** Ticks not published because the previous ones ran late (the server was saturated). */
  skippedTicks: number;
  startedAt: number;
  endedAt: number;
  /** process.cpuUsage() total (user + system) at the start, in µs. */
  cpuStartUs: number;
  /**
   * Per tick, ms from the publish until the server's event loop had come round
   * twice (so a flush it deferred with setImmediate, as Cello.ts does, is
   * included): the server's own share of the latency, at least the time it
   * takes to hand one tick to every client's socket.
   */
  sendMs: { count: number; p50: number; p99: number; max: number };
}

/** Memory after garbage collection. */
export interface MemoryReading {
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
}

const PADDING = "x".repeat(64 * 1024);

/**
 * One event's data: `{"t":<wall ms>,"i":<seq>,"p":"xxx…"}`, padded to `size` bytes.
 * @example eventData(1712000000000.123, 7, 128).length // 128
 */
export function eventData(sentAt: number, seq: number, size: number): string {
  const head = `{"t":${sentAt.toFixed(3)},"i":${seq},"p":"`;
  return `${head}${PADDING.slice(0, Math.max(0, size - head.length - 2))}"}`;
}

function publish(server: SseServer, request: PublishRequest): Promise<PublishReport> {
  const intervalMs = (request.tickEvents * 1000) / request.rate;
  const ticks = Math.max(1, Math.round(request.durationMs / intervalMs));
  const cpu = process.cpuUsage();
  const startedAt = wallNow();
  let slot = 0;
  let published = 0;
  let skippedTicks = 0;
  let seq = 0;
  const sendTimes: number[] = [];
  return new Promise((resolve) => {
    const tick = () => {
      const now = wallNow();
      // A tick that comes late does not publish the slots it missed: a
      // saturated server then publishes less, instead of an ever-growing backlog.
      const due = Math.min(Math.floor((now - startedAt) / intervalMs), ticks - 1);
      if (due > slot) {
        skippedTicks += due - slot;
        slot = due;
      }
      const events: TickEvent[] = [];
      for (let i = 0; i < request.tickEvents; i++) events.push({ data: eventData(now, seq++, request.size) });
      server.publish(events);
      published += events.length;
      slot++;
      const last = slot >= ticks;
      setImmediate(() =>
        setImmediate(() => {
          sendTimes.push(wallNow() - now);
          if (last) {
            const report = { events: published, ticks, skippedTicks, startedAt, endedAt: wallNow(), cpuStartUs: cpu.user + cpu.system };
            resolve({ ...report, sendMs: summarize(sendTimes) });
          }
        }),
      );
      if (last) return;
      setTimeout(tick, Math.max(0, startedAt + slot * intervalMs - wallNow()));
    };
    tick();
  });
}

async function measureMemory(): Promise<MemoryReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("start the server with --expose-gc to measure memory");
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, rss, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, rss, external, arrayBuffers };
}

/**
 * Start an SSE server under test and answer the runner's commands:
 * `clients`, `publish`, `memory`, `cpu`, and `heapSnapshot` (for digging into
 * what an idle connection holds; not used by the runs).
 *
 * @param server - The system under test.
 * @example await serveSse({ listen, clients: () => set.size, publish: (events) => { ... } });
 */
export async function serveSse(server: SseServer): Promise<void> {
  serveIpc({
    ...server.commands,
    clients: () => server.clients(),
    publish: (request) => publish(server, request as unknown as PublishRequest),
    memory: () => measureMemory(),
    heapSnapshot: (request) => writeHeapSnapshot(request.path as string),
    cpu: () => {
      const usage = process.cpuUsage();
      return { cpuUs: usage.user + usage.system, at: wallNow() };
    },
  });
  const port = await server.listen();
  announceReady({ port, pid: process.pid });
}
