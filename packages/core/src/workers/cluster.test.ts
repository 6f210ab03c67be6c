/**
 * `--workers N` over real sockets: a real primary forks real workers of a fixture app on one
 * port; clients connect over TCP (round-robin puts each new connection on the next worker).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { rawSse, type RawSse } from "../sse/raw-client.test-support.js";
import { celloErrorOf } from "../testing.js";
import { resolveWorkerCount } from "./cluster.js";

const coreDir = join(dirname(fileURLToPath(import.meta.url)), "../..");

interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const streams: RawSse[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.socket.destroy();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

function spawnApp(args: string[], env: Record<string, string> = {}): Omit<Started, "port"> {
  const child = spawn(process.execPath, ["--import", "tsx", join(coreDir, "src/fixtures/cluster-app.ts"), ...args], {
    cwd: coreDir,
    env: { ...process.env, HOST: "", PORT: "", NODE_ENV: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function startCluster(workers = 2): Promise<Started> {
  const started = spawnApp(["--workers", String(workers), "--port", "0"]);
  const port = await until("the URL", () => {
    const match = /running on http:\/\/127\.0\.0\.1:(\d+) \((\d+) workers\)/.exec(started.output());
    return match ? Number(match[1]) : undefined;
  });
  return { ...started, port };
}

/** GET on a connection of its own (so round-robin picks the worker), with the worker that answered. */
function get(port: number, path: string): Promise<{ status: number; worker: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, worker: Number(res.headers["x-worker"]), body }));
    });
    req.on("error", reject);
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${path}: no answer in 5 s`)));
    req.end();
  });
}

/** An SSE stream, with the worker that serves it. */
async function openFeed(port: number, headers: Record<string, string> = {}): Promise<{ stream: RawSse; worker: number }> {
  const stream = await rawSse(port, "/feed", { headers });
  streams.push(stream);
  const head = await stream.until((text) => text.includes("\r\n\r\n"));
  return { stream, worker: Number(/x-worker: (\d+)/i.exec(head)![1]) };
}

/** Streams until there is one on each of two different workers. */
async function feedsOnTwoWorkers(port: number, headers: Record<string, string> = {}) {
  const first = await openFeed(port, headers);
  for (let i = 0; i < 10; i++) {
    const other = await openFeed(port, headers);
    if (other.worker !== first.worker) return [first, other] as const;
  }
  throw new Error("every stream landed on the same worker");
}

/** The `data:` lines of an SSE body, with their ids. */
function events(body: string): string[] {
  return [...body.matchAll(/id: (\d+)\ndata: (.*)\n\n/g)].map((m) => `${m[1]}:${m[2]}`);
}

const expected = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}:{"n":${from + i}}`);

describe("app.run({ workers: 2 })", () => {
  it("shares a channel: a client on one worker gets every event published on either, once, in order; Last-Event-ID resumes on any worker", async () => {
    const { port } = await startCluster();
    const [a, b] = await feedsOnTwoWorkers(port);
    // Subscribed at the primary (the stream's head is out before the hub subscribes): let it settle.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const publishers = new Set<number>();
    for (let n = 1; n <= 30; n++) {
      const res = await get(port, `/publish?n=${n}`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ id: String(n) });
      publishers.add(res.worker);
    }
    expect([...publishers].sort()).toEqual([a.worker, b.worker].sort());
    for (const { stream } of [a, b]) {
      await stream.until((text) => text.includes('data: {"n":30}'));
      expect(events(stream.body())).toEqual(expected(1, 30));
    }
    // Resume after id 10 on both workers: the history lives at the primary.
    const [c, d] = await feedsOnTwoWorkers(port, { "Last-Event-ID": "10" });
    for (const { stream } of [c, d]) {
      await stream.until((text) => text.includes('data: {"n":30}'));
      expect(events(stream.body())).toEqual(expected(11, 30));
    }
    await get(port, "/publish?n=31");
    for (const { stream } of [a, b, c, d]) await stream.until((text) => text.includes('data: {"n":31}'));
    expect(events(c.stream.body())).toEqual(expected(11, 31));
    expect(events(a.stream.body())).toEqual(expected(1, 31));
  }, 60_000);

  it("drains every worker on SIGTERM: each stream gets the shutdown frame, the primary exits 0", async () => {
    const app = await startCluster();
    const [a, b] = await feedsOnTwoWorkers(app.port);
    app.child.kill("SIGTERM");
    for (const { stream } of [a, b]) {
      await stream.closed;
      // The final frame, then the end of the chunked body.
      expect(stream.body()).toMatch(/retry: \d+\n\n: shutdown\n\n\r\n0\r\n\r\n$/);
    }
    expect(await app.exited).toBe(0);
    expect(app.output()).toContain("SIGTERM: draining 2 workers");
  }, 60_000);

  it("replaces a worker that was killed, and the new one serves", async () => {
    const app = await startCluster();
    const before = await until("both workers answering", async () => {
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) pids.add((await get(app.port, "/pid")).worker);
      return pids.size === 2 ? pids : undefined;
    });
    const [victim, survivor] = [...before];
    process.kill(victim!, "SIGKILL");
    const replacement = await until("a new worker answering", async () => {
      const { worker } = await get(app.port, "/pid").catch(() => ({ worker: 0 }));
      return worker !== 0 && !before.has(worker) ? worker : undefined;
    });
    expect(replacement).not.toBe(survivor);
    expect(app.output()).toMatch(new RegExp(`Worker ${victim} killed by SIGKILL: starting another in \\d+ ms`));
    // The new worker shares the channel with the survivor.
    const [x, y] = await feedsOnTwoWorkers(app.port);
    expect(new Set([x.worker, y.worker])).toEqual(new Set([replacement, survivor]));
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (let n = 1; n <= 4; n++) await get(app.port, `/publish?n=${n}`);
    for (const { stream } of [x, y]) {
      await stream.until((text) => text.includes('data: {"n":4}'));
      expect(events(stream.body())).toEqual(expected(1, 4));
    }
  }, 60_000);

  it("gives up on a crash loop: restarts with a doubling backoff, then stops and exits 1", async () => {
    const app = spawnApp(["--workers", "2", "--port", "0"], { CRASH_AFTER_MS: "300" });
    expect(await app.exited).toBe(1);
    const output = app.output();
    const delays = [...output.matchAll(/Worker \d+ exited with code 3: starting another in (\d+) ms\./g)].map((m) => Number(m[1]));
    expect(delays).toEqual([100, 200, 400, 800, 1600]);
    expect(output).toMatch(/Worker \d+ exited with code 3: 6 workers died within 60 s, giving up\.\n/);
    // Nothing restarts after giving up.
    expect(output.slice(output.indexOf("giving up"))).not.toContain("starting another");
  }, 60_000);

  it.each(["0", "-3", "lots", "2.5", ""])("refuses --workers %j with an error naming the flag, and exits non-zero", async (value) => {
    const app = spawnApp(["--workers", value, "--port", "0"]);
    expect(await app.exited).not.toBe(0);
    expect(app.output()).toContain(`--workers must be a whole number of at least 1, or "auto" (one per core); got ${JSON.stringify(value)}`);
    expect(app.output()).not.toContain("running on");
  }, 30_000);
});

describe("resolveWorkerCount", () => {
  it("reads --workers N, --workers=N and auto (the available cores), the flag over the option, 1 by default", () => {
    expect(resolveWorkerCount([], {})).toBe(1);
    expect(resolveWorkerCount(["--workers", "3"], { workers: 2 })).toBe(3);
    expect(resolveWorkerCount(["--port", "0", "--workers=4"], {})).toBe(4);
    expect(resolveWorkerCount(["--workers", "auto"], {})).toBe(availableParallelism());
    expect(resolveWorkerCount([], { workers: "auto" })).toBe(availableParallelism());
    expect(resolveWorkerCount([], { workers: 2 })).toBe(2);
  });

  it("names the option when app.run({ workers }) is given a bad count", () => {
    for (const workers of [0, -1, 1.5, Number.NaN, "many" as never]) {
      const error = celloErrorOf(() => resolveWorkerCount([], { workers }));
      expect(error.code).toBe("CELLO_INVALID_OPTION");
      expect(error.message).toContain(`the workers option must be a whole number of at least 1, or "auto" (one per core); got ${JSON.stringify(workers)}`);
    }
  });
});
