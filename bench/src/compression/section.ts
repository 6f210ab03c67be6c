/**
 * The compression section: what `app.enableCompression({ sse: true })` saves
 * and costs on the dashboard demo's stream (examples/dashboard.ts: real
 * process metrics, one `metrics` event per sample). The same server runs with
 * compression off, gzip and brotli; N clients (node:http, decoding as a browser
 * does) read it for a measured window. Per setup: wire bytes per event, the
 * saving over off, the server's CPU per delivery (process.cpuUsage over the
 * window / events delivered), and the server's RSS per open stream.
 */
import { request as httpRequest, type ClientRequest } from "node:http";
import zlib from "node:zlib";
import type { BenchConfig } from "../config.js";
import type { RunContext } from "../context.js";
import type { ExtraSection } from "../harness.js";
import { table, thousands } from "../report.js";
import { Worker } from "../worker.js";

/** The three setups, in the order they run. */
export type CompressionSetup = "off" | "gzip" | "br";

/** One setup's figures. */
export interface CompressionRow {
  setup: CompressionSetup;
  clients: number;
  /** Events every client decoded in the window, summed. */
  deliveries: number;
  /** Body bytes on the wire (after HTTP chunk framing is removed, before decoding) per delivered event. */
  wireBytesPerEvent: number;
  /** Decoded SSE bytes per delivered event (the same for every setup, up to the samples' own variation). */
  decodedBytesPerEvent: number;
  /** Server CPU (user + system) per delivery, microseconds. */
  cpuUsPerDelivery: number;
  /** Server RSS growth per open stream, from before the clients connected to while they are open. */
  rssPerStreamKb: number;
}

/** The section's result. */
export interface CompressionSectionResult {
  intervalMs: number;
  windowMs: number;
  rows: CompressionRow[];
}

const SERVER_SCRIPT = "src/compression/server.ts";
const SETUPS: CompressionSetup[] = ["off", "gzip", "br"];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Client {
  request: ClientRequest;
  wireBytes: number;
  decodedBytes: number;
  events: number;
}

/** Open one stream the way a browser reads it: decoded as it arrives. */
function connect(port: number, setup: CompressionSetup): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client: Client = { request: undefined as unknown as ClientRequest, wireBytes: 0, decodedBytes: 0, events: 0 };
    const headers = setup === "off" ? {} : { "Accept-Encoding": setup };
    client.request = httpRequest({ host: "127.0.0.1", port, path: "/metrics", headers, agent: false }, (res) => {
      const coding = res.headers["content-encoding"];
      if ((coding ?? "off") !== setup) {
        reject(new Error(`expected content-encoding ${setup}, got ${coding}`));
        return;
      }
      res.on("data", (chunk: Buffer) => (client.wireBytes += chunk.length));
      const decoded =
        coding === "gzip"
          ? res.pipe(zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH }))
          : coding === "br"
            ? res.pipe(zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH }))
            : res;
      decoded.on("data", (chunk: Buffer) => {
        client.decodedBytes += chunk.length;
        // Each event is one `event: metrics` line; a chunk never splits it from its frame here (one frame per flush).
        for (let at = chunk.indexOf("event: metrics"); at !== -1; at = chunk.indexOf("event: metrics", at + 1)) client.events++;
      });
      decoded.on("error", () => {});
      resolve(client);
    });
    client.request.on("error", reject);
    client.request.end();
  });
}

async function runSetup(setup: CompressionSetup, clients: number, intervalMs: number, windowMs: number, context: RunContext): Promise<CompressionRow> {
  const server = await Worker.start(SERVER_SCRIPT, {
    label: `compression server (${setup})`,
    core: context.serverCore,
    exposeGc: true,
    args: [`--coding=${setup}`, `--interval=${intervalMs}`],
  });
  try {
    const port = server.info.port as number;
    const rssBefore = (await server.request("rss")) as number;
    const open: Client[] = [];
    for (let i = 0; i < clients; i += 50) open.push(...(await Promise.all(Array.from({ length: Math.min(50, clients - i) }, () => connect(port, setup)))));
    await sleep(1000);
    const rssOpen = (await server.request("rss")) as number;
    for (const client of open) client.wireBytes = client.decodedBytes = client.events = 0;
    const cpuBefore = (await server.request("cpu")) as NodeJS.CpuUsage;
    await sleep(windowMs);
    const cpuAfter = (await server.request("cpu")) as NodeJS.CpuUsage;
    const deliveries = open.reduce((sum, c) => sum + c.events, 0);
    const wire = open.reduce((sum, c) => sum + c.wireBytes, 0);
    const decoded = open.reduce((sum, c) => sum + c.decodedBytes, 0);
    for (const client of open) client.request.destroy();
    const cpuUs = cpuAfter.user - cpuBefore.user + (cpuAfter.system - cpuBefore.system);
    return {
      setup,
      clients,
      deliveries,
      wireBytesPerEvent: deliveries ? wire / deliveries : 0,
      decodedBytesPerEvent: deliveries ? decoded / deliveries : 0,
      cpuUsPerDelivery: deliveries ? cpuUs / deliveries : 0,
      rssPerStreamKb: (rssOpen - rssBefore) / clients / 1024,
    };
  } finally {
    await server.stop();
  }
}

/** The compression section (`--sections=compression`). */
export const COMPRESSION_SECTION: ExtraSection = {
  id: "compression",
  title: "Compressed SSE (dashboard stream)",
  connections: (config) => clientsFor(config),
  async run(context: RunContext, config: BenchConfig): Promise<CompressionSectionResult> {
    const clients = clientsFor(config);
    const intervalMs = 20;
    const windowMs = config.profile === "full" ? 10_000 : config.profile === "quick" ? 3000 : 1000;
    const rows: CompressionRow[] = [];
    for (const setup of SETUPS) {
      context.log(`compression: ${setup}, ${clients} clients, a sample every ${intervalMs} ms, ${windowMs} ms measured`);
      rows.push(await runSetup(setup, clients, intervalMs, windowMs, context));
    }
    return { intervalMs, windowMs, rows };
  },
  render(raw: unknown): string {
    const result = raw as CompressionSectionResult;
    const off = result.rows.find((row) => row.setup === "off");
    const rows = result.rows.map((row) => [
      row.setup,
      thousands(row.clients),
      thousands(row.deliveries),
      row.wireBytesPerEvent.toFixed(0),
      off && row !== off ? `${((1 - row.wireBytesPerEvent / off.wireBytesPerEvent) * 100).toFixed(0)}%` : "",
      row.cpuUsPerDelivery.toFixed(2),
      off && row !== off ? `+${(row.cpuUsPerDelivery - off.cpuUsPerDelivery).toFixed(2)}` : "",
      row.rssPerStreamKb.toFixed(0),
    ]);
    return [
      table(["Coding", "Clients", "Deliveries", "Wire B/event", "Saved", "Server CPU µs/delivery", "Added µs", "RSS KB/stream"], rows),
      "",
      `The dashboard demo's \`metrics\` stream (a sample every ${result.intervalMs} ms, ${result.windowMs} ms measured), read by node:http clients that decode as they go. ` +
        "Compressed streams are flushed at every write (one per event here), so each event carries its own sync-flush marker; the saving comes from the zlib window repeating the JSON keys of earlier samples. " +
        "CPU is the server process's own (process.cpuUsage); the clients run in the runner.",
    ].join("\n");
  },
};

function clientsFor(config: BenchConfig): number {
  return config.profile === "full" ? 500 : config.profile === "quick" ? 200 : 20;
}
