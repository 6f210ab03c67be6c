import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { describe, expect, it } from "vitest";

const redisUrl = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");

/** Send one RESP command to Redis over a raw socket and return the reply's first line (no client library needed here). */
function redisCommand(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: redisUrl.hostname || "127.0.0.1", port: Number(redisUrl.port || 6379) });
    socket.setTimeout(1000, () => socket.destroy(new Error("Redis did not answer within 1 s")));
    socket.once("error", reject);
    socket.once("connect", () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`));
    socket.once("data", (data) => {
      resolve(data.toString().split("\r\n")[0]!);
      socket.end();
    });
  });
}

const problem = await redisCommand("PING").then(
  (reply) => (reply === "+PONG" ? undefined : reply),
  (err: Error) => err.message,
);
if (problem !== undefined && process.env.CI === "true") throw new Error(`examples/scale_out.test.ts needs Redis under CI, but ${redisUrl.host} does not answer (${problem})`);
if (problem !== undefined) console.log(`examples/scale_out.test.ts skipped: Redis at ${redisUrl.host} does not answer (${problem})`);

interface Frame {
  id: string;
  event: string;
  data: string;
}

/** Read `url` as an event stream; frames from this server are simple (one data line each). */
async function subscribe(url: string) {
  const controller = new AbortController();
  const res = await request(url, { headers: { accept: "text/event-stream" }, signal: controller.signal });
  const frames: Frame[] = [];
  let buffered = "";
  void (async () => {
    try {
      for await (const chunk of res.body) {
        buffered += chunk.toString();
        const blocks = buffered.split("\n\n");
        buffered = blocks.pop()!;
        for (const block of blocks) {
          const fields = Object.fromEntries(block.split("\n").filter((line) => !line.startsWith(":")).map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]));
          if (fields.data !== undefined) frames.push({ id: fields.id ?? "", event: fields.event ?? "message", data: fields.data });
        }
      }
    } catch {
      // closed by the test
    }
  })();
  return { status: res.statusCode, contentType: res.headers["content-type"], frames, close: () => controller.abort() };
}

async function until(ready: () => boolean, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(problem !== undefined)("examples/scale_out.ts", () => {
  it("starts two instances with one command; both stream the same ticks with the same ids, in order; SIGINT stops both", async () => {
    const prefix = `cello-test:scale-out:${process.pid}-${randomBytes(4).toString("hex")}:`;
    const child = spawn(process.execPath, ["--import", "tsx", "scale_out.ts", "--ports", "0,0"], {
      cwd: fileURLToPath(new URL(".", import.meta.url)),
      env: { ...process.env, SCALE_OUT_PREFIX: prefix },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await until(() => /instance 2: http/.test(output), `both URLs (output so far: ${output})`);
      const urls = [1, 2].map((i) => new RegExp(`instance ${i}: (http://127\\.0\\.0\\.1:\\d+)`).exec(output)![1]!);
      expect(urls[0]).not.toBe(urls[1]);

      for (const url of urls) {
        const page = await request(`${url}/`);
        const html = await page.body.text();
        expect([page.statusCode, page.headers["content-type"]]).toEqual([200, "text/html; charset=utf-8"]);
        expect(html).toContain('new EventSource("/ticker")');
        expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
      }

      const streams = await Promise.all(urls.map((url) => subscribe(`${url}/ticker`)));
      expect(streams.map((s) => [s.status, s.contentType])).toEqual([
        [200, "text/event-stream; charset=utf-8"],
        [200, "text/event-stream; charset=utf-8"],
      ]);
      await until(() => streams.every((s) => s.frames.length >= 14), "14 ticks on each instance");
      const [a, b] = streams.map((s) => s.frames.slice());
      // The two subscriptions started a moment apart: compare from the later start.
      const start = b!.findIndex((f) => f.id === a![0]!.id) >= 0 ? a![0]!.id : b![0]!.id;
      const fromA = a!.slice(a!.findIndex((f) => f.id === start));
      const fromB = b!.slice(b!.findIndex((f) => f.id === start));
      const common = Math.min(fromA.length, fromB.length);
      expect(common).toBeGreaterThanOrEqual(10);
      expect(fromA.slice(0, common)).toEqual(fromB.slice(0, common));
      const ids = fromA.map((f) => f.id.split("-").map(BigInt));
      expect(ids.every(([ms, seq], i) => i === 0 || ms! > ids[i - 1]![0]! || (ms === ids[i - 1]![0] && seq! > ids[i - 1]![1]!))).toBe(true);
      const ticks = fromA.map((f) => JSON.parse(f.data) as { symbol: string; price: number; publishedBy: string });
      expect(fromA.every((f) => f.event === "tick")).toBe(true);
      // Ticks published by each instance reach the clients of both.
      expect(new Set(ticks.map((t) => t.publishedBy))).toEqual(new Set(["instance 1", "instance 2"]));
      expect(new Set(ticks.map((t) => t.symbol))).toEqual(new Set(["ACME", "GLOBEX", "INITECH", "UMBRELLA"]));
      for (const s of streams) s.close();

      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(output).toContain("[instance 1] SIGTERM: closing gracefully");
      expect(output).toContain("[instance 2] SIGTERM: closing gracefully");
      for (const url of urls) await expect(request(`${url}/`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
      await redisCommand("DEL", `${prefix}ticker`);
    }
  }, 45_000);
});
