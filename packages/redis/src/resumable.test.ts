/**
 * Resumable streams across two app processes sharing one Redis: a stream
 * produced on A, dropped, and resumed on B gives the whole output exactly once;
 * a reader on B keeps A's producer alive through the grace; a stop sent to B
 * cancels the producer running on A; another owner gets 404 on B too.
 */
import type { Redis } from "ioredis";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminConnection, closeAgent, deleteKeys, openStream, skipWithoutRedis, startFixture, until, uniquePrefix, type FixtureServer, type RemoteStream, type StreamEvent } from "./redis.test-support.js";

const agent = new Agent({ connections: 32, pipelining: 0 });

/** Send a request and read its answer as an event stream as it comes. */
function read(url: string, options: { method?: "GET" | "POST"; user: string; body?: unknown; lastEventId?: string }): Promise<RemoteStream> {
  const headers: Record<string, string> = { "x-user": options.user };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return openStream(url, options.lastEventId, { method: options.method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
}

async function model(server: FixtureServer, streamId: string): Promise<{ produced: number; cancelled: boolean; finished: boolean }> {
  const res = await request(`${server.url}/model/${streamId}`, { dispatcher: agent });
  return (await res.body.json()) as { produced: number; cancelled: boolean; finished: boolean };
}

const tokens = (events: StreamEvent[]) => events.filter((e) => e.event === "token").map((e) => e.data);
const expected = (count: number) => Array.from({ length: count }, (_, i) => `tok${i} `).join("");
const endOf = (events: StreamEvent[]) => events.filter((e) => e.event === "end").map((e) => e.data);

describe.skipIf(skipWithoutRedis)("resumable streams across two processes on Redis", () => {
  const prefix = uniquePrefix("resumable");
  let admin: Redis;
  let a: FixtureServer;
  let b: FixtureServer;

  beforeAll(async () => {
    admin = adminConnection();
    process.env.GRACE_MS = "400";
    [a, b] = await Promise.all([startFixture(prefix, "resumable-server.ts"), startFixture(prefix, "resumable-server.ts")]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    delete process.env.GRACE_MS;
    await deleteKeys(admin, prefix);
    admin.disconnect();
    await agent.close();
    await closeAgent();
  });

  it("produced on A, dropped mid-generation, resumed on B: the tokens equal the full output, nothing lost or doubled", async () => {
    const first = await read(`${a.url}/chat`, { method: "POST", user: "alice", body: { tokens: 40 } });
    expect(first.status).toBe(200);
    const streamId = String(first.headers["cello-stream-id"]);
    await until(() => first.events.length >= 5, "5 events on A");
    first.close();
    const seen = [...first.events];
    const rest = await read(`${b.url}/chat/streams/${streamId}`, { user: "alice", lastEventId: seen.at(-1)!.id });
    expect(rest.status).toBe(200);
    await until(() => rest.ended, "the end of the stream on B");
    const all = [...seen, ...rest.events];
    expect(tokens(all).join("")).toBe(expected(40));
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
    expect(endOf(rest.events)).toEqual(['{"reason":"done"}']);
    // The reader on B kept A's producer going through its 400 ms grace.
    expect(await model(a, streamId)).toEqual({ produced: 40, cancelled: false, finished: true });
    // A reload on B reads the whole answer once.
    const reload = await read(`${b.url}/chat/streams/${streamId}`, { user: "alice" });
    await until(() => reload.ended, "the replay on B");
    expect(tokens(reload.events).join("")).toBe(expected(40));
  });

  it("a stop sent to B cancels the producer running on A, and A's reader gets the end", async () => {
    const reader = await read(`${a.url}/chat`, { method: "POST", user: "alice", body: { tokens: 1000 } });
    const streamId = String(reader.headers["cello-stream-id"]);
    await until(() => reader.events.length >= 2, "2 events on A");
    const stop = await request(`${b.url}/chat/streams/${streamId}`, { method: "DELETE", headers: { "x-user": "alice" }, dispatcher: agent });
    expect(stop.statusCode).toBe(204);
    await stop.body.dump();
    await until(() => reader.ended, "the end of A's stream");
    expect(endOf(reader.events)).toEqual(['{"reason":"stopped"}']);
    const state = await model(a, streamId);
    expect(state.cancelled).toBe(true);
    expect(state.finished).toBe(false);
  });

  it("with no reader anywhere, the grace runs out on A and cancels its producer", async () => {
    const first = await read(`${a.url}/chat`, { method: "POST", user: "alice", body: { tokens: 1000 } });
    const streamId = String(first.headers["cello-stream-id"]);
    await until(() => first.events.length >= 2, "2 events on A");
    first.close();
    await until(async () => (await model(a, streamId)).cancelled, "A's producer to be cancelled");
    const rest = await read(`${b.url}/chat/streams/${streamId}`, { user: "alice" });
    await until(() => rest.ended, "the stream read on B");
    expect(endOf(rest.events)).toEqual(['{"reason":"cancelled"}']);
  });

  it("an instance that shuts down (SIGTERM) ends its streams with reason shutdown, which B's readers get", async () => {
    const c = await startFixture(prefix, "resumable-server.ts");
    try {
      const first = await read(`${c.url}/chat`, { method: "POST", user: "alice", body: { tokens: 1000 } });
      const streamId = String(first.headers["cello-stream-id"]);
      await until(() => first.events.length >= 2, "2 events on C");
      const onB = await read(`${b.url}/chat/streams/${streamId}`, { user: "alice" });
      await c.stop("SIGTERM");
      await until(() => onB.ended, "the stream read on B to end");
      expect(endOf(onB.events)).toEqual(['{"reason":"shutdown"}']);
      expect(c.stderr()).not.toContain("could not publish");
    } finally {
      await c.stop();
    }
  });

  it("another principal gets 404 on B, for reading and for stopping, and no event", async () => {
    const reader = await read(`${a.url}/chat`, { method: "POST", user: "alice", body: { tokens: 30 } });
    const streamId = String(reader.headers["cello-stream-id"]);
    await until(() => reader.events.length >= 1, "1 event on A");
    const mallory = await read(`${b.url}/chat/streams/${streamId}`, { user: "mallory" });
    expect(mallory.status).toBe(404);
    await until(() => mallory.ended, "the 404 body");
    expect(mallory.events).toEqual([]);
    const stop = await request(`${b.url}/chat/streams/${streamId}`, { method: "DELETE", headers: { "x-user": "mallory" }, dispatcher: agent });
    expect(stop.statusCode).toBe(404);
    await stop.body.dump();
    await until(() => reader.ended, "alice's stream to end");
    expect(endOf(reader.events)).toEqual(['{"reason":"done"}']);
  });
});
