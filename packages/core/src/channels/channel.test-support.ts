// Test support shared by the channel tests of @cellojs/core (in-memory broker)
// and @cellojs/redis (Redis broker): what a client sees must not depend on the broker.
import { expect } from "vitest";
import type { App } from "../app.js";
import { sleep } from "../sse/raw-client.test-support.js";
import type { ReceivedEvent, TestClient } from "../testing.js";

/** Wait until `app.channel(name)` has `size` local subscribers. */
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
  options: { channel: string; path: string; count: number; maxReconnects?: number },
): Promise<{ received: ReceivedEvent[]; reconnects: number }> {
  const channel = app.channel(options.channel);
  const received: ReceivedEvent[] = [];
  // The first connection exists before anything is published; after that it hops.
  let handle = await client.openSse(options.path);
  await untilSize(app, options.channel, 1);
  let publishing = true;
  const publisher = (async () => {
    for (let i = 1; i <= options.count; i++) {
      await channel.publish(`n${i}`);
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
    if (!publishing && received.length >= options.count) break;
    if (reconnects > (options.maxReconnects ?? 3000)) break;
    handle = await client.openSse(options.path, lastEventId === undefined ? {} : { lastEventId });
  }
  await publisher;
  return { received, reconnects };
}
