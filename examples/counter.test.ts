import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemo, waitFor } from "./browser/support.js";
import { app, openCounters } from "./counter.js";

let client: TestClient;
beforeAll(async () => {
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

const counts = (n: number) => Array.from({ length: n }, (_, i) => `event: count\ndata: {"value":${i + 1}}\n\n`).join("");

describe("examples/counter.ts", () => {
  it("GET / lists the two counters", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(Object.keys(res.json.endpoints)).toEqual(["/counter", "/counter/generator"]);
  });

  for (const path of ["/counter", "/counter/generator"]) {
    it(`${path}?to=3 sends count 1..3, then complete, and the server ends the stream`, async () => {
      const res = await client.sse(`${path}?to=3&interval=10`);
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
      expect(res.headers["cache-control"]).toBe("no-cache, no-transform");
      expect(res.raw).toBe(": ok\n\n" + counts(3) + 'event: complete\ndata: {"message":"Counter finished","total":3}\n\n');
      expect(res.endedBy).toBe("server-closed");
    });

    it(`${path}?to=1 sends one count and complete`, async () => {
      const res = await client.sse(`${path}?to=1`);
      expect(res.events.map((e) => [e.event, e.data])).toEqual([
        ["count", '{"value":1}'],
        ["complete", '{"message":"Counter finished","total":1}'],
      ]);
      expect(res.endedBy).toBe("server-closed");
    });

    it(`${path} without ?to= counts until the client leaves, then stops its producer`, async () => {
      const key = path === "/counter" ? "stream" : "generator";
      const stream = await client.openSse(`${path}?interval=10`);
      const events = await stream.waitForEvents(4);
      expect(events.map((e) => e.data)).toEqual(['{"value":1}', '{"value":2}', '{"value":3}', '{"value":4}']);
      expect(openCounters[key]).toBe(1);
      stream.close();
      await waitFor(() => openCounters[key] === 0, `the ${key} counter to stop after the client left`);
    });

    it(`${path} answers 400 JSON for a bad ?to= or ?interval=`, async () => {
      for (const query of ["to=0", "to=abc", "to=1.5", "interval=1", "interval=99999999"]) {
        const res = await client.get(`${path}?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.headers["content-type"]).toBe("application/json");
        expect(res.json.status).toBe(400);
        expect(res.json.error).toMatch(/must be an integer/);
      }
    });
  }

  it("starts with `npx tsx examples/counter.ts` on the given port", async () => {
    const demo = await startDemo("counter.ts");
    try {
      const res = await fetch(`${demo.url}/counter?to=2&interval=10`);
      expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
      expect(await res.text()).toBe(": ok\n\n" + counts(2) + 'event: complete\ndata: {"message":"Counter finished","total":2}\n\n');
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
