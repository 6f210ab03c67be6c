// Test support shared by the channel tests of @cellojs/core (in-memory broker)
// and @cellojs/redis (Redis broker): what a client sees must not depend on the broker.
import { expect } from "vitest";
import type { App } from "../app.js";
import { sleep } from "../sse/raw-client.test-support.js";
import type { ReceivedEvent, TestClient } from "../testing.js";

/**
 * Wait until `app.channel(name)` has `size` local subscribers. It asks
 * `app.channel(name)`: a channel `app.subscribe()` made becomes the test code's (kept).
 */
export async function untilSize(app: App, name: string, size: number): Promise<void> {
  for (let i = 0; i < 200 && app.channel(name).size !== size; i++) await sleep(5);
  expect(app.channel(name).size).toBe(size);
}

/**
 * Publish `count` events (`n1`, `n2`, ...) on `channel` at a steady pace while a
 * client on `path` keeps disconnecting and resuming with the last id it got.
 * Resolves with everything the client received, across all its connections.
 */
export async function receiveWhileHopping(
  app: App,
  client: TestClient,
  options: {
    channel: string;
    path: string;
    count: number;
    maxReconnects?: number;
    /** What to publish as event `i` (1-based). Default `n${i}`. */
    message?: (i: number) => unknown;
    /** How many events this client should receive (fewer than `count` with a filter). Default `count`. */
    expected?: number;
    /** Subscribers of the channel already connected (other clients). Default 0. */
    others?: number;
  },
): Promise<{ received: ReceivedEvent[]; reconnects: number }> {
  const channel = app.channel(options.channel);
  const message = options.message ?? ((i: number) => `n${i}`);
  const expected = options.expected ?? options.count;
  const received: ReceivedEvent[] = [];
  // The first connection exists before anything is published; after that it hops.
  let handle = await client.openSse(options.path);
  await untilSize(app, options.channel, 1 + (options.others ?? 0));
  let publishing = true;
  const publisher = (async () => {
    for (let i = 1; i <= options.count; i++) {
      await channel.publish(message(i));
      if (i % 10 === 0) await sleep(1);
    }
    publishing = false;
  })();
  // A client that has no id yet resumes nothing: hop only once it has one.
  await handle.waitForEvents(1);
  let lastEventId: string | undefined;
  let reconnects = 0;
  for (;;) {
    await sleep(5 + (reconnects % 7));
    handle.close();
    received.push(...handle.events);
    lastEventId = received.at(-1)?.id ?? lastEventId;
    reconnects++;
    if (!publishing && received.length >= expected) break;
    if (reconnects > (options.maxReconnects ?? 3000)) break;
    handle = await client.openSse(options.path, lastEventId === undefined ? {} : { lastEventId });
  }
  await publisher;
  return { received, reconnects };
}

/**
 * Two users on one channel, each with a filter keeping only its own events: bob
 * stays connected while ann keeps disconnecting and resuming with Last-Event-ID,
 * as `count` events (one in three for ann) are published. Asserts that each gets
 * exactly its own events, all of them, once, in order, and never the other's.
 * `path(user)` is a route answering `channel.subscribe(req, { filter })` for `user`.
 */
export async function expectOwnEventsWhileResuming(app: App, client: TestClient, options: { channel: string; path: (user: string) => string; count: number }): Promise<void> {
  const recipient = (i: number) => (i % 3 === 0 ? "ann" : "bob");
  const bob = await client.openSse(options.path("bob"));
  await untilSize(app, options.channel, 1);
  const { received, reconnects } = await receiveWhileHopping(app, client, {
    channel: options.channel,
    path: options.path("ann"),
    count: options.count,
    message: (i) => ({ to: recipient(i), n: i }),
    expected: Math.floor(options.count / 3),
    others: 1,
  });
  const expectedFor = (user: string) => Array.from({ length: options.count }, (_, i) => i + 1).filter((i) => recipient(i) === user).map((n) => JSON.stringify({ to: user, n }));
  expect(reconnects).toBeGreaterThan(10);
  expect(received.map((e) => e.data)).toEqual(expectedFor("ann"));
  expect(received.every((e, i) => i === 0 || app.broker.compareIds(received[i - 1]!.id, e.id) < 0)).toBe(true);
  const bobExpected = expectedFor("bob");
  expect((await bob.waitForEvents(bobExpected.length, 30_000)).map((e) => e.data)).toEqual(bobExpected);
  bob.close();
}
