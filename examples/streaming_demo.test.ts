import { execFile } from "node:child_process";
import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, waitFor } from "./browser/support.js";
import { app } from "./streaming_demo.js";

let client: TestClient;
beforeAll(async () => {
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

const sseHead = (headers: Record<string, string>) => [
  headers["content-type"],
  headers["cache-control"],
  headers["x-accel-buffering"],
  headers["access-control-allow-origin"],
];

describe("examples/streaming_demo.ts", () => {
  it("GET / lists the endpoints", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      message: "Cello.ts Streaming Demo",
      endpoints: ["/sse/events", "/sse/counter", "/sse/stock-ticker", "/large-response", "/demo"],
    });
  });

  it("/sse/events sends a data frame, then welcome, update and notification events, byte for byte", async () => {
    const res = await client.sse("/sse/events");
    expect(sseHead(res.headers)).toEqual(["text/event-stream; charset=utf-8", "no-cache, no-transform", "no", "*"]);
    expect(res.raw).toBe(
      ": ok\n\n" +
        "data: Connected to SSE stream\n\n" +
        'event: welcome\ndata: {"message":"Welcome to Cello SSE!"}\n\n' +
        'event: update\ndata: {"status":"ready"}\n\n' +
        'event: notification\ndata: {"type":"info","text":"Server is running"}\n\n',
    );
    expect(res.endedBy).toBe("server-closed");
  });

  it("/sse/counter sends five count events then complete", async () => {
    const res = await client.sse("/sse/counter");
    expect(res.raw).toBe(
      ": ok\n\n" +
        [1, 2, 3, 4, 5].map((i) => `event: count\ndata: {"value":${i}}\n\n`).join("") +
        'event: complete\ndata: {"message":"Counter finished"}\n\n',
    );
  });

  it("/sse/stock-ticker sends three ticker events", async () => {
    const res = await client.sse("/sse/stock-ticker");
    expect(res.events.map((e) => [e.event, JSON.parse(e.data)])).toEqual([
      ["ticker", { symbol: "AAPL", price: 150.25, change: 2.5 }],
      ["ticker", { symbol: "GOOGL", price: 2800.5, change: -15 }],
      ["ticker", { symbol: "MSFT", price: 280.75, change: 5.25 }],
    ]);
  });

  it("/large-response returns 1000 items", async () => {
    const res = await client.get("/large-response");
    expect(res.json.total).toBe(1000);
    expect(res.json.items).toHaveLength(1000);
    expect(res.json.items[999]).toEqual({ id: 999, name: "Item 999", description: "Desc for item 999".repeat(3), price: 509.5 });
  });

  it("/demo is an HTML page that loads nothing from outside the server", async () => {
    const res = await client.get("/demo");
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).toContain("new EventSource(path)");
    for (const endpoint of ["/sse/events", "/sse/counter", "/sse/stock-ticker"]) expect(res.text).toContain(`"${endpoint}"`);
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it("starts with tsx on the given port, prints that address for /demo, and curl -N prints the counter", async () => {
    const demo = await startDemo("streaming_demo.ts");
    try {
      await waitFor(() => demo.output().includes("/demo for the interactive SSE demo"), "the /demo line");
      expect(demo.output()).toContain(`Open ${demo.url}/demo for the interactive SSE demo`);
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
      const output = await new Promise<string>((resolve, reject) =>
        execFile("curl", ["-sN", "--max-time", "5", `${demo.url}/sse/counter`], (err, stdout) => (err ? reject(err) : resolve(stdout))),
      );
      expect(output).toContain('event: count\ndata: {"value":5}\n\nevent: complete\ndata: {"message":"Counter finished"}\n\n');
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
