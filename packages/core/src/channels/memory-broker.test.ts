// The in-memory broker's own bookkeeping: the history and the publish times kept
// beside it stay in step, whichever bound trims them.
import { afterEach, describe, expect, it, vi } from "vitest";
import { memoryBroker } from "./broker.js";

afterEach(() => {
  vi.useRealTimers();
});

describe("memoryBroker history", () => {
  it("expires by age exactly the events older than ttlMs after the count bound trimmed older ones", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
    const broker = memoryBroker();
    broker.configure("c", { history: 2, ttlMs: 1000 });
    await broker.publish("c", { data: "1" });
    vi.setSystemTime(1_000_600);
    await broker.publish("c", { data: "2" });
    await broker.publish("c", { data: "3" });
    // "1" was trimmed by the count bound; "2" and "3" are 600 ms old, within ttlMs.
    vi.setSystemTime(1_001_200);
    expect(await broker.replay("c", "1")).toEqual({ events: [{ id: "2", data: "2" }, { id: "3", data: "3" }], reset: false, earliestId: "2" });
    // Past their ttl, both go.
    vi.setSystemTime(1_001_601);
    expect(await broker.replay("c", "1")).toEqual({ events: [], reset: true, earliestId: undefined });
  });

  it("hands replay copies: changing what replay returned changes nothing held", async () => {
    const broker = memoryBroker();
    const seen: unknown[] = [];
    broker.subscribe("c", (message) => seen.push(message));
    await broker.publish("c", { data: "a", event: "e", to: ["x"] });
    const first = await broker.replay("c", "");
    (first.events[0] as { data: string }).data = "changed";
    expect((await broker.replay("c", "")).events).toEqual([{ id: "1", event: "e", data: "a", to: ["x"] }]);
    expect(seen).toEqual([{ id: "1", event: "e", data: "a", to: ["x"] }]);
  });

  it("rejects, not throws, when delivery fails inside publish", async () => {
    const broker = memoryBroker();
    broker.subscribe("c", () => {
      throw new Error("listener failed");
    });
    const published = broker.publish("c", { data: "a" });
    await expect(published).rejects.toThrow("listener failed");
  });
});
