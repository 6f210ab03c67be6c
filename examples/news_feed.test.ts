import { memoryBroker, type App } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStreamUntil, startDemo, waitFor } from "./browser/support.js";
import { app as defaultApp, createNewsApp, headline, type Headline } from "./news_feed.js";

let app: App;
let client: TestClient;
beforeAll(async () => {
  app = createNewsApp({ intervalMs: 0, history: 5 });
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

const titles = (events: Array<{ data: string }>) => events.map((e) => (JSON.parse(e.data) as Headline).title);

describe("examples/news_feed.ts", () => {
  it("publishes nothing until the app starts", async () => {
    expect(await defaultApp.broker.lastId("news")).toBeUndefined();
  });

  it("GET / is the page, loading nothing from outside", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('new EventSource("/feed")');
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it("POST /headlines publishes a numbered headline event to every open feed", async () => {
    const feed = await client.openSse("/feed");
    expect(feed.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    const res = await client.post("/headlines", { json: { title: "  Cello.ts ships  ", category: "tech" } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ id: "1" });
    const [event] = await feed.waitForEvents(1);
    feed.close();
    expect([event!.id, event!.event]).toEqual(["1", "headline"]);
    const data = JSON.parse(event!.data) as Headline;
    expect(Object.keys(data)).toEqual(["title", "category", "published_at"]);
    expect([data.title, data.category]).toEqual(["Cello.ts ships", "tech"]);
    expect(new Date(data.published_at).toISOString()).toBe(data.published_at);
  });

  it("rejects a bad headline with 400 JSON", async () => {
    for (const json of [{}, { title: "" }, { title: "x".repeat(201) }, { title: "ok", category: "Not Valid" }, null]) {
      const res = await client.post("/headlines", { json });
      expect(res.status, JSON.stringify(json)).toBe(400);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.json.status).toBe(400);
    }
  });

  it("resumes after Last-Event-ID (header or ?lastEventId=) and sends `reset` when it is older than the history", async () => {
    for (let i = 2; i <= 7; i++) await client.post("/headlines", { json: { title: `Story ${i}` } });
    // The history keeps 5 headlines: ids 3..7.
    const resumed = await client.sse("/feed", { lastEventId: "4", maxEvents: 3 });
    expect(resumed.events.map((e) => e.id)).toEqual(["5", "6", "7"]);
    expect(titles(resumed.events)).toEqual(["Story 5", "Story 6", "Story 7"]);
    const viaQuery = await client.sse("/feed?lastEventId=6", { maxEvents: 1 });
    expect(viaQuery.events.map((e) => [e.id, e.event])).toEqual([["7", "headline"]]);
    const tooOld = await client.sse("/feed", { lastEventId: "1", maxEvents: 1 });
    expect(tooOld.events).toEqual([{ event: "reset", id: "", data: '{"channel":"news","lastEventId":"1","earliestId":"3"}' }]);
  });

  it("publishes sample headlines on its own timer, and stops when the app shuts down", async () => {
    const own = createNewsApp({ intervalMs: 10 });
    const ownClient = await TestClient.start(own);
    const res = await ownClient.sse("/feed", { maxEvents: 3 });
    expect(res.events.map((e) => e.event)).toEqual(["headline", "headline", "headline"]);
    await ownClient.close();
    const lastAtClose = await own.broker.lastId("news");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await own.broker.lastId("news")).toBe(lastAtClose);
  });

  it("the `eventsource` package receives headlines and, after the server restarts, resumes with Last-Event-ID", async () => {
    // One broker for both app instances: the history outlives the first server, as with Redis.
    const broker = memoryBroker();
    const first = createNewsApp({ broker, intervalMs: 0 });
    const { url, port } = await first.listen({ port: 0 });
    const received: Array<{ id: string; title: string }> = [];
    const source = new EventSource(`${url}/feed`);
    source.addEventListener("headline", (event) => received.push({ id: event.lastEventId, title: (JSON.parse(event.data) as Headline).title }));
    let second: App | undefined;
    try {
      await waitFor(() => source.readyState === source.OPEN, "the EventSource to open");
      const news = first.channel("news");
      for (const title of ["one", "two", "three"]) await news.publish(headline(title), { event: "headline" });
      await waitFor(() => received.length === 3, "3 headlines");

      // The shutdown frame carries `retry: 1000`: the client comes back a second later.
      await first.close({ graceMs: 1000 });
      for (const title of ["four (while down)", "five (while down)"]) await news.publish(headline(title), { event: "headline" });

      second = createNewsApp({ broker, intervalMs: 0 });
      const lastEventIds: Array<string | undefined> = [];
      second.addHook("onRequest", (request) => void lastEventIds.push(request.getHeader("last-event-id")));
      await second.listen({ port });
      await waitFor(() => received.length === 5, "the 2 headlines published while the server was down", 10_000);
      await second.channel("news").publish(headline("six"), { event: "headline" });
      await waitFor(() => received.length === 6, "a live headline after the reconnect");

      expect(lastEventIds).toEqual(["3"]);
      expect(received).toEqual([
        { id: "1", title: "one" },
        { id: "2", title: "two" },
        { id: "3", title: "three" },
        { id: "4", title: "four (while down)" },
        { id: "5", title: "five (while down)" },
        { id: "6", title: "six" },
      ]);
    } finally {
      source.close();
      await first.close({ graceMs: 1000 });
      await second?.close({ graceMs: 1000 });
    }
  }, 20_000);

  it("starts with `npx tsx examples/news_feed.ts`, publishing every NEWS_INTERVAL_MS", async () => {
    const demo = await startDemo("news_feed.ts", { NEWS_INTERVAL_MS: "20" });
    try {
      const text = await readStreamUntil(`${demo.url}/feed`, (t) => (t.match(/event: headline\ndata: .*\n\n/g) ?? []).length >= 2);
      expect(text).toMatch(/^: ok\n\nid: \d+\nevent: headline\ndata: \{"title":"[^"]+","category":"[a-z]+","published_at":"[^"]+"\}\n\n/);
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
