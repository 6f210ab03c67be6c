// Guards in the request pipeline, over real sockets: what a refused client sees
// (status, body, headers, and not one SSE byte), async guards, a guard that
// throws, the principal, and where guards are declared (app, blueprint,
// controller, route) merged outer first.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { Blueprint } from "../blueprint.js";
import { controller, get } from "../decorators.js";
import { HttpError } from "../errors.js";
import type { Request } from "../request.js";
import { rawSse, responses, sleep } from "../sse/raw-client.test-support.js";
import { SseStream } from "../sse/stream.js";
import { celloErrorOf, recordingLogger, startWithCleanup } from "../testing.js";
import { Authenticated } from "./authenticated.js";
import { RoleGuard } from "./claims.js";
import type { Guard } from "./guard.js";

const start = startWithCleanup();

const USERS: Record<string, { id: string; roles: string[] }> = {
  "alice-token": { id: "alice", roles: ["admin"] },
  "bob-token": { id: "bob", roles: ["reader"] },
};
const auth = Authenticated({ realm: "test", verify: (token) => (USERS[token] ? { principal: USERS[token] } : undefined) });

/** An SSE route that would stream at once: any byte of it on a refused request is a leak. */
function streamingApp(guards: Guard[], logger = recordingLogger()): App {
  const app = new App({ logger });
  app.get("/events", () => {
    const stream = new SseStream();
    stream.addEvent("secret", "for admins only");
    return stream;
  }, { guards });
  return app;
}

async function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; head: string; body: string }> {
  const conn = await rawSse(port, path, { headers: { Connection: "close", ...headers } });
  await conn.closed;
  const [response] = responses(conn.text());
  return { status: Number(response!.head.split(" ")[1]), head: response!.head, body: response!.body };
}

describe("a refused request gets its 401 or 403 before any SSE byte", () => {
  it("401: no credentials, then a wrong token; exact head and body, no event-stream", async () => {
    const app = streamingApp([auth, RoleGuard(["admin"])]);
    const { url } = await app.listen({ port: 0 });
    const port = Number(new URL(url).port);
    try {
      const missing = await rawGet(port, "/events");
      expect(missing.status).toBe(401);
      expect(missing.head).toMatch(/\r\nWWW-Authenticate: Bearer realm="test"\r\n/);
      expect(missing.head).toMatch(/\r\nContent-Type: application\/json\r\n/);
      expect(missing.head).not.toMatch(/event-stream/i);
      expect(missing.body).toBe('{"error":"Unauthorized: missing credentials","status":401}');

      const wrong = await rawGet(port, "/events", { Authorization: "Bearer nobody-token" });
      expect(wrong.status).toBe(401);
      expect(wrong.head).toMatch(/\r\nWWW-Authenticate: Bearer realm="test", error="invalid_token"\r\n/);
      expect(wrong.body).toBe('{"error":"Unauthorized: invalid token","status":401}');
      expect(wrong.body).not.toContain("secret");
      expect(app.openStreams).toBe(0);
    } finally {
      await app.close();
    }
  });

  it("403: an authenticated principal without the role; the one with it streams", async () => {
    const app = streamingApp([auth, RoleGuard(["admin"])]);
    const { url } = await app.listen({ port: 0 });
    const port = Number(new URL(url).port);
    try {
      const bob = await rawGet(port, "/events", { Authorization: "Bearer bob-token" });
      expect(bob.status).toBe(403);
      expect(bob.head).not.toMatch(/WWW-Authenticate/i);
      expect(bob.body).toBe('{"error":"Forbidden","status":403}');

      const alice = await rawSse(port, "/events", { headers: { Authorization: "Bearer alice-token" } });
      const text = await alice.until((t) => t.includes("event: secret"));
      expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(alice.body()).toContain("event: secret\ndata: for admins only\n\n");
      alice.socket.destroy();
    } finally {
      await app.close();
    }
  });

  it("a guard returning false is a 403; one throwing an HttpError answers that error, headers included", async () => {
    const client = await start(
      new App()
        .get("/false", () => "no", { guards: [() => false] })
        .get("/teapot", () => "no", { guards: [() => { throw new HttpError(429, "Slow down", { headers: { "Retry-After": "5" } }); }] }),
    );
    const refused = await client.get("/false");
    expect([refused.status, refused.text]).toEqual([403, '{"error":"Forbidden","status":403}']);
    const limited = await client.get("/teapot");
    expect([limited.status, limited.headers["retry-after"], limited.json]).toEqual([429, "5", { error: "Slow down", status: 429 }]);
  });
});

describe("guards and the rest of the pipeline", () => {
  it("a CORS preflight and the automatic OPTIONS run no guard; a refusal still carries the CORS headers", async () => {
    const app = streamingApp([auth]);
    app.enableCors({ origins: ["https://app.test"] });
    const client = await start(app);
    const preflight = await client.options("/events", { headers: { origin: "https://app.test", "access-control-request-method": "GET" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("https://app.test");
    const refused = await client.get("/events", { headers: { origin: "https://app.test" } });
    expect([refused.status, refused.headers["access-control-allow-origin"]]).toEqual([401, "https://app.test"]);
    const plain = await start(streamingApp([auth]));
    const options = await plain.options("/events");
    expect([options.status, options.headers.allow]).toEqual([204, "GET, HEAD"]);
  });

  it("HEAD runs the guards too", async () => {
    const client = await start(streamingApp([auth]));
    expect((await client.head("/events")).status).toBe(401);
    expect((await client.head("/events", { headers: { authorization: "Bearer bob-token" } })).status).toBe(200);
  });
});

describe("async guards", () => {
  it("are awaited in order; each sees the principal the one before attached; the handler runs after all allowed", async () => {
    const seen: string[] = [];
    const slowAuth: Guard = async (request) => {
      await sleep(20);
      seen.push("auth");
      return request.getHeader("x-user") ? { principal: { id: request.getHeader("x-user")!, roles: [] } } : false;
    };
    const needsPrincipal: Guard = async (request) => {
      await sleep(5);
      seen.push(`second:${(request.principal as { id: string } | undefined)?.id}`);
      return true;
    };
    const app = new App().get("/me", (request) => ({ id: (request.principal as { id: string }).id }), { guards: [slowAuth, needsPrincipal] });
    const client = await start(app);
    expect((await client.get("/me", { headers: { "x-user": "ann" } })).json).toEqual({ id: "ann" });
    expect(seen).toEqual(["auth", "second:ann"]);
    seen.length = 0;
    const refused = await client.get("/me");
    expect(refused.status).toBe(403);
    // The first refusal answers: the second guard never ran.
    expect(seen).toEqual(["auth"]);
  });

  it("a sync route and a route with only sync guards answer the same as an async one", async () => {
    const app = new App()
      .get("/sync", (r) => r.principal ?? null, { guards: [() => ({ principal: { who: "sync" } })] })
      .get("/async", (r) => r.principal ?? null, { guards: [async () => ({ principal: { who: "async" } })] })
      .get("/open", (r) => r.principal ?? null);
    const client = await start(app);
    expect((await client.get("/sync")).json).toEqual({ who: "sync" });
    expect((await client.get("/async")).json).toEqual({ who: "async" });
    expect((await client.get("/open")).status).toBe(204);
  });
});

describe("a guard that fails", () => {
  it("throwing (sync or async) is a 500 logged with the route, and the next request is served", async () => {
    const logger = recordingLogger();
    const app = new App({ logger })
      .get("/sync", () => "never", { guards: [() => { throw new TypeError("boom"); }] })
      .get("/async", () => "never", { guards: [async () => { throw new RangeError("later"); }] })
      .get("/ok", () => "fine");
    const client = await start(app);
    for (const path of ["/sync", "/async"]) {
      const res = await client.get(path);
      expect([res.status, res.text]).toEqual([500, '{"error":"Internal Server Error","status":500}']);
    }
    expect(logger.errors.map(([message, err]) => [message, (err as Error).message])).toEqual([
      ["Unhandled error in a guard of GET /sync", "boom"],
      ["Unhandled error in a guard of GET /async", "later"],
    ]);
    expect((await client.get("/ok")).text).toBe("fine");
    expect((await client.get("/sync")).status).toBe(500);
  });

  it("returning something no guard should (null, a string, a bad expiresAt) is a logged 500, never a pass", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    const bad: unknown[] = [null, "yes", 1, [], { expiresAt: "soon" }, { expiresAt: new Date("nope") }];
    bad.forEach((value, i) => app.get(`/bad/${i}`, () => "passed", { guards: [(() => value) as Guard] }));
    const client = await start(app);
    for (let i = 0; i < bad.length; i++) {
      const res = await client.get(`/bad/${i}`);
      expect(res.status, JSON.stringify(bad[i])).toBe(500);
    }
    expect(logger.errors).toHaveLength(bad.length);
    expect(String((logger.errors[1]![1] as Error).message)).toContain('a guard returned "yes"');
  });

  it("an expiresAt already past is a 401, whatever the guard concluded", async () => {
    const client = await start(new App().get("/x", () => "passed", { guards: [() => ({ principal: { id: "a" }, expiresAt: Date.now() - 1 })] }));
    const res = await client.get("/x");
    expect([res.status, res.json]).toEqual([401, { error: "Unauthorized: credential expired", status: 401 }]);
  });
});

describe("where guards are declared", () => {
  const trail = new WeakMap<Request, string[]>();
  const mark = (name: string): Guard => (request) => {
    trail.set(request, [...(trail.get(request) ?? []), name]);
  };
  const order = (request: Request) => trail.get(request) ?? [];

  it("app > blueprint (outer first) > controller > route, including app guards added after the routes", async () => {
    @controller("/c", { guards: [mark("controller")] })
    class Ctrl {
      @get("/r", { guards: [mark("route")] })
      r(request: Request) {
        return order(request);
      }
    }
    const app = new App({ guards: [mark("app")] });
    const outer = new Blueprint("/outer", { guards: [mark("outer")] });
    const inner = new Blueprint("/inner", { guards: [mark("inner")] });
    inner.register(Ctrl);
    inner.get("/fn", order, { guards: [mark("fn-route")] });
    outer.registerBlueprint(inner);
    app.registerBlueprint(outer);
    app.register(Ctrl);
    app.get("/plain", order);
    app.useGuards(mark("app-late"));
    app.get("/after", order);
    const client = await start(app);
    expect((await client.get("/outer/inner/c/r")).json).toEqual(["app", "app-late", "outer", "inner", "controller", "route"]);
    expect((await client.get("/outer/inner/fn")).json).toEqual(["app", "app-late", "outer", "inner", "fn-route"]);
    expect((await client.get("/c/r")).json).toEqual(["app", "app-late", "controller", "route"]);
    expect((await client.get("/plain")).json).toEqual(["app", "app-late"]);
    expect((await client.get("/after")).json).toEqual(["app", "app-late"]);
  });

  it("a refusal anywhere in the chain stops it there", async () => {
    const app = new App({ guards: [mark("app")] });
    const bp = new Blueprint("/bp", { guards: [() => false] });
    bp.get("/r", order, { guards: [mark("route")] });
    app.registerBlueprint(bp);
    const client = await start(app);
    expect((await client.get("/bp/r")).status).toBe(403);
  });

  it("anything but an array of functions throws CELLO_INVALID_OPTION where it is written", () => {
    const app = new App();
    expect(celloErrorOf(() => app.get("/a", () => 1, { guards: "auth" as never })).message).toContain("GET /a: guards must be an array");
    expect(celloErrorOf(() => app.get("/b", () => 1, { guards: [auth, undefined] as never })).message).toContain("GET /b: guards[1] is undefined");
    expect(celloErrorOf(() => new Blueprint("/x", { guards: [{}] as never })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => controller("/x", { guards: [42] as never })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => get("/x", { guards: {} as never })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => new App({ guards: [null] as never })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.useGuards("x" as never)).code).toBe("CELLO_INVALID_OPTION");
  });

  it("a guards array changed after registration changes nothing", async () => {
    const guards: Guard[] = [];
    const app = new App().get("/x", () => "open", { guards });
    guards.push(() => false);
    const client = await start(app);
    expect((await client.get("/x")).text).toBe("open");
  });
});
