import type { App } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStreamUntil, startDemo } from "./browser/support.js";
import { app as defaultApp, createStockApp, type Tick } from "./stock_ticker.js";

const symbols = { AAPL: 100, MSFT: 200, ACME: 5 };
let app: App;
let client: TestClient;
beforeAll(async () => {
  app = createStockApp({ intervalMs: 20, symbols });
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

describe("examples/stock_ticker.ts", () => {
  it("publishes nothing until the app starts", async () => {
    expect(await defaultApp.broker.lastId("stocks")).toBeUndefined();
  });

  it("GET / is an HTML table with a row per symbol that loads nothing from outside", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    for (const symbol of Object.keys(symbols)) expect(res.text).toContain(`<tr data-symbol="${symbol}">`);
    expect(res.text).toContain('new EventSource("/stocks")');
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it("GET /api/prices returns the latest price of every symbol", async () => {
    const res = await client.get("/api/prices");
    expect(res.status).toBe(200);
    expect(Object.keys(res.json)).toEqual(["AAPL", "MSFT", "ACME"]);
    for (const price of Object.values(res.json)) expect(price).toBeGreaterThan(0);
  });

  it("/stocks streams numbered tick events whose prices walk by their change", async () => {
    const res = await client.sse("/stocks", { maxEvents: 30 });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(res.events).toHaveLength(30);
    const ids = res.events.map((e) => Number(e.id));
    ids.forEach((id, i) => i > 0 && expect(id).toBe(ids[i - 1]! + 1));
    const last = new Map<string, number>();
    for (const event of res.events) {
      expect(event.event).toBe("tick");
      const tick = JSON.parse(event.data) as Tick;
      expect(Object.keys(tick)).toEqual(["symbol", "price", "change", "time"]);
      expect(Object.keys(symbols)).toContain(tick.symbol);
      expect(Math.round(tick.price * 100) / 100).toBe(tick.price);
      const previous = last.get(tick.symbol);
      if (previous !== undefined) expect(Math.abs(previous + tick.change - tick.price)).toBeLessThan(0.005);
      last.set(tick.symbol, tick.price);
    }
    expect([...last.keys()].sort()).toEqual(["AAPL", "ACME", "MSFT"]);
  });

  it("a client that reconnects with Last-Event-ID gets the events after it, with no gap", async () => {
    const first = await client.sse("/stocks", { maxEvents: 6 });
    const resumeAfter = first.events[2]!;
    const second = await client.sse("/stocks", { lastEventId: resumeAfter.id, maxEvents: 6 });
    expect(second.events.map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5, 6].map((n) => Number(resumeAfter.id) + n));
    expect(second.events.slice(0, 3).map((e) => e.data)).toEqual(first.events.slice(3).map((e) => e.data));
  });

  it("/stocks?symbols= sends only those symbols; an unknown symbol is a 404", async () => {
    const res = await client.sse("/stocks?symbols=acme,MSFT", { maxEvents: 10 });
    expect(new Set(res.events.map((e) => (JSON.parse(e.data) as Tick).symbol))).toEqual(new Set(["ACME", "MSFT"]));
    const missing = await client.get("/stocks?symbols=AAPL,NOPE");
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ error: "Unknown symbol(s): NOPE", status: 404 });
  });

  it("stops publishing when the app shuts down", async () => {
    const own = createStockApp({ intervalMs: 10, symbols });
    const ownClient = await TestClient.start(own);
    await ownClient.sse("/stocks", { maxEvents: 3 });
    await ownClient.close();
    const lastAtClose = await own.broker.lastId("stocks");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await own.broker.lastId("stocks")).toBe(lastAtClose);
  });

  it("starts with `npx tsx examples/stock_ticker.ts` and streams ticks", async () => {
    const demo = await startDemo("stock_ticker.ts", { STOCK_INTERVAL_MS: "50" });
    try {
      const text = await readStreamUntil(`${demo.url}/stocks`, (t) => (t.match(/event: tick\ndata: .*\n\n/g) ?? []).length >= 7);
      expect(text).toMatch(/^: ok\n\nid: \d+\nevent: tick\ndata: \{"symbol":"AAPL","price":[\d.]+,"change":-?[\d.]+,"time":\d+\}\n\n/);
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
