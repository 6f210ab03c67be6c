import { afterEach, describe, expect, it } from "vitest";
import { App } from "../app.js";
import { SseStream } from "../sse/stream.js";
import { TestClient } from "../testing.js";
import { logging, type LogRecord } from "./logging.js";

const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function startLogged(format: "json" | "pretty", color = false) {
  const lines: string[] = [];
  const records: LogRecord[] = [];
  const app = new App();
  app.enableLogging({ format, color, sink: (line, record) => (lines.push(line), records.push(record)) });
  app.get("/ok", () => "ok");
  app.get("/missing-thing", () => {
    throw new Error("x");
  });
  app.get("/stream", () => {
    const stream = new SseStream();
    stream.addData("1");
    stream.addData("2");
    setTimeout(() => stream.close(), 20);
    return stream;
  });
  app.get("/forever", () => new SseStream());
  app.get("/closed-in-handler", () => {
    const stream = new SseStream();
    stream.addData("1");
    stream.close(); // a finite stream, as ported from Cello
    return stream;
  });
  const client = await TestClient.start(app);
  clients.push(client);
  return { client, lines, records };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe("app.enableLogging()", () => {
  it("writes one JSON line per request with method, path, status and duration", async () => {
    const { client, lines, records } = await startLogged("json");
    await client.get("/ok");
    await client.get("/nope");
    await until(() => lines.length >= 2);
    expect(records.map((r) => r.type === "request" && [r.method, r.path, r.status])).toEqual([
      ["GET", "/ok", 200],
      ["GET", "/nope", 404],
    ]);
    const parsed = JSON.parse(lines[0]!);
    expect(parsed.type).toBe("request");
    expect(typeof parsed.durationMs).toBe("number");
    expect(parsed.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("logs one line when a stream opens and one when it closes, with events sent", async () => {
    const { client, records } = await startLogged("json");
    const sse = await client.sse("/stream");
    expect(sse.events.length).toBe(2);
    await until(() => records.length >= 2);
    expect(records.map((r) => r.type)).toEqual(["stream-open", "stream-close"]);
    const closed = records[1] as Extract<LogRecord, { type: "stream-close" }>;
    expect([closed.eventsSent, closed.eventsDropped, closed.reason]).toEqual([2, 0, "end"]);
    expect(closed.durationMs).toBeGreaterThanOrEqual(15);
  });

  it("logs stream-open before stream-close for a stream closed inside its handler", async () => {
    const { client, lines, records } = await startLogged("json");
    const sse = await client.sse("/closed-in-handler");
    expect(sse.raw).toBe(": ok\n\ndata: 1\n\n");
    await until(() => records.length >= 2);
    expect(records.map((r) => [r.type, r.path])).toEqual([
      ["stream-open", "/closed-in-handler"],
      ["stream-close", "/closed-in-handler"],
    ]);
    expect(records[1]).toMatchObject({ eventsSent: 1, reason: "end" });
    expect(lines.map((line) => JSON.parse(line).type)).toEqual(["stream-open", "stream-close"]);
  });

  it("records a client that leaves as reason client", async () => {
    const { client, records } = await startLogged("json");
    await client.sse("/forever", { disconnectAfterMs: 50 });
    await until(() => records.length >= 2);
    expect(records.at(-1)).toMatchObject({ type: "stream-close", reason: "client", path: "/forever" });
  });

  it("formats pretty lines, coloured when asked", async () => {
    const plain = await startLogged("pretty", false);
    await plain.client.get("/ok");
    await until(() => plain.lines.length >= 1);
    expect(plain.lines[0]).toMatch(/^\S+ GET \/ok 200 [\d.]+ms$/);
    const coloured = await startLogged("pretty", true);
    await coloured.client.get("/ok");
    await until(() => coloured.lines.length >= 1);
    expect(coloured.lines[0]).toContain("\x1b[32m200\x1b[0m");
  });

  it("defaults to JSON lines when stdout is not a TTY", async () => {
    expect(process.stdout.isTTY).not.toBe(true); // vitest's stdout is a pipe
    const lines: string[] = [];
    const app = new App();
    app.use(logging({ sink: (line) => lines.push(line) }));
    app.get("/ok", () => "ok");
    const client = await TestClient.start(app);
    clients.push(client);
    await client.get("/ok?x=1");
    await until(() => lines.length >= 1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: "request", method: "GET", path: "/ok", status: 200 });
  });
});
