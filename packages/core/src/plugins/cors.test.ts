import { afterEach, describe, expect, it } from "vitest";
import { App } from "../app.js";
import { SseStream } from "../sse/stream.js";
import { TestClient } from "../testing.js";

const clients: TestClient[] = [];
async function start(configure: (app: App) => void): Promise<TestClient> {
  const app = new App();
  app.get("/data", () => ({ ok: true }));
  app.post("/data", () => ({ posted: true }));
  app.get("/events", () => {
    const stream = new SseStream();
    stream.addData("hi");
    stream.close();
    return stream;
  });
  configure(app);
  const client = await TestClient.start(app);
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const preflight = (origin: string, extra: Record<string, string> = {}) => ({
  headers: { Origin: origin, "Access-Control-Request-Method": "POST", ...extra },
});

describe("app.enableCors()", () => {
  it("defaults to Access-Control-Allow-Origin: * on responses and SSE streams", async () => {
    const client = await start((app) => app.enableCors());
    const res = await client.get("/data", { headers: { Origin: "http://a.test" } });
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.headers.vary).toBeUndefined();
    const sse = await client.sse("/events");
    expect(sse.headers["access-control-allow-origin"]).toBe("*");
    expect(sse.events.map((e) => e.data)).toEqual(["hi"]);
  });

  it("answers preflights with 204 even where no OPTIONS route exists", async () => {
    const client = await start((app) => app.enableCors({ maxAge: 600 }));
    const res = await client.options("/data", preflight("http://a.test", { "Access-Control-Request-Headers": "x-token, content-type" }));
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.headers["access-control-allow-methods"]).toBe("GET, HEAD, PUT, PATCH, POST, DELETE");
    expect(res.headers["access-control-allow-headers"]).toBe("x-token, content-type");
    expect(res.headers["access-control-max-age"]).toBe("600");
  });

  it("echoes an allowed origin with Vary: Origin and gives a disallowed one no CORS headers", async () => {
    const client = await start((app) => app.enableCors({ origins: ["http://good.test"], exposeHeaders: ["X-Total"] }));
    const good = await client.get("/data", { headers: { Origin: "http://good.test" } });
    expect(good.headers["access-control-allow-origin"]).toBe("http://good.test");
    expect(good.headers.vary).toBe("Origin");
    expect(good.headers["access-control-expose-headers"]).toBe("X-Total");
    const bad = await client.get("/data", { headers: { Origin: "http://evil.test" } });
    expect(bad.status).toBe(200);
    expect(Object.keys(bad.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
    const badPreflight = await client.options("/data", preflight("http://evil.test"));
    expect(badPreflight.status).toBe(204);
    expect(Object.keys(badPreflight.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
    const badSse = await client.sse("/events", { headers: { Origin: "http://evil.test" } });
    expect(badSse.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("accepts a function for origins", async () => {
    const client = await start((app) => app.enableCors({ origins: (origin) => origin.endsWith(".example.com") }));
    expect((await client.get("/data", { headers: { Origin: "https://app.example.com" } })).headers["access-control-allow-origin"]).toBe(
      "https://app.example.com",
    );
    expect((await client.get("/data", { headers: { Origin: "https://example.org" } })).headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("never sends * with credentials", async () => {
    const client = await start((app) => app.enableCors({ credentials: true, methods: ["GET", "POST"], allowHeaders: ["Authorization"] }));
    const res = await client.get("/data", { headers: { Origin: "http://a.test" } });
    expect(res.headers["access-control-allow-origin"]).toBe("http://a.test");
    expect(res.headers["access-control-allow-credentials"]).toBe("true");
    expect(res.headers.vary).toBe("Origin");
    const pre = await client.options("/data", preflight("http://a.test"));
    expect(pre.headers["access-control-allow-origin"]).toBe("http://a.test");
    expect(pre.headers["access-control-allow-methods"]).toBe("GET, POST");
    expect(pre.headers["access-control-allow-headers"]).toBe("Authorization");
  });

  it("leaves an OPTIONS request that is not a preflight to the router", async () => {
    const client = await start((app) => app.enableCors());
    const res = await client.options("/data");
    expect([res.status, res.headers.allow]).toEqual([204, "GET, POST, HEAD"]);
  });
});
