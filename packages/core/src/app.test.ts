import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { Blueprint } from "./blueprint.js";
import { controller, get, post } from "./decorators.js";
import { CelloError, HttpError } from "./errors.js";
import { silentLogger } from "./logger.js";
import type { Request } from "./request.js";
import { Response } from "./response.js";
import { SseStream } from "./sse/stream.js";
import { recordingLogger, startWithCleanup } from "./testing.js";

const start = startWithCleanup();

describe("routing", () => {
  it("registers every method with a handler and returns params as strings", async () => {
    const app = new App();
    app.get("/items/{id}", (req) => ({ method: req.method, id: req.params.id }));
    app.post("/items/:id", (req) => ({ method: req.method, id: req.params.id }));
    app.put("/items/{id}", (req) => ({ method: req.method }));
    app.patch("/items/{id}", (req) => ({ method: req.method }));
    app.delete("/items/{id}", (req) => ({ method: req.method }));
    app.options("/items/{id}", () => Response.noContent({ headers: { "X-Options": "custom" } }));
    app.route("/multi", { methods: ["GET", "POST"] }, (req) => req.method);
    const client = await start(app);
    expect((await client.get("/items/42")).json).toEqual({ method: "GET", id: "42" });
    expect((await client.post("/items/42")).json).toEqual({ method: "POST", id: "42" });
    for (const method of ["put", "patch", "delete"] as const) expect((await client[method]("/items/1")).json.method).toBe(method.toUpperCase());
    expect((await client.options("/items/1")).headers["x-options"]).toBe("custom");
    expect((await client.get("/multi")).text).toBe("GET");
    expect((await client.post("/multi")).text).toBe("POST");
  });

  it("answers an unknown path with 404 JSON and a wrong method with 405 and Allow", async () => {
    const app = new App();
    app.get("/only-get", () => "ok");
    const client = await start(app);
    const missing = await client.get("/x");
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toBe("application/json");
    expect(missing.json).toEqual({ error: "Not Found: GET /x", status: 404 });
    const wrong = await client.delete("/only-get");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe("GET, HEAD");
    expect(wrong.json).toEqual({ error: "Method Not Allowed: DELETE /only-get", status: 405 });
    const options = await client.options("/only-get");
    expect([options.status, options.headers.allow]).toEqual([204, "GET, HEAD"]);
  });

  it("serves HEAD from GET with headers and no body", async () => {
    const app = new App();
    app.get("/doc", () => ({ big: "x".repeat(100) }));
    const client = await start(app);
    const res = await client.head("/doc");
    expect(res.status).toBe(200);
    expect(res.headers["content-length"]).toBe(String(JSON.stringify({ big: "x".repeat(100) }).length));
    expect(res.text).toBe("");
  });

  it("matches a trailing wildcard", async () => {
    const app = new App();
    app.get("/files/*", (req) => req.params["*"]);
    const client = await start(app);
    expect((await client.get("/files/a/b.txt")).text).toBe("a/b.txt");
  });

  it("fails a duplicate route at registration with a clear error", () => {
    const app = new App();
    app.get("/dup/{id}", () => 1);
    expect(() => app.get("/dup/:id", () => 2)).toThrow("Duplicate route: GET /dup/:id is already registered");
    const bp = new Blueprint("/dup");
    bp.get("/{x}", () => 3);
    expect(() => app.registerBlueprint(bp)).toThrow(CelloError);
    const late = new Blueprint("/late");
    new App().registerBlueprint(late);
    expect(() => late.get("/x", () => 1)).toThrow('GET /x was added to Blueprint "/late" after it was registered');
  });

  it("supports @app.get on class methods, instantiated once, with this", async () => {
    const app = new App();
    let constructed = 0;
    class Demo {
      prefix = "count";
      constructor() {
        constructed++;
      }
      @app.get("/sse/counter")
      counter(_request: Request) {
        const stream = new SseStream();
        for (let i = 1; i <= 3; i++) stream.addEvent(this.prefix, JSON.stringify({ value: i }));
        stream.close();
        return stream;
      }
      @app.get("/name")
      name() {
        return this.prefix;
      }
    }
    void Demo;
    const client = await start(app);
    const sse = await client.sse("/sse/counter");
    expect(sse.events.map((e) => [e.event, e.data])).toEqual([
      ["count", '{"value":1}'],
      ["count", '{"value":2}'],
      ["count", '{"value":3}'],
    ]);
    expect((await client.get("/name")).text).toBe("count");
    expect(constructed).toBe(1);
  });

  it("registers controllers and nested blueprints", async () => {
    @controller("/users")
    class Users {
      @get("/{id}")
      show(req: Request) {
        return { user: req.params.id };
      }
      @post("/")
      create() {
        return Response.created({ ok: true }, "/users/1");
      }
    }
    const api = new Blueprint("/api");
    api.get("/ping", () => "pong");
    class BlueprintDecorated {
      @api.get("/decorated")
      decorated() {
        return "from class";
      }
    }
    void BlueprintDecorated;
    const v1 = new Blueprint("/v1");
    v1.registerBlueprint(api);
    v1.register(Users);
    const app = new App();
    app.register(Users);
    app.registerBlueprint(v1);
    const client = await start(app);
    expect((await client.get("/users/5")).json).toEqual({ user: "5" });
    const created = await client.post("/users");
    expect([created.status, created.headers.location, created.json]).toEqual([201, "/users/1", { ok: true }]);
    expect((await client.get("/v1/api/ping")).text).toBe("pong");
    expect((await client.get("/v1/api/decorated")).text).toBe("from class");
    expect((await client.get("/v1/users/3")).json).toEqual({ user: "3" });
  });
});

describe("request", () => {
  it("exposes method, path, url, query (first value), queryAll, headers and getHeader", async () => {
    const app = new App();
    app.get("/echo", (req) => ({
      method: req.method,
      path: req.path,
      url: req.url,
      query: req.query,
      tags: req.queryAll("tag"),
      header: req.headers["x-custom"],
      lastEventId: req.getHeader("Last-Event-ID"),
    }));
    const client = await start(app);
    const res = await client.get("/echo?tag=a&tag=b&q=hello%20world", { headers: { "X-Custom": "yes", "Last-Event-ID": "17" } });
    expect(res.json).toEqual({
      method: "GET",
      path: "/echo",
      url: "/echo?tag=a&tag=b&q=hello%20world",
      query: { tag: "a", q: "hello world" },
      tags: ["a", "b"],
      header: "yes",
      lastEventId: "17",
    });
  });

  it("reads JSON, text and bytes", async () => {
    const app = new App();
    app.post("/json", async (req) => ({ got: await req.json() }));
    app.post("/text", async (req) => `${(await req.text()).toUpperCase()}`);
    app.post("/bytes", async (req) => Array.from(await req.body()));
    const client = await start(app);
    expect((await client.post("/json", { json: { a: [1, 2] } })).json).toEqual({ got: { a: [1, 2] } });
    expect((await client.post("/text", { body: "héllo" })).text).toBe("HÉLLO");
    expect((await client.post("/bytes", { body: new Uint8Array([0, 255, 7]) })).json).toEqual([0, 255, 7]);
  });

  it("answers invalid or empty JSON with 400, never 500", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.post("/json", async (req) => req.json());
    const client = await start(app);
    const bad = await client.post("/json", { body: "{not json", headers: { "content-type": "application/json" } });
    expect(bad.status).toBe(400);
    expect(bad.json.status).toBe(400);
    expect(bad.json.error).toMatch(/^Invalid JSON body: /);
    const empty = await client.post("/json");
    expect([empty.status, empty.json.error]).toEqual([400, "Invalid JSON body: empty body"]);
    expect(logger.errors).toEqual([]);
  });

  it("answers an oversize body with 413, by Content-Length and while streaming, and keeps serving", async () => {
    const app = new App({ bodyLimit: 1024 });
    let seen = 0;
    app.post("/upload", async (req) => {
      seen = (await req.body()).length;
      return { seen };
    });
    app.post("/small", async (req) => (await req.body()).length, { bodyLimit: 8 });
    const client = await start(app);
    const declared = await client.post("/upload", { body: new Uint8Array(5000) });
    expect(declared.status).toBe(413);
    expect(declared.json).toEqual({ error: "Payload Too Large: the body exceeds 1024 bytes", status: 413 });
    // A chunked body with no Content-Length is cut off as soon as it passes the limit.
    const chunked = await fetch(`${client.url}/upload`, {
      method: "POST",
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new Uint8Array(512));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(seen).toBe(0);
    expect((await client.post("/small", { body: "123456789" })).status).toBe(413);
    expect((await client.post("/small", { body: "12345678" })).text).toBe("8");
    expect((await client.post("/upload", { body: "fine" })).json).toEqual({ seen: 4 });
  });

  it("aborts request.signal when the client goes away", async () => {
    const app = new App();
    let aborted: (reason: unknown) => void;
    const abortedPromise = new Promise((resolve) => (aborted = resolve));
    app.get("/slow", (req) => {
      req.signal.addEventListener("abort", () => aborted(req.signal.reason));
      return new Promise(() => {}); // never answers
    });
    const client = await start(app);
    const controller = new AbortController();
    const pending = fetch(`${client.url}/slow`, { signal: controller.signal }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    expect(await pending).toBe("aborted");
    const reason = (await abortedPromise) as Error;
    expect(reason.name).toBe("AbortError");
  });
});

describe("responses and return types", () => {
  it("maps every return type in one place", async () => {
    const app = new App();
    app.get("/object", () => ({ a: 1 }));
    app.get("/array", () => [1, "two"]);
    app.get("/string", () => "plain");
    app.get("/bytes", () => new Uint8Array([1, 2, 3]));
    app.get("/buffer", () => Buffer.from("buf"));
    app.get("/undefined", () => undefined);
    app.get("/null", () => null);
    app.get("/number", () => 42);
    app.get("/async", async () => ({ async: true }));
    const client = await start(app);
    const object = await client.get("/object");
    expect([object.status, object.headers["content-type"], object.text]).toEqual([200, "application/json", '{"a":1}']);
    expect((await client.get("/array")).text).toBe('[1,"two"]');
    const text = await client.get("/string");
    expect([text.headers["content-type"], text.text]).toEqual(["text/plain; charset=utf-8", "plain"]);
    const bytes = await client.get("/bytes");
    expect([bytes.headers["content-type"], bytes.headers["content-length"]]).toEqual(["application/octet-stream", "3"]);
    expect((await client.get("/buffer")).text).toBe("buf");
    for (const path of ["/undefined", "/null"]) {
      const res = await client.get(path);
      expect([res.status, res.text]).toEqual([204, ""]);
    }
    expect((await client.get("/number")).text).toBe("42");
    expect((await client.get("/async")).json).toEqual({ async: true });
  });

  it("builds responses with the static constructors", async () => {
    const app = new App();
    app.get("/json", () => Response.json({ ok: true }, { status: 202, headers: { "X-A": "1" } }));
    app.get("/text", () => Response.text("t", { status: 418 }));
    app.get("/html", () => Response.html("<p>hi</p>"));
    app.get("/redirect", () => Response.redirect("/new"));
    app.get("/moved", () => Response.redirect("/new", { permanent: true }));
    app.get("/empty", () => Response.noContent());
    app.get("/binary", () => Response.binary(new Uint8Array([9]), "image/png"));
    app.get("/status", () => {
      const res = Response.json({});
      res.status = 299;
      return res.setHeader("X-Set", "yes");
    });
    const client = await start(app);
    const json = await client.get("/json");
    expect([json.status, json.headers["x-a"], json.json]).toEqual([202, "1", { ok: true }]);
    expect((await client.get("/text")).status).toBe(418);
    expect((await client.get("/html")).headers["content-type"]).toBe("text/html; charset=utf-8");
    const redirect = await client.get("/redirect");
    expect([redirect.status, redirect.headers.location]).toEqual([302, "/new"]);
    expect((await client.get("/moved")).status).toBe(301);
    expect((await client.get("/empty")).status).toBe(204);
    expect((await client.get("/binary")).headers["content-type"]).toBe("image/png");
    const custom = await client.get("/status");
    expect([custom.status, custom.headers["x-set"]]).toEqual([299, "yes"]);
  });

  it("refuses CR, LF and NUL in headers", () => {
    const res = Response.json({});
    expect(() => res.setHeader("X-Evil", "a\r\nSet-Cookie: x=1")).toThrow(CelloError);
    expect(() => res.setHeader("X-Evil", "a\nb")).toThrow(/CR, LF and NUL/);
    expect(() => res.setHeader("X-Evil", "a\0b")).toThrow(/CR, LF and NUL/);
    expect(() => res.setHeader("X-Bad\r\n", "v")).toThrow(/CR, LF and NUL/);
    expect(() => Response.json({}, { headers: { "X-A": "1\r\n" } })).toThrow(/CR, LF and NUL/);
  });

  it("a header injection attempt inside a handler becomes a 500, and nothing is injected", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/inject", (req) => Response.text("x").setHeader("X-Echo", req.query.v ?? ""));
    const client = await start(app);
    const res = await client.get("/inject?v=a%0d%0aSet-Cookie:%20pwned=1");
    expect(res.status).toBe(500);
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.json).toEqual({ error: "Internal Server Error", status: 500 });
  });

  it("turns HttpError into its status and hides other errors behind a generic 500", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/teapot", () => {
      throw new HttpError(418, "short and stout");
    });
    app.get("/auth", () => {
      throw new HttpError(401, "token required", { headers: { "WWW-Authenticate": "Bearer" } });
    });
    app.get("/boom", () => {
      throw new Error("database password is hunter2");
    });
    app.get("/async-boom", async () => {
      throw new TypeError("secret detail");
    });
    app.get("/hidden", () => {
      throw new HttpError(503, "internal detail");
    });
    app.get("/broker-down", () => {
      throw new CelloError("CELLO_BROKER_UNAVAILABLE", "redis://10.0.0.9:6379 is unreachable");
    });
    const client = await start(app);
    expect((await client.get("/teapot")).json).toEqual({ error: "short and stout", status: 418 });
    const auth = await client.get("/auth");
    expect([auth.status, auth.headers["www-authenticate"]]).toEqual([401, "Bearer"]);
    for (const path of ["/boom", "/async-boom"]) {
      const res = await client.get(path);
      expect(res.status).toBe(500);
      expect(res.text).toBe('{"error":"Internal Server Error","status":500}');
    }
    expect((await client.get("/hidden")).json).toEqual({ error: "Service Unavailable", status: 503 });
    const broker = await client.get("/broker-down");
    expect([broker.status, broker.json]).toEqual([503, { error: "Broker unavailable", status: 503 }]);
    expect(broker.text).not.toContain("10.0.0.9");
    const logged = logger.errors.map(([message, err]) => [message, (err as Error).message]);
    expect(logged).toContainEqual(["Unhandled error in GET /boom", "database password is hunter2"]);
    expect(logged).toContainEqual(["Unhandled error in GET /async-boom", "secret detail"]);
    expect(String((logger.errors[0]![1] as Error).stack)).toContain("app.test.ts");
  });
});

describe("lifecycle", () => {
  it("runs startup before accepting and shutdown on close; listen returns the bound address", async () => {
    const app = new App({ logger: silentLogger });
    const events: string[] = [];
    app.onEvent("startup", async () => {
      events.push("startup");
    });
    app.onEvent("shutdown", () => {
      events.push("shutdown");
    });
    app.get("/", () => "hi");
    const address = await app.listen({ port: 0 });
    expect(address.host).toBe("127.0.0.1");
    expect(address.port).toBeGreaterThan(0);
    expect(address.url).toBe(`http://127.0.0.1:${address.port}`);
    expect(events).toEqual(["startup"]);
    expect(await (await fetch(address.url)).text()).toBe("hi");
    await app.close();
    expect(events).toEqual(["startup", "shutdown"]);
    await expect(fetch(address.url)).rejects.toThrow();
  });
});

describe("surface", () => {
  it("counts open streams in openStreams and keeps its engine and hook lists private", async () => {
    const app = new App({ logger: silentLogger });
    app.get("/live", () => new SseStream());
    expect("engine" in app).toBe(false);
    expect("hooks" in app).toBe(false);
    const client = await start(app);
    expect(app.openStreams).toBe(0);
    const [one, two] = await Promise.all([client.openSse("/live"), client.openSse("/live")]);
    expect(app.openStreams).toBe(2);
    one.close();
    for (let i = 0; i < 200 && app.openStreams > 1; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.openStreams).toBe(1);
    two.close();
    for (let i = 0; i < 200 && app.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.openStreams).toBe(0);
  });

  it("use() refuses anything but a plugin function, naming what it got", () => {
    const app = new App();
    const cases: Array<[unknown, string]> = [
      [undefined, "got undefined"],
      [{ install() {} }, "got an object"],
      ["cors", 'got "cors"'],
      [new Map(), "got a Map"],
    ];
    for (const [value, shown] of cases) {
      let thrown: unknown;
      try {
        app.use(value as never);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(CelloError);
      expect((thrown as CelloError).code).toBe("CELLO_INVALID_OPTION");
      expect((thrown as Error).message).toContain(`app.use() takes a plugin`);
      expect((thrown as Error).message).toContain(shown);
    }
    let applied: unknown;
    expect(app.use((target) => void (applied = target))).toBe(app);
    expect(applied).toBe(app);
  });
});
