/**
 * One SSE load process: holds N raw `net` client connections to the server
 * under test (it writes the `GET` itself and reads the response with
 * {@link SseResponseReader}: status line, chunked or connection-delimited body,
 * frame terminators, nothing else), counts the event frames each receives, and
 * (for one client in `latencyEvery`) measures publish-to-receive latency.
 * Driven by the runner over IPC; the SSE section runs several of these
 * (load-pool.ts), the Redis and workers sections one.
 *
 * A node:http client parses every header, allocates a response object and
 * emits through a stream per chunk: at 1 000 clients and 100 ticks/s that took
 * the whole load core, so the latency it reported was its own.
 */
import { connect as netConnect, type Socket } from "node:net";
import { announceReady, serveIpc, wallNow } from "../ipc.js";
import { summarize } from "./frames.js";
import { SseResponseReader } from "./response-reader.js";

interface Client {
  reader: SseResponseReader;
  socket: Socket;
}

/** Options of the `connect` command. */
export interface ConnectRequest {
  port: number;
  path: string;
  clients: number;
  latencyEvery: number;
  /** Connections being opened at once (the server's accept backlog is finite). */
  concurrency: number;
  /** Spread connections over this many source addresses (127.0.0.x) when one address has too few ephemeral ports. */
  sourceAddresses: number;
  /** The first source address is 127.0.0.<firstAddress> (default 1): load processes of one pool use distinct ones. */
  firstAddress?: number;
  /** Index of this process's first client in the whole load, so latency clients stay one in `latencyEvery` across processes (default 0). */
  firstIndex?: number;
}

/** Reply to `connect`. */
export interface ConnectResult {
  connected: number;
  failures: number;
  firstError: string | undefined;
  ms: number;
}

/** Reply to `status`: totals since the last `reset`. */
export interface StatusResult {
  frames: number;
  /** Wall-clock ms of the last counted frame (0 if none). */
  lastFrameAt: number;
  /** Connections the server closed (they should all stay open). */
  closedEarly: number;
}

/** Reply to `collect`. */
export interface CollectResult extends StatusResult {
  /** Clients that received fewer than the expected number of frames. */
  clientsShort: number;
  /** This process's CPU since `reset`, % of one core. */
  cpuPct: number;
  latency: { count: number; p50: number; p99: number; max: number };
  /** The latency samples themselves (ms), when `collect` was asked for them (a pool merges them before taking percentiles). */
  samples?: number[];
}

let clients: Client[] = [];
let frames = 0;
let lastFrameAt = 0;
let closedEarly = 0;
let closing = false;
let cpuAtReset = process.cpuUsage();
let resetAt = performance.now();
// Shared by every latency reader: reset empties it in place.
const samples: number[] = [];

function open(port: number, path: string, localAddress: string | undefined, probe: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const reader = new SseResponseReader(probe ? samples : undefined);
    const socket = netConnect({ host: "127.0.0.1", port, localAddress });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(err);
    };
    socket.once("connect", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`));
    // The head: once it is in, the data handler below only counts.
    const onHead = (chunk: Buffer) => {
      const completed = reader.push(chunk, probe ? wallNow() : 0);
      if (!reader.headComplete) {
        if (reader.error) fail(new Error(`GET ${path}: ${reader.error}`));
        return;
      }
      if (reader.error || reader.status !== 200) {
        fail(new Error(`GET ${path} answered ${reader.error ?? reader.status}`));
        return;
      }
      socket.off("data", onHead);
      if (completed > 0) {
        frames += completed;
        lastFrameAt = wallNow();
      }
      socket.on("data", probe ? onProbeData : onData);
      settled = true;
      resolve({ reader, socket });
    };
    const onData = (chunk: Buffer) => {
      const completed = reader.push(chunk);
      if (completed > 0) {
        frames += completed;
        lastFrameAt = wallNow();
      }
    };
    const onProbeData = (chunk: Buffer) => {
      const receivedAt = wallNow();
      const completed = reader.push(chunk, receivedAt);
      if (completed > 0) {
        frames += completed;
        lastFrameAt = receivedAt;
      }
    };
    socket.on("data", onHead);
    socket.once("error", fail);
    socket.once("close", () => {
      if (!settled) fail(new Error(`GET ${path}: connection closed before the response head`));
      else if (!closing) closedEarly++;
    });
  });
}

async function connect(options: ConnectRequest): Promise<ConnectResult> {
  const started = Date.now();
  closing = false;
  const firstAddress = options.firstAddress ?? 1;
  const firstIndex = options.firstIndex ?? 0;
  let next = 0;
  let failures = 0;
  let firstError: string | undefined;
  const opened: Client[] = [];
  const lane = async () => {
    while (next < options.clients) {
      const index = next++;
      const address = firstAddress + (index % Math.max(1, options.sourceAddresses));
      const localAddress = options.sourceAddresses > 1 || firstAddress !== 1 ? `127.0.0.${address}` : undefined;
      try {
        // The latency clients are spread evenly: every latencyEvery-th connection of the whole load.
        opened.push(await open(options.port, options.path, localAddress, (firstIndex + index) % options.latencyEvery === 0));
      } catch (err) {
        failures++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.clients) }, lane));
  clients = clients.concat(opened);
  return { connected: opened.length, failures, firstError, ms: Date.now() - started };
}

function reset(): void {
  frames = 0;
  lastFrameAt = 0;
  samples.length = 0;
  for (const client of clients) client.reader.count = 0;
  cpuAtReset = process.cpuUsage();
  resetAt = performance.now();
}

function status(): StatusResult {
  return { frames, lastFrameAt, closedEarly };
}

function collect(expectedPerClient: number, withSamples: boolean): CollectResult {
  let clientsShort = 0;
  for (const client of clients) if (client.reader.count < expectedPerClient) clientsShort++;
  const cpu = process.cpuUsage(cpuAtReset);
  const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, performance.now() - resetAt)) * 1000) / 10;
  return { ...status(), clientsShort, cpuPct, latency: summarize(samples), ...(withSamples ? { samples: samples.slice() } : {}) };
}

function closeAll(): void {
  closing = true;
  for (const client of clients) client.socket.destroy();
  clients = [];
}

serveIpc({
  connect: (req) => connect(req as unknown as ConnectRequest),
  reset: () => reset(),
  status: () => status(),
  collect: (req) => collect(req.expectedPerClient as number, req.withSamples === true),
  close: () => closeAll(),
});
announceReady({ pid: process.pid });
