import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { HttpError } from "../errors.js";
import { SseStream } from "../sse/stream.js";
import { recordingLogger, startWithCleanup, type SseHandle, type TestClient } from "../testing.js";
import { rateLimit, type RateLimitOptions, type RateLimitPlugin } from "./rate-limit.js";

const start = startWithCleanup();

async function until(ready: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Governed {
  app: App;
  client: TestClient;
  limits: RateLimitPlugin;
  /** How many sources the app handed out were closed (cancelled or ended). */
  sourcesClosed: () => number;
  logger: ReturnType<typeof recordingLogger>;
}

async function governed(options: RateLimitOptions): Promise<Governed> {
  const logger = recordingLogger();
  const app = new App({ logger });
  app.enableCors();
  let sourcesClosed = 0;
  const live = () => {
    const stream = new SseStream();
    stream.addData("open");
    // Writes keep going while the client may be leaving.
    const timer = setInterval(() => stream.addData("tick"), 5);
    stream.onClose(() => {
      clearInterval(timer);
      sourcesClosed++;
    });
    return stream;
  };
  app.get("/live", live);
  app.get("/solo", live, { rateLimit: { streams: { perIp: 1, retryAfter: 7 } } });
  app.get("/free", live, { rateLimit: false });
  app.get("/short", () => {
    const stream = new SseStream();
    stream.addData("bye");
    setTimeout(() => stream.close(), Math.floor(Math.random() * 3));
    stream.onClose(() => sourcesClosed++);
    return stream;
  });
  app.get("/json", () => ({ ok: true }));
  const limits = rateLimit(options);
  app.use(limits);
  // A later hook that refuses the response: the stream never opens, and must never be counted.
  app.addHook("onResponse", (request) => {
    if (request.getHeader("x-refuse-later") !== undefined) throw new HttpError(400, "refused by a later hook");
  });
  const client = await start(app);
  return { app, client, limits, sourcesClosed: () => sourcesClosed, logger };
}

async function openLive(client: TestClient, path: string, headers: Record<string, string> = {}): Promise<SseHandle> {
  const handle = await client.openSse(path, { headers });
  expect(handle.status).toBe(200);
  await handle.waitForEvents(1);
  return handle;
}

describe("app.enableRateLimit(): stream caps", () => {
  it("refuses a stream past perIp with 429 CELLO_TOO_MANY_STREAMS and Retry-After before any SSE byte, and admits again once one closes", async () => {
    const { client, limits, sourcesClosed } = await governed({ streams: { perIp: 2 } });
    const first = await openLive(client, "/live");
    // A stream refused after admission (by a later hook) never opened: nothing counted.
    expect((await client.get("/live", { headers: { "x-refuse-later": "1" } })).status).toBe(400);
    expect(limits.streamCounts()).toEqual({ streams: 1, ips: 1, keys: 0 });
    await openLive(client, "/live");
    expect(limits.streamCounts()).toEqual({ streams: 2, ips: 1, keys: 0 });
    const refused = await client.get("/live", { headers: { Accept: "text/event-stream", Origin: "http://a.test" } });
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("5");
    expect(refused.headers["content-type"]).toBe("application/json");
    expect(refused.headers["access-control-allow-origin"]).toBe("*");
    expect(refused.json).toEqual({ error: "Too many open streams", status: 429 });
    // The refused streams' sources were cancelled, not left running.
    expect(sourcesClosed()).toBe(2);
    // Plain requests are not streams: never refused by stream caps.
    expect((await client.get("/json")).status).toBe(200);
    first.close();
    await until(() => limits.streamCounts().streams === 1, "the closed stream to be released");
    await openLive(client, "/live");
    expect(limits.streamCounts()).toEqual({ streams: 2, ips: 1, keys: 0 });
  });

  it("caps per key apart from the IP", async () => {
    const { client, limits } = await governed({ key: (req) => req.getHeader("x-user"), streams: { perKey: 1 } });
    await openLive(client, "/live", { "x-user": "ann" });
    expect((await client.get("/live", { headers: { "x-user": "ann" } })).status).toBe(429);
    await openLive(client, "/live", { "x-user": "bob" });
    // No key: not capped per key (there is no perIp cap here).
    await openLive(client, "/live");
    await openLive(client, "/live");
    expect(limits.streamCounts()).toEqual({ streams: 4, ips: 1, keys: 2 });
  });

  it("answers 503 CELLO_STREAMS_FULL with Retry-After past the total, without logging an error per refusal", async () => {
    const { client, logger } = await governed({ streams: { total: 2, retryAfter: 30 } });
    await openLive(client, "/live");
    await openLive(client, "/live");
    for (let i = 0; i < 3; i++) {
      const refused = await client.get("/live");
      expect([refused.status, refused.headers["retry-after"], refused.json]).toEqual([503, "30", { error: "Too many open streams on this server", status: 503 }]);
    }
    expect(logger.errors).toEqual([]);
  });

  it("a route's caps count its own streams on top of the app's; rateLimit: false exempts a route", async () => {
    const { client, limits } = await governed({ streams: { perIp: 3 } });
    await openLive(client, "/solo");
    const refused = await client.get("/solo");
    expect([refused.status, refused.headers["retry-after"]]).toEqual([429, "7"]);
    await openLive(client, "/live");
    await openLive(client, "/live");
    // The app's perIp (3) is reached: /solo's stream counts in both scopes.
    expect((await client.get("/live")).status).toBe(429);
    for (let i = 0; i < 3; i++) await openLive(client, "/free");
    expect(limits.streamCounts()).toEqual({ streams: 4, ips: 2, keys: 0 });
  });

  it("counts exactly under churn: 10k open/close cycles, abrupt client exits and server-ended streams, leave every counter at zero", { timeout: 180_000 }, async () => {
    const { app, client, limits, sourcesClosed } = await governed({ key: (req) => req.getHeader("x-user"), streams: { perIp: 200, perKey: 1, total: 200 } });
    const port = Number(new URL(client.url).port);
    const CYCLES = 10_000;
    const WORKERS = 40;
    const statuses = new Map<string, number>();
    let next = 0;
    let peak = 0;
    const worker = async (id: number) => {
      while (next < CYCLES) {
        const n = next++;
        const mode = (["abrupt", "reset", "early", "server"] as const)[n % 4]!;
        const status = await cycle(port, mode === "server" ? "/short" : "/live", mode, `w${id}`);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        peak = Math.max(peak, limits.streamCounts().streams);
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));
    await until(() => limits.streamCounts().streams === 0 && app.openStreams === 0, "every stream to be released", 20_000);
    expect(limits.streamCounts()).toEqual({ streams: 0, ips: 0, keys: 0 });
    expect(app.openStreams).toBe(0);
    // One stream per worker at a time (perKey 1 per worker): the counts never ran away.
    expect(peak).toBeLessThanOrEqual(WORKERS);
    const served = statuses.get("200") ?? 0;
    // Most cycles streamed; an "early" client may leave before its head, and a worker may be refused while the server
    // has not yet seen its previous socket close (its perKey is 1): both are fine, neither may leak a count.
    expect(served).toBeGreaterThan(CYCLES * 0.6);
    expect([...statuses.keys()].every((s) => s === "200" || s === "429" || s === "none")).toBe(true);
    // Every source the handlers made was closed, refused or not.
    await until(() => sourcesClosed() >= served, "every source to close");
  });
});

/** One raw-socket SSE cycle; resolves with the status line's code ("none" if the client left before it). */
function cycle(port: number, path: string, mode: "abrupt" | "reset" | "early" | "server", user: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let text = "";
    let settled = false;
    const status = () => /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "none";
    const finish = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(status());
    };
    socket.on("error", () => {});
    socket.on("close", finish);
    socket.once("connect", () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nx-user: ${user}\r\n\r\n`);
      if (mode === "early") finish();
    });
    socket.on("data", (chunk) => {
      text += chunk;
      if (status() !== "none" && status() !== "200") finish();
      else if (mode === "server" && text.includes("\r\n0\r\n\r\n")) finish();
      else if ((mode === "abrupt" || mode === "reset") && text.includes("data: tick")) {
        if (mode === "reset") {
          // An RST instead of a FIN: the server sees ECONNRESET mid-stream.
          settled = true;
          const code = status();
          socket.resetAndDestroy();
          resolve(code);
        } else finish();
      }
    });
  });
}
