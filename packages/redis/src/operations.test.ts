/**
 * The Redis broker seen by operations: `status()` (connected, reconnects, reader lag),
 * the `cello:broker.state` diagnostics channel, core's readiness check failing while
 * Redis is unreachable, and core's metrics reporting the broker. Real Redis, real sockets.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { createServer } from "node:net";
import { App, DIAGNOSTICS_CHANNELS, silentLogger, type BrokerStateMessage } from "@cellojs/core";
import { fetch } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { redisBroker, type RedisBroker } from "./broker.js";
import { REDIS_URL, adminConnection, killConnections, skipWithoutRedis, uniquePrefix, until } from "./redis.test-support.js";

describe.skipIf(skipWithoutRedis)("the Redis broker in operations", () => {
  const admin = adminConnection();
  const closing: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(closing.splice(0).map((c) => c.close()));
  });
  afterAll(() => admin.quit());

  function open(options: Parameters<typeof redisBroker>[0] = {}): RedisBroker {
    const broker = redisBroker({ url: REDIS_URL, prefix: uniquePrefix("ops"), logger: silentLogger, ...options });
    closing.push(broker);
    return broker;
  }

  it("status() reports connected, each reconnect after a kill, and the reader's lag; cello:broker.state says when", async () => {
    const states: BrokerStateMessage[] = [];
    const onState = (message: unknown) => void states.push(message as BrokerStateMessage);
    diagnosticsChannel.subscribe(DIAGNOSTICS_CHANNELS.brokerState, onState);
    try {
      const broker = open({ connectionName: `cello-ops-${process.pid}`, reconnectBackoff: { minMs: 10, maxMs: 50 } });
      await broker.ready();
      expect(broker.status()).toMatchObject({ connected: true, reconnects: 0 });
      const got: string[] = [];
      broker.subscribe("lag", (message) => got.push(message.id));
      await broker.publish("lag", { data: "x" });
      await until(() => got.length === 1, "the event to come back");
      const lag = broker.status().readerLagMs!;
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(5000);

      expect(await killConnections(admin, [broker.connectionNames.reader, broker.connectionNames.publisher])).toBe(2);
      await until(() => states.some((s) => s.broker === broker && !s.connected), "a disconnected state");
      await until(() => broker.status().connected && broker.status().reconnects === 2, "both connections back");
      const mine = states.filter((s) => s.broker === broker);
      expect(mine.some((s) => s.reconnected && s.connected)).toBe(true);
      await broker.close();
      expect(broker.status().connected).toBe(false);
    } finally {
      diagnosticsChannel.unsubscribe(DIAGNOSTICS_CHANNELS.brokerState, onState);
    }
  });

  it("fails core's readiness (503, broker failing) while Redis is unreachable, and metrics say broker_connected 0", async () => {
    // A port that accepts nothing: a closed listener's port.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    const broker = open({ url: `redis://127.0.0.1:${port}`, reconnectBackoff: { minMs: 50, maxMs: 200 } });
    const app = new App({ broker, logger: silentLogger });
    app.enableHealthChecks();
    app.enableMetrics({ defaultMetrics: false });
    closing.push({ close: () => app.close({ graceMs: 200 }) });
    const { url } = await app.listen({ port: 0 });
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "failing", state: "started", checks: { broker: "failing" } });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^cello_broker_connected 0$/m);
  });

  it("passes readiness with Redis up, and metrics say broker_connected 1", async () => {
    const broker = open();
    const app = new App({ broker, logger: silentLogger });
    app.onEvent("startup", () => broker.ready());
    app.enableHealthChecks();
    app.enableMetrics({ defaultMetrics: false });
    closing.push({ close: () => app.close({ graceMs: 200 }) });
    const { url } = await app.listen({ port: 0 });
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ok", state: "started", checks: { broker: "ok" } });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toMatch(/^cello_broker_connected 1$/m);
    expect(text).toMatch(/^cello_broker_reconnects_total 0$/m);
  });
});
