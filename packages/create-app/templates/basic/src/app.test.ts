import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { app } from "./app.js";

// A real server on a free port, and a real HTTP client: what a user's browser or curl sees.
let client: TestClient;

beforeAll(async () => {
  client = await TestClient.start(app);
});

afterAll(async () => {
  await client.close();
});

test("GET /api/hello answers JSON", async () => {
  const res = await client.get("/api/hello?name=Ada");
  expect(res.status).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  expect(res.json).toEqual({ message: "Hello, Ada!" });
});

test("GET /api/hello has a default name", async () => {
  const res = await client.get("/api/hello");
  expect(res.json).toEqual({ message: "Hello, world!" });
});

test("GET /events streams clock ticks", async () => {
  const sse = await client.sse("/events", { maxEvents: 2 });
  expect(sse.status).toBe(200);
  expect(sse.headers["content-type"]).toMatch(/^text\/event-stream/);
  expect(sse.events.map((event) => event.event)).toEqual(["tick", "tick"]);
  const times = sse.events.map((event) => Date.parse(JSON.parse(event.data).time));
  expect(times.every((time) => Number.isFinite(time))).toBe(true);
  expect(times[1]!).toBeGreaterThan(times[0]!);
});

test("an unknown path is a 404", async () => {
  const res = await client.get("/nope");
  expect(res.status).toBe(404);
});
