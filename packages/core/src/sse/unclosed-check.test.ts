import { afterEach, describe, expect, it } from "vitest";
import { App } from "../app.js";
import { recordingLogger, startWithCleanup, type TestClient } from "../testing.js";
import { SseStream } from "./stream.js";

const start = startWithCleanup();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const IDLE_MS = 300;
const hint = (route: string) =>
  `${route}: an SseStream has had no new event for 300 ms and no onClose() callback, so it stays open until the client leaves. ` +
  "A finite stream (as in Cello) must end with stream.close(); a live one should stop its producer in stream.onClose(...). " +
  "(Shown once per route; off when NODE_ENV=production.)";

/** An app with a finite stream ported from Cello (no close()), a live stream, a closed one and a slowly fed one. */
function demoApp(logger: ReturnType<typeof recordingLogger>): App {
  const app = new App({ logger, unclosedStreamWarningMs: IDLE_MS });
  app.get("/sse/counter/{n}", () => {
    const stream = new SseStream();
    for (let i = 1; i <= 3; i++) stream.addEvent("count", JSON.stringify({ value: i }));
    return stream; // ported from Cello: no stream.close()
  });
  app.get("/sse/live", () => {
    const stream = new SseStream();
    const timer = setInterval(() => {}, 1000);
    stream.onClose(() => clearInterval(timer));
    return stream;
  });
  app.get("/sse/finite", () => {
    const stream = new SseStream();
    stream.addData("done");
    stream.close();
    return stream;
  });
  app.get("/sse/fed", () => {
    const stream = new SseStream();
    // A producer without onClose that keeps adding events: not idle.
    const timer = setInterval(() => (stream.closed ? clearInterval(timer) : stream.addData("tick")), 20);
    return stream;
  });
  return app;
}

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const stream of open.splice(0)) stream.close();
});

async function openStream(client: TestClient, path: string, events: number): Promise<void> {
  const stream = await client.openSse(path);
  open.push(stream);
  if (events > 0) await stream.waitForEvents(events);
}

describe("the unclosed-stream hint", () => {
  it("warns once per route about an SseStream with no close(), no onClose and no new event, naming the route", async () => {
    const logger = recordingLogger();
    const client = await start(demoApp(logger));
    await openStream(client, "/sse/counter/1", 3);
    await openStream(client, "/sse/live", 0);
    await openStream(client, "/sse/fed", 2);
    expect((await client.sse("/sse/finite")).raw).toBe(": ok\n\ndata: done\n\n");
    await until(() => logger.warnings.length >= 1, "the hint");
    expect(logger.warnings).toEqual([hint("GET /sse/counter/{n}")]);
    // A second idle stream of the same route, and time for the others to look idle: still one line.
    await openStream(client, "/sse/counter/2", 3);
    await sleep(IDLE_MS * 4);
    expect(logger.warnings).toEqual([hint("GET /sse/counter/{n}")]);
  });

  it("is silent when NODE_ENV=production", async () => {
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    let app: App;
    const logger = recordingLogger();
    try {
      app = demoApp(logger);
    } finally {
      process.env.NODE_ENV = saved;
    }
    const client = await start(app);
    await openStream(client, "/sse/counter/1", 3);
    await sleep(IDLE_MS * 5);
    expect(logger.warnings).toEqual([]);
  });

  it("is silent with unclosedStreamWarningMs: 0", async () => {
    const logger = recordingLogger();
    const app = new App({ logger, unclosedStreamWarningMs: 0 });
    app.get("/s", () => new SseStream());
    const client = await start(app);
    await openStream(client, "/s", 0);
    await sleep(400);
    expect(logger.warnings).toEqual([]);
  });
});
