import { afterEach, describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError } from "../errors.js";
import { Response } from "../response.js";
import { SseStream } from "../sse/stream.js";
import { TestClient } from "../testing.js";
import { cors } from "./cors.js";

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
    // The allowed headers echo the request's list: caches must key on it, even when a preflight has none.
    expect(res.headers.vary).toBe("Access-Control-Request-Headers");
    const none = await client.options("/data", preflight("http://a.test"));
    expect([none.headers["access-control-allow-headers"], none.headers.vary]).toEqual([undefined, "Access-Control-Request-Headers"]);
    const fixed = await (await start((app) => app.enableCors({ allowHeaders: ["X-Token"] }))).options("/data", preflight("http://a.test", { "Access-Control-Request-Headers": "x-other" }));
    expect([fixed.headers["access-control-allow-headers"], fixed.headers.vary]).toEqual(["X-Token", undefined]);
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
    // A refusal depends on Origin too: a shared cache must not serve it to the good origin, nor the reverse.
    expect(bad.headers.vary).toBe("Origin");
    expect((await client.get("/data")).headers.vary).toBe("Origin");
    const badPreflight = await client.options("/data", preflight("http://evil.test"));
    expect(badPreflight.status).toBe(204);
    expect(Object.keys(badPreflight.headers).filter((h) => h.startsWith("access-control-"))).toEqual([]);
    expect(badPreflight.headers.vary).toBe("Origin");
    const badSse = await client.sse("/events", { headers: { Origin: "http://evil.test" } });
    expect(badSse.headers["access-control-allow-origin"]).toBeUndefined();
    expect(badSse.headers.vary).toBe("Origin");
  });

  it("matches origins exactly: no prefix, suffix, scheme or port slips through", async () => {
    const client = await start((app) => app.enableCors({ origins: ["https://good.test"], credentials: true }));
    const good = await client.get("/data", { headers: { Origin: "https://good.test" } });
    expect([good.headers["access-control-allow-origin"], good.headers["access-control-allow-credentials"]]).toEqual(["https://good.test", "true"]);
    for (const origin of ["https://good.test.evil.com", "https://evil.com.good.test", "https://good.testx", "http://good.test", "https://good.test:8443", "https://evilgood.test", "https://good.test/", "null"]) {
      for (const res of [await client.get("/data", { headers: { Origin: origin } }), await client.options("/data", preflight(origin))]) {
        expect([origin, Object.keys(res.headers).filter((h) => h.startsWith("access-control-"))]).toEqual([origin, []]);
        expect(res.headers.vary).toBe("Origin");
      }
    }
  });

  it("never echoes the null origin, whatever accepts it", async () => {
    for (const origins of [() => true, /.*/]) {
      const client = await start((app) => app.enableCors({ origins, credentials: true }));
      const res = await client.get("/data", { headers: { Origin: "null" } });
      expect([res.headers["access-control-allow-origin"], res.headers["access-control-allow-credentials"], res.headers.vary]).toEqual([undefined, undefined, "Origin"]);
      const pre = await client.options("/data", preflight("null"));
      expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
      expect((await client.get("/data", { headers: { Origin: "https://a.test" } })).headers["access-control-allow-origin"]).toBe("https://a.test");
    }
  });

  it("accepts a RegExp that must match the whole origin", async () => {
    const client = await start((app) => app.enableCors({ origins: /https:\/\/[a-z]+\.example\.com/g }));
    for (let i = 0; i < 2; i++) {
      // Twice: a /g RegExp's lastIndex must not make every other request fail.
      expect((await client.get("/data", { headers: { Origin: "https://app.example.com" } })).headers["access-control-allow-origin"]).toBe("https://app.example.com");
    }
    for (const origin of ["https://app.example.com.evil.test", "https://evil.test?https://app.example.com", "xhttps://app.example.com"]) {
      const res = await client.get("/data", { headers: { Origin: origin } });
      expect([origin, res.headers["access-control-allow-origin"], res.headers.vary]).toEqual([origin, undefined, "Origin"]);
    }
  });

  it("adds Origin to a Vary the handler set, once", async () => {
    const client = await start((app) => {
      app.enableCors({ origins: ["https://a.test"] });
      app.get("/negotiated", () => Response.text("x", { headers: { Vary: "Accept-Encoding" } }));
      app.get("/star", () => Response.text("x", { headers: { Vary: "*" } }));
    });
    expect((await client.get("/negotiated", { headers: { Origin: "https://a.test" } })).headers.vary).toBe("Accept-Encoding, Origin");
    expect((await client.get("/star", { headers: { Origin: "https://a.test" } })).headers.vary).toBe("*");
  });

  it("refuses at setup what would expose users or never match", () => {
    for (const options of [{ credentials: true }, { credentials: true, origins: "*" as const }]) {
      expect(() => new App().enableCors(options)).toThrow(/credentials need an explicit origins list/);
    }
    for (const origin of ["https://good.test/", "good.test", "null", "*", "https://good.test/path", ""]) {
      let thrown: unknown;
      try {
        cors({ origins: [origin] });
      } catch (err) {
        thrown = err;
      }
      expect([origin, thrown instanceof CelloError && thrown.code]).toEqual([origin, "CELLO_INVALID_OPTION"]);
    }
    expect(() => cors({ exposeHeaders: ["X-A\r\nSet-Cookie: a=1"] })).toThrow(CelloError);
    expect(() => cors({ maxAge: -1 })).toThrow(CelloError);
  });

  it("accepts a function for origins", async () => {
    const client = await start((app) => app.enableCors({ origins: (origin) => origin.endsWith(".example.com") }));
    expect((await client.get("/data", { headers: { Origin: "https://app.example.com" } })).headers["access-control-allow-origin"]).toBe(
      "https://app.example.com",
    );
    expect((await client.get("/data", { headers: { Origin: "https://example.org" } })).headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("never sends * with credentials", async () => {
    const client = await start((app) =>
      app.enableCors({ origins: ["http://a.test", "https://App.Example.com"], credentials: true, methods: ["GET", "POST"], allowHeaders: ["Authorization"] }),
    );
    expect((await client.get("/data", { headers: { Origin: "https://app.example.com" } })).headers["access-control-allow-origin"]).toBe("https://app.example.com");
    const sse = await client.sse("/events", { headers: { Origin: "http://a.test" } });
    expect([sse.headers["access-control-allow-origin"], sse.headers["access-control-allow-credentials"], sse.headers.vary]).toEqual(["http://a.test", "true", "Origin"]);
    const res = await client.get("/data", { headers: { Origin: "http://a.test" } });
    expect(res.headers["access-control-allow-origin"]).toBe("http://a.test");
    expect(res.headers["access-control-allow-credentials"]).toBe("true");
    expect(res.headers.vary).toBe("Origin");
    const pre = await client.options("/data", preflight("http://a.test"));
    expect(pre.headers["access-control-allow-origin"]).toBe("http://a.test");
    expect(pre.headers["access-control-allow-methods"]).toBe("GET, POST");
    expect(pre.headers["access-control-allow-headers"]).toBe("Authorization");
    expect(pre.headers.vary).toBe("Origin");
  });

  it("leaves an OPTIONS request that is not a preflight to the router", async () => {
    const client = await start((app) => app.enableCors());
    const res = await client.options("/data");
    expect([res.status, res.headers.allow]).toEqual([204, "GET, POST, HEAD"]);
  });
});
