/**
 * The fan-out micro-benchmark behind the engine work of issue 15, item 5:
 * server CPU per delivery, Cello.ts channels against the raw `net` floor, with
 * raw-socket holders. Not part of `pnpm bench` (the SSE section measures
 * fan-out); run it by hand to compare engine changes:
 *
 *   node --import tsx src/connections/micro.ts [--clients 3000] [--rounds 5]
 *     [--ticks 40] [--tick-events 10] [--interval 50] [--size 128] [--per-holder 1000] [--systems cello,floor] [--cpu-prof-dir DIR]
 *
 * Per round: the server publishes `ticks` ticks of `tick-events` events; the
 * server's CPU is read before the first and after every holder has received
 * every frame. Prints the median µs of server CPU per delivery per system.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "../worker.js";

const arg = (name: string, fallback: string) => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? fallback : process.argv[index + 1]!;
};
const clients = Number(arg("clients", "3000"));
const rounds = Number(arg("rounds", "5"));
const ticks = Number(arg("ticks", "40"));
const tickEvents = Number(arg("tick-events", "10"));
const intervalMs = Number(arg("interval", "50"));
const size = Number(arg("size", "128"));
const systems = arg("systems", "floor,cello").split(",");
const profileDir = arg("cpu-prof-dir", "");
const perHolder = Number(arg("per-holder", "1000"));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

interface Status {
  open: number;
  frames: number;
  heartbeats: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

for (const system of systems) {
  const server = await Worker.start(here("./server.ts"), { label: `server ${system}`, fdLimit: 20_000, args: [system, "--heartbeat", "0"], nodeFlags: profileDir ? ["--cpu-prof", "--cpu-prof-dir", `${profileDir}/${system}`] : [] });
  const holders: Worker[] = [];
  try {
    const port = server.info.port as number;
    for (let left = clients, i = 0; left > 0; left -= perHolder, i++) {
      const holder = await Worker.start(here("./holder.ts"), { label: `holder ${i}`, fdLimit: 20_000 });
      holders.push(holder);
      const result = await holder.request<{ failures: number; firstError?: string }>("connect", { port, count: Math.min(perHolder, left), localAddress: `127.0.0.${2 + i}`, concurrency: 64, timeoutMs: 30_000 }, 300_000);
      if (result.failures > 0) throw new Error(`${result.failures} connections failed: ${result.firstError}`);
    }
    const frames = async () => (await Promise.all(holders.map((h) => h.request<Status>("status")))).reduce((sum, s) => sum + s.frames, 0);
    const perDelivery: number[] = [];
    // The first round warms up the JIT and is not counted.
    for (let round = 0; round <= rounds; round++) {
      const before = await frames();
      const cpu0 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
      const burst = await server.request<{ events: number }>("burst", { ticks, tickEvents, size, intervalMs }, 300_000);
      const expected = before + burst.events * clients;
      const deadline = Date.now() + 60_000;
      while ((await frames()) < expected) {
        if (Date.now() > deadline) throw new Error(`${system}: ${expected - (await frames())} frames missing`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const cpu1 = (await server.request<{ cpuUs: number }>("cpu")).cpuUs;
      if (round > 0) perDelivery.push((cpu1 - cpu0) / (burst.events * clients));
    }
    const m = median(perDelivery);
    process.stdout.write(`${system}: ${clients} clients, ${ticks}x${tickEvents} events of ${size} B per round: median ${m.toFixed(3)} µs CPU per delivery (${(1 / m).toFixed(2)} M deliveries per CPU-s); rounds ${perDelivery.map((v) => v.toFixed(3)).join(" ")}\n`);
  } finally {
    for (const holder of holders) await holder.stop();
    await server.stop();
  }
}
