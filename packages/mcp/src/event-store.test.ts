/**
 * channelEventStore on the in-memory broker, called as the SDK calls it: ids
 * per stream, replay in order without the priming event, sessions kept apart,
 * finished request streams deleted after ttlMs, everything dropped with the session.
 */
import { App, memoryBroker } from "@cellojs/core";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { expect, test } from "vitest";
import { channelEventStore } from "./event-store.js";

const progress = (n: number): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: n } });
const response: JSONRPCMessage = { jsonrpc: "2.0", id: 1, result: { content: [] } };

test("replays what followed an id, in order, without the priming event; another session's ids find nothing", async () => {
  const store = channelEventStore(memoryBroker());
  const session = store.forSession("s1");
  const priming = await session.storeEvent("stream-a", {} as JSONRPCMessage);
  const first = await session.storeEvent("stream-a", progress(1));
  await session.storeEvent("stream-a", progress(2));
  await session.storeEvent("stream-b", progress(99));
  await session.storeEvent("stream-a", response);
  expect(priming).toBe("stream-a:1");
  const sent: Array<[string, JSONRPCMessage]> = [];
  const streamId = await session.replayEventsAfter(priming, { send: async (id, message) => void sent.push([id, message]) });
  expect(streamId).toBe("stream-a");
  expect(sent).toEqual([
    ["stream-a:2", progress(1)],
    ["stream-a:3", progress(2)],
    ["stream-a:4", response],
  ]);
  expect(await store.canResume!("s1", first)).toBe(true);
  // The same id in another session names another channel: nothing to resume there.
  expect(await store.canResume!("s2", first)).toBe(false);
  await expect(store.forSession("s2").replayEventsAfter(first, { send: async () => {} })).rejects.toThrow(/older than the stream's history/);
  for (const bad of ["", "stream-a", "stream-a:", ":1", "stream-a:1:2", "a b:1", "stream-a:999"]) expect(await store.canResume!("s1", bad), bad).toBe(false);
});

test("a finished request stream can be resumed for ttlMs, the GET stream until the session ends", async () => {
  const broker = memoryBroker();
  const store = channelEventStore(broker, { ttlMs: 100 });
  const session = store.forSession("s1");
  const requestId = await session.storeEvent("stream-a", progress(1));
  const standaloneId = await session.storeEvent("_GET_stream", { jsonrpc: "2.0", id: 5, method: "ping" });
  await session.storeEvent("_GET_stream", { jsonrpc: "2.0", id: 5, result: {} });
  await session.storeEvent("stream-a", response);
  expect(await store.canResume!("s1", requestId)).toBe(true);
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(await store.canResume!("s1", requestId)).toBe(false);
  expect(await store.canResume!("s1", standaloneId)).toBe(true);
  await store.dropSession("s1");
  expect(await store.canResume!("s1", standaloneId)).toBe(false);
  expect((await broker.replay("\u001fcello.mcp:s1:_GET_stream", "", {})).events).toEqual([]);
});

test("no request can name a session's channels: a route that subscribes to any channel name reads none of its messages", async () => {
  // An app with a generic channel route (app.subscribe with a name from the URL) next to MCP:
  // a leaked session id must not open that session's streams through it.
  const app = new App({ logger: { info() {}, warn() {}, error() {}, debug() {} } as never, sse: { heartbeatMs: 0 } });
  app.get("/events/{name}", (req) => app.subscribe(req, req.params.name!));
  const store = channelEventStore(app.broker);
  const session = store.forSession("s1");
  await session.storeEvent("_GET_stream", {} as JSONRPCMessage);
  const { port } = await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    for (const name of ["mcp:s1:_GET_stream", "mcp:s1"]) {
      const controller = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/events/${encodeURIComponent(name)}`, { headers: { "last-event-id": "0" }, signal: controller.signal });
      const reader = res.body!.getReader();
      // Subscribed (its head arrived): now the session sends a secret on its standalone stream.
      await session.storeEvent("_GET_stream", { jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "secret-of-s1" } });
      let text = "";
      const deadline = Date.now() + 300;
      while (Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(resolve, 100))]);
        if (chunk === undefined) continue;
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      controller.abort();
      expect(text, name).not.toContain("secret-of-s1");
      expect(text, name).not.toContain("owner");
    }
  } finally {
    await app.close();
  }
});
