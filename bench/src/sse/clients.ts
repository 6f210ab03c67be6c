/**
 * The SSE load process: holds N plain node:http client connections to the
 * server under test, counts the event frames each receives, and (for one
 * client in `latencyEvery`) measures publish-to-receive latency. Driven by the
 * runner over IPC; runs on its own core.
 */
import { request, type ClientRequest } from "node:http";
import { announceReady, serveIpc, wallNow } from "../ipc.js";
import { FrameCounter, LatencyProbe, summarize } from "./frames.js";

interface Client {
  counter: FrameCounter;
  request: ClientRequest;
}

/** Options of the `connect` command. */
export interface ConnectRequest {
  port: number;
  path: string;
  clients: number;
  latencyEvery: number;
  /** Connections being opened at once (the server's accept backlog is finite). */
  concurrency: number;
  /** Spread connections over 127.0.0.1 .. 127.0.0.<n> when one address has too few ephemeral ports. */
  sourceAddresses: number;
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
}

let clients: Client[] = [];
let frames = 0;
let lastFrameAt = 0;
let closedEarly = 0;
let closing = false;
let cpuAtReset = process.cpuUsage();
let resetAt = performance.now();
// Shared by every probe: reset empties it in place.
const samples: number[] = [];

function open(port: number, path: string, localAddress: string | undefined, probe: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false, localAddress, headers: { accept: "text/event-stream" } });
    const counter = new FrameCounter();
    req.once("response", (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${path} answered ${res.statusCode}`));
        return;
      }
      if (probe) {
        const latency = new LatencyProbe(samples);
        res.on("data", (chunk: Buffer) => {
          const receivedAt = wallNow();
          const completed = counter.push(chunk);
          if (completed > 0) {
            frames += completed;
            lastFrameAt = receivedAt;
            latency.push(chunk, receivedAt);
          }
        });
      } else {
        res.on("data", (chunk: Buffer) => {
          const completed = counter.push(chunk);
          if (completed > 0) {
            frames += completed;
            lastFrameAt = wallNow();
          }
        });
      }
      res.once("close", () => {
        if (!closing) closedEarly++;
      });
      resolve({ counter, request: req });
    });
    req.once("error", reject);
    req.end();
  });
}

async function connect(options: ConnectRequest): Promise<ConnectResult> {
  const started = Date.now();
  closing = false;
  let next = 0;
  let failures = 0;
  let firstError: string | undefined;
  const opened: Client[] = [];
  const lane = async () => {
    while (next < options.clients) {
      const index = next++;
      const localAddress = options.sourceAddresses > 1 ? `127.0.0.${1 + (index % options.sourceAddresses)}` : undefined;
      try {
        // The probe clients are spread evenly: every latencyEvery-th connection.
        opened.push(await open(options.port, options.path, localAddress, index % options.latencyEvery === 0));
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
  for (const client of clients) client.counter.count = 0;
  cpuAtReset = process.cpuUsage();
  resetAt = performance.now();
}

function status(): StatusResult {
  return { frames, lastFrameAt, closedEarly };
}

function collect(expectedPerClient: number): CollectResult {
  let clientsShort = 0;
  for (const client of clients) if (client.counter.count < expectedPerClient) clientsShort++;
  const cpu = process.cpuUsage(cpuAtReset);
  const cpuPct = Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, performance.now() - resetAt)) * 1000) / 10;
  return { ...status(), clientsShort, cpuPct, latency: summarize(samples) };
}

function closeAll(): void {
  closing = true;
  for (const client of clients) client.request.destroy();
  clients = [];
}

serveIpc({
  connect: (req) => connect(req as unknown as ConnectRequest),
  reset: () => reset(),
  status: () => status(),
  collect: (req) => collect(req.expectedPerClient as number),
  close: () => closeAll(),
});
announceReady({ pid: process.pid });
