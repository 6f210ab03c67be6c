import { App, SseEvent, SseStream } from "@cellojs/core";
import { afterEach, describe, expect, it } from "vitest";
import { TestClient } from "./test-client.js";

const clients: TestClient[] = [];
async function start(app: App): Promise<TestClient> {
  const client = await TestClient.start(app);
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function app(): App {
  const app = new App({ sse: { heartbeatMs: 0 } });
  app.post("/echo", async (req) => ({ method: req.method, body: await req.json(), type: req.getHeader("content-type"), token: req.getHeader("x-token") }));
  app.put("/raw", async (req) => req.text());
  app.get("/feed", (req) => {
    const stream = new SseStream();
    const from = Number(req.getHeader("last-event-id") ?? 0);
    let id = from;
    const timer = setInterval(() => stream.add(new SseEvent(`n${id + 1}`, { id: String(++id), event: "n" })), 10);
    stream.onClose(() => clearInterval(timer));
    return stream;
  });
  app.get("/finite", () => {
    const stream = new SseStream();
    stream.add(new SseEvent("a\nb", { retry: 100 }));
    stream.addComment("note");
    stream.close();
    return stream;
  });
  return app;
}

describe("TestClient", () => {
  it("sends JSON and raw bodies with headers and reads status, headers, text and json", async () => {
    const client = await start(app());
    const res = await client.post("/echo", { json: { a: 1 }, headers: { "X-Token": "t" } });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.json).toEqual({ method: "POST", body: { a: 1 }, type: "application/json", token: "t" });
    expect((await client.put("/raw", { body: "plain" })).text).toBe("plain");
    const missing = await client.get("/missing");
    expect([missing.status, missing.json.status]).toEqual([404, 404]);
    expect(() => (missing.text === "" ? null : JSON.parse("{"))).toThrow();
  });

  it("collects an SSE stream parsed by the WHATWG rules, with comments and raw bytes", async () => {
    const client = await start(app());
    const res = await client.sse("/finite");
    expect(res.endedBy).toBe("server-closed");
    expect(res.events).toEqual([{ event: "message", data: "a\nb", id: "", retry: 100 }]);
    expect(res.comments).toEqual(["ok", "note"]);
    expect(res.raw).toBe(": ok\n\nretry: 100\ndata: a\ndata: b\n\n: note\n\n");
  });

  it("stops at maxEvents, sends Last-Event-ID, and disconnects after a time or a timeout", async () => {
    const client = await start(app());
    const three = await client.sse("/feed", { maxEvents: 3, lastEventId: "40" });
    expect(three.endedBy).toBe("max-events");
    expect(three.events.map((e) => e.id)).toEqual(["41", "42", "43"]);
    const cut = await client.sse("/feed", { disconnectAfterMs: 60 });
    expect(cut.endedBy).toBe("disconnect");
    expect(cut.events.length).toBeGreaterThan(0);
    const timedOut = await client.sse("/feed", { timeoutMs: 60 });
    expect(timedOut.endedBy).toBe("timeout");
    for (let i = 0; i < 50 && client.app.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(client.app.openStreams).toBe(0);
  });

  it("gives a live handle to interleave reads with other actions", async () => {
    const client = await start(app());
    const handle = await client.openSse("/feed");
    expect(handle.status).toBe(200);
    const first = await handle.waitForEvents(2);
    expect(first.map((e) => e.data)).toEqual(["n1", "n2"]);
    handle.close();
    await expect(handle.waitForEvents(1000, 200)).rejects.toThrow(/ended|Timed out/);
    const finite = await client.openSse("/finite");
    await finite.waitForEnd();
    expect(finite.ended).toBe(true);
  });

  it("tracks the last event ID as EventSource does: each event's id, and an id-only block's, which dispatches nothing", async () => {
    const made = new App({ sse: { heartbeatMs: 0 } });
    const shared = made.channel("shared");
    made.get("/shared", (req) => shared.subscribe(req, { audience: ["me"] }));
    const client = await start(made);
    const handle = await client.openSse("/shared");
    expect(handle.lastEventId).toBe("");
    await expect.poll(() => shared.size).toBe(1);
    await shared.publish("mine", { to: ["me"] });
    await handle.waitForEvents(1);
    expect(handle.lastEventId).toBe("1");
    await shared.publish("not mine", { to: ["someone else"] }); // sent as "id: 2" alone
    await expect.poll(() => handle.lastEventId).toBe("2");
    expect(handle.events.map((e) => [e.id, e.data])).toEqual([["1", "mine"]]);
    handle.close();
  });
});
