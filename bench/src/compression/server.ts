/**
 * The compression section's server: the dashboard demo (examples/dashboard.ts,
 * real process metrics published on a channel) with its samples every
 * `--interval` ms, and `app.enableCompression({ sse: true, encodings: [coding] })`
 * unless `--coding=off`. Answers `cpu` (process.cpuUsage) and `rss` over IPC.
 */
import { createDashboardApp } from "../../../examples/dashboard.js";
import { announceReady, serveIpc } from "../ipc.js";
import type { AddressInfo } from "node:net";

const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const coding = option("coding") ?? "off";
const app = createDashboardApp({ intervalMs: Number(option("interval") ?? 20), backfill: 0 });
if (coding === "gzip" || coding === "br") app.enableCompression({ encodings: [coding], sse: true });
else if (coding !== "off") throw new Error(`unknown --coding=${coding} (off, gzip or br)`);
await app.listen({ host: "127.0.0.1", port: 0 });

serveIpc({
  cpu: () => process.cpuUsage(),
  rss: () => {
    globalThis.gc?.();
    return process.memoryUsage().rss;
  },
  streams: () => app.openStreams,
});
announceReady({ port: (app.server!.address() as AddressInfo).port });
