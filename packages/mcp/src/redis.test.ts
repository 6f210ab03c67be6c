/**
 * The channel event store on the Redis broker: a dropped tool-call stream is
 * resumed from events kept in Redis Streams, and a session's events are
 * deleted from Redis when the session ends.
 */
import { redisBroker } from "@cellojs/redis";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { adminConnection, deleteKeys, REDIS_URL, skipWithoutRedis, uniquePrefix } from "../../redis/src/redis.test-support.js";
import { connectClient, droppedAndResumed, rawRequest, startApp, startInstance, until, type CutProxy } from "./mcp.test-support.js";

const prefix = uniquePrefix("mcp");
const admin = adminConnection();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await deleteKeys(admin, prefix);
  admin.disconnect();
});

async function redisApp(label: string) {
  // Instances of one app share the prefix: same label, same Redis keys.
  const broker = redisBroker({ url: REDIS_URL, prefix: `${prefix}${label}:` });
  const started = await startApp({ retryMs: 100 }, { broker });
  await broker.ready();
  cleanups.push(() => started.app.close());
  return { ...started, keyPrefix: `${prefix}${label}:` };
}

describe.skipIf(skipWithoutRedis)("MCP resumability on the Redis broker", () => {
  test("a stream cut after 3 of 10 progress steps resumes from Redis: every step once, in order", async () => {
    const { url, port, controls, keyPrefix } = await redisApp("resume");
    const holder: { proxy?: CutProxy } = {};
    cleanups.push(async () => holder.proxy?.close());
    const { progress, result } = await droppedAndResumed(url, port, controls, holder);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
    // The events were kept in Redis Streams under the broker's prefix.
    const keys = await admin.keys(`${keyPrefix}*`);
    expect(keys.some((key) => key.includes("mcp:"))).toBe(true);
  });

  test("resumed on another instance: B replays from Redis, then relays what A's tool keeps producing", async () => {
    const a = await redisApp("two");
    const b = await redisApp("two");
    const holder: { proxy?: CutProxy } = {};
    cleanups.push(async () => holder.proxy?.close());
    const { progress, result } = await droppedAndResumed(a.url, a.port, a.controls, holder, b.port);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
    // B served the stream without a session or a server of its own; the session stays on A.
    expect(b.controls.built).toBe(0);
    expect(b.mount.sessions).toBe(0);
    expect(a.mount.sessions).toBe(1);
  });

  test("resumed on an instance in another process: the same, over Redis between two processes", async () => {
    const a = await redisApp("process");
    const b = await startInstance(`${prefix}process:`, REDIS_URL);
    cleanups.push(() => b.stop());
    const holder: { proxy?: CutProxy } = {};
    cleanups.push(async () => holder.proxy?.close());
    const { progress, result } = await droppedAndResumed(a.url, a.port, a.controls, holder, b.port);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
    expect(a.mount.sessions).toBe(1);
  });

  test("on another instance, a session that is not open anywhere, or of another owner, is 404", async () => {
    const a = await redisApp("owner");
    const b = await redisApp("owner");
    const { client, transport } = await connectClient(a.url);
    await client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    const sessionId = transport.sessionId!;
    const resume = (headers: Record<string, string>) => rawRequest(b.port, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": sessionId, ...headers } });
    // The stream ids of this session are unknown to the test: a made-up one is not resumable (400).
    expect((await resume({ "last-event-id": "00000000-0000-4000-8000-000000000000:1-0" })).status).toBe(400);
    expect((await resume({ "last-event-id": "garbage" })).status).toBe(400);
    expect((await rawRequest(b.port, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": "00000000-0000-4000-8000-000000000000", "last-event-id": "_GET_stream:1-0" } })).status).toBe(404);
    await transport.terminateSession();
    await client.close();
    await until(() => a.mount.sessions === 0, "the session to end");
    // Ended on A: B no longer resumes it.
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await resume({ "last-event-id": "_GET_stream:1-0" })).status) !== 404) await new Promise((r) => setTimeout(r, 20));
    expect(status).toBe(404);
  });

  test("ending the session deletes its streams from Redis", async () => {
    const { url, mount, keyPrefix } = await redisApp("drop");
    const { client, transport } = await connectClient(url);
    await client.callTool({ name: "add", arguments: { a: 1, b: 2 } });
    const sessionId = transport.sessionId!;
    const ofSession = async () => (await admin.keys(`${keyPrefix}*`)).filter((key) => key.includes(sessionId));
    expect((await ofSession()).length).toBeGreaterThan(0);
    await transport.terminateSession();
    await client.close();
    await until(() => mount.sessions === 0, "the session to end");
    // Deletion is asynchronous (dropSession after the transport closed): poll Redis.
    const deadline = Date.now() + 10_000;
    while ((await ofSession()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await ofSession()).toEqual([]);
  });
});
