/**
 * The channel event store on the Redis broker: a dropped tool-call stream is
 * resumed from events kept in Redis Streams, and a session's events are
 * deleted from Redis when the session ends.
 */
import { redisBroker } from "@cellojs/redis";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { adminConnection, deleteKeys, REDIS_URL, skipWithoutRedis, uniquePrefix } from "../../redis/src/redis.test-support.js";
import { connectClient, droppedAndResumed, startApp, until, type CutProxy } from "./mcp.test-support.js";

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
