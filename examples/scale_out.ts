/**
 * Scale-out demo: two instances of one app, on two ports, behind one Redis.
 * Each serves the same live stock ticker; a browser on either sees every tick,
 * with the same ids, and can move to the other and resume where it left off.
 *
 * Run:   npx tsx examples/scale_out.ts            (Redis on 127.0.0.1:6379, or set REDIS_URL)
 * Open:  http://127.0.0.1:8001 and http://127.0.0.1:8002 side by side
 * Try:   curl -N http://127.0.0.1:8002/ticker
 * Ports: --ports 9001,9002 (or SCALE_OUT_PORTS); 0 picks free ones.
 *
 * This one command is a small supervisor: it starts the two instances as child
 * processes (this same file with --instance), prefixes their output, and stops
 * both on Ctrl-C. In production a process manager or orchestrator does that
 * job, and a load balancer sits in front (see packages/redis/README.md for the
 * nginx settings SSE needs).
 *
 * Who publishes: each instance runs the ticker for its own symbols (instance 1
 * ACME and GLOBEX, instance 2 INITECH and UMBRELLA). No leader election is
 * needed, and every page shows ticks from both instances: the proof that a
 * publish on one reaches the clients of the other. Stop one instance and its
 * symbols freeze while the other's keep moving.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { App, Response } from "@cellojs/core";
import { redisBroker } from "@cellojs/redis";
import { isMain } from "./main.js";

/** The symbols each instance (1-based) publishes. */
export const SYMBOLS: Record<number, string[]> = { 1: ["ACME", "GLOBEX"], 2: ["INITECH", "UMBRELLA"] };

/** One tick of the ticker channel. */
export interface Tick {
  symbol: string;
  price: number;
  change: number;
  /** Which instance published it, e.g. "instance 1". */
  publishedBy: string;
}

/**
 * Build one instance: the `ticker` channel on a Redis broker, `GET /ticker`
 * (SSE, resumable with Last-Event-ID), `GET /` (the page), and a timer that
 * publishes this instance's symbols.
 *
 * @param instance - 1 or 2: picks the symbols this instance publishes.
 * @param tickMs - Interval between two ticks. Default 400 ms.
 * @example
 * const app = createInstance(1);
 * await app.run({ port: 8001 });
 */
export function createInstance(instance: number, tickMs = 400): App {
  const broker = redisBroker({ prefix: process.env.SCALE_OUT_PREFIX ?? "cello:scale-out:" });
  const app = new App({ broker });
  const ticker = app.channel("ticker", { history: 500 });
  // Refuse to start without Redis rather than serve a ticker that cannot tick.
  app.onEvent("startup", () => broker.ready());

  app.get("/ticker", (req) => ticker.subscribe(req));
  app.get("/", () => Response.html(page(instance)));

  const prices = new Map((SYMBOLS[instance] ?? []).map((symbol, i) => [symbol, 100 + 50 * i + 10 * instance]));
  let turn = 0;
  let failing = false;
  const tick = () => {
    const symbols = [...prices.keys()];
    const symbol = symbols[turn++ % symbols.length]!;
    const previous = prices.get(symbol)!;
    // A random walk, rounded to cents and kept above 1.
    const price = Math.max(1, Math.round((previous + (Math.random() - 0.5) * 2) * 100) / 100);
    prices.set(symbol, price);
    const data: Tick = { symbol, price, change: Math.round((price - previous) * 100) / 100, publishedBy: `instance ${instance}` };
    ticker.publish(data, { event: "tick" }).then(
      () => {
        if (failing) console.log(`instance ${instance}: publishing again`);
        failing = false;
      },
      (err: Error) => {
        // The broker rejects promptly while Redis is away: say so once, keep ticking.
        if (!failing) console.error(`instance ${instance}: ${err.message}`);
        failing = true;
      },
    );
  };
  let timer: NodeJS.Timeout | undefined;
  // Startup handlers run in order: the ticker starts once Redis answered.
  app.onEvent("startup", () => {
    timer = setInterval(tick, tickMs);
    timer.unref();
  });
  app.onEvent("shutdown", () => clearInterval(timer));
  return app;
}

/** The page: an EventSource on /ticker, a table of prices, and the ids as they arrive. Loads nothing from elsewhere. */
function page(instance: number): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Cello.ts scale-out ticker (instance ${instance})</title>
  <link rel="icon" href="data:,">
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 720px; color: #222; }
    table { border-collapse: collapse; width: 100%; margin: 12px 0; }
    th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #ddd; }
    td.num { font-family: monospace; text-align: right; }
    .up { color: #2e7d32; } .down { color: #c62828; }
    .badge { display: inline-block; padding: 2px 8px; border-radius: 4px; background: #e3f2fd; color: #0d47a1; }
    #status { font-size: .9rem; }
    ol { font-family: monospace; font-size: .8rem; color: #555; }
  </style>
</head>
<body>
  <h1>Live ticker</h1>
  <p>This page is served by <span class="badge">instance ${instance}</span> (port <span id="port"></span>).
     Ticks come from both instances through Redis. Status: <span id="status">connecting</span></p>
  <table>
    <thead><tr><th>Symbol</th><th>Price</th><th>Change</th><th>Published by</th></tr></thead>
    <tbody id="rows"></tbody>
  </table>
  <p>Last event ids (the same on every instance; a reconnect resumes after the last one):</p>
  <ol id="ids" reversed></ol>
  <script>
    document.getElementById("port").textContent = location.port;
    const rows = document.getElementById("rows");
    const ids = document.getElementById("ids");
    const status = document.getElementById("status");
    const cells = new Map();
    const source = new EventSource("/ticker");
    source.onopen = () => { status.textContent = "live"; };
    source.onerror = () => { status.textContent = "reconnecting (will resume with Last-Event-ID)"; };
    source.addEventListener("reset", (e) => {
      status.textContent = "missed ticks older than the history: " + e.data;
    });
    source.addEventListener("tick", (e) => {
      const tick = JSON.parse(e.data);
      let row = cells.get(tick.symbol);
      if (!row) {
        row = document.createElement("tr");
        row.innerHTML = "<td></td><td class=num></td><td class=num></td><td></td>";
        cells.set(tick.symbol, row);
        rows.append(...[...cells.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r));
      }
      const [symbol, price, change, by] = row.children;
      symbol.textContent = tick.symbol;
      price.textContent = tick.price.toFixed(2);
      change.textContent = (tick.change >= 0 ? "+" : "") + tick.change.toFixed(2);
      change.className = "num " + (tick.change >= 0 ? "up" : "down");
      by.textContent = tick.publishedBy;
      const item = document.createElement("li");
      item.textContent = e.lastEventId + "  " + tick.symbol;
      ids.prepend(item);
      while (ids.children.length > 10) ids.lastElementChild.remove();
    });
  </script>
</body>
</html>`;
}

/** `--ports 8001,8002`, `--ports=...`, SCALE_OUT_PORTS, or 8001,8002. */
function parsePorts(argv: string[]): number[] {
  const index = argv.findIndex((arg) => arg === "--ports" || arg.startsWith("--ports="));
  const text = index < 0 ? (process.env.SCALE_OUT_PORTS ?? "8001,8002") : argv[index]!.includes("=") ? argv[index]!.slice(8) : (argv[index + 1] ?? "");
  const ports = text.split(",").map((part) => Number(part.trim()));
  if (ports.length !== 2 || ports.some((port) => !Number.isInteger(port) || port < 0 || port > 65535)) {
    console.error(`scale_out: --ports wants two ports like 8001,8002, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return ports;
}

/** Start both instances, print their URLs, stop both on Ctrl-C (or SIGTERM). */
async function supervise(): Promise<void> {
  const script = fileURLToPath(import.meta.url);
  const ports = parsePorts(process.argv.slice(2));
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  let stopping = false;

  const exits = ports.map((port, i) => {
    const instance = i + 1;
    // Same Node flags as ours (the tsx loader), own process group: Ctrl-C reaches
    // only this supervisor, which stops each instance with one SIGTERM (a second
    // signal would make an instance skip its graceful close).
    const child = spawn(process.execPath, [...process.execArgv, script, "--instance", String(instance), "--port", String(port)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      detached: true,
    });
    children.push(child);
    const prefix = `[instance ${instance}] `;
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        process.stdout.write(prefix + line + "\n");
        const match = /running on (http:\/\/\S+)/.exec(line);
        if (match) announce(instance, match[1]!);
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      for (const line of String(chunk).split("\n")) if (line) process.stderr.write(prefix + line + "\n");
    });
    return new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        if (!stopping) {
          console.log(`${prefix}exited with ${code ?? "a signal"}`);
          if (urls.length < 2) stopAll(1);
        }
        resolve(code);
      }),
    );
  });

  function announce(instance: number, url: string) {
    urls[instance - 1] = url;
    if (urls.filter(Boolean).length < 2) return;
    console.log(`\nScale-out demo: two instances share Redis at ${process.env.REDIS_URL ?? "redis://127.0.0.1:6379"}`);
    urls.forEach((u, i) => console.log(`  instance ${i + 1}: ${u}`));
    console.log("Open both in a browser; press Ctrl-C to stop both.\n");
  }

  function stopAll(code: number) {
    if (stopping) return;
    stopping = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    void Promise.all(exits).then(() => process.exit(code));
  }

  process.on("SIGINT", () => stopAll(0));
  process.on("SIGTERM", () => stopAll(0));
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("--instance");
  if (at >= 0) {
    const instance = Number(argv[at + 1]);
    const app = createInstance(instance);
    // The supervisor went away without stopping us (it was killed): close as on SIGTERM.
    process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
    try {
      await app.run();
    } catch (err) {
      console.error(`instance ${instance} did not start: ${(err as Error).message}. Start Redis (redis-server) or set REDIS_URL.`);
      process.exit(1);
    }
  } else {
    await supervise();
  }
}
