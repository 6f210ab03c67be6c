// Input validation over a real socket, with the three Standard Schema libraries
// users reach for: zod 4, valibot and arktype. Each proves the same behaviour.
import { type } from "arktype";
import * as v from "valibot";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { App } from "../app.js";
import { Blueprint } from "../blueprint.js";
import { recordingLogger, startWithCleanup } from "../testing.js";
import type { RouteSchema } from "./schema.js";

const start = startWithCleanup();

/** The same route schema, written with each library. */
const libraries: Array<[string, () => RouteSchema & { params: unknown; query: unknown; headers: unknown; body: unknown }]> = [
  [
    "zod",
    () => ({
      params: z.object({ id: z.coerce.number().int().positive() }),
      query: z.object({ page: z.coerce.number().int().default(1), tag: z.array(z.string()).optional() }),
      headers: z.object({ "x-api-key": z.string().min(3) }),
      body: z.object({ name: z.string().min(1), items: z.array(z.object({ qty: z.number() })) }),
    }),
  ],
  [
    "valibot",
    () => ({
      params: v.object({ id: v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(1)) }),
      query: v.object({ page: v.optional(v.pipe(v.string(), v.toNumber(), v.integer()), "1"), tag: v.optional(v.array(v.string())) }),
      headers: v.object({ "x-api-key": v.pipe(v.string(), v.minLength(3)) }),
      body: v.object({ name: v.pipe(v.string(), v.minLength(1)), items: v.array(v.object({ qty: v.number() })) }),
    }),
  ],
  [
    "arktype",
    () => ({
      params: type({ id: "string.integer.parse" }).pipe((p, ctx) => (p.id > 0 ? p : ctx.error("a positive id"))),
      query: type({ page: type("string.integer.parse").default("1"), "tag?": "string[]" }),
      headers: type({ "x-api-key": "string >= 3" }),
      body: type({ name: "string > 0", items: type({ qty: "number" }).array() }),
    }),
  ],
];

describe.each(libraries)("input validation with %s", (_name, schemaOf) => {
  function app(): App {
    const app = new App({ logger: recordingLogger() });
    app.post("/orders/{id}", (req) => ({ valid: req.valid }), { schema: schemaOf() });
    return app;
  }
  const good = { headers: { "X-Api-Key": "secret" }, json: { name: "pens", items: [{ qty: 2 }] } };

  test("valid input reaches the handler parsed (coerced, defaulted) on request.valid", async () => {
    const client = await start(app());
    const res = await client.post("/orders/7?tag=a&tag=b", good);
    expect(res.status).toBe(200);
    const valid = res.json.valid;
    expect(valid.params).toEqual({ id: 7 });
    expect(valid.query).toEqual({ page: 1, tag: ["a", "b"] });
    expect(valid.headers["x-api-key"]).toBe("secret");
    expect(valid.body).toEqual({ name: "pens", items: [{ qty: 2 }] });
  });

  test("invalid input in every part is one 422 problem+json listing each issue with its part and JSON Pointer", async () => {
    const client = await start(app());
    const res = await client.post("/orders/abc?page=x", { headers: { "x-api-key": "no" }, json: { name: "", items: [{ qty: 1 }, { qty: "2" }] } });
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    const problem = res.json;
    expect(problem).toMatchObject({ type: "about:blank", title: "Unprocessable Content", status: 422, code: "CELLO_VALIDATION_FAILED" });
    expect(problem.detail).toMatch(/issues? in params, query, headers, body/);
    const where = problem.errors.map((e: { in: string; path: string }) => `${e.in} ${e.path}`);
    expect(where).toEqual(expect.arrayContaining(["query /page", "headers /x-api-key", "body /name", "body /items/1/qty"]));
    expect(where.some((w: string) => w.startsWith("params"))).toBe(true);
    for (const error of problem.errors) expect(typeof error.message).toBe("string");
    // Reported in the order params, query, headers, body.
    const parts = problem.errors.map((e: { in: string }) => e.in);
    expect(parts).toEqual([...parts].sort((a: string, b: string) => ["params", "query", "headers", "body"].indexOf(a) - ["params", "query", "headers", "body"].indexOf(b)));
  });

  test("a missing body is undefined to the schema: 422 at the root of body, not 400", async () => {
    const client = await start(app());
    const res = await client.post("/orders/1", { headers: { "x-api-key": "secret" } });
    expect(res.status).toBe(422);
    expect(res.json.errors).toEqual([expect.objectContaining({ in: "body", path: "" })]);
  });
});

describe("input validation: hostile and unusual input", () => {
  test("malformed JSON is a 400 CELLO_INVALID_JSON (the body could not be read), never 422 or 500", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.post("/x", (req) => req.valid.body, { schema: { body: z.object({ a: z.number() }) } });
    const client = await start(app);
    const res = await client.post("/x", { headers: { "content-type": "application/json" }, body: '{"a": 1' });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/^Invalid JSON body/);
    const latin1 = await client.post("/x", { headers: { "content-type": "application/json" }, body: new Uint8Array([0x7b, 0xff, 0x7d]) });
    expect(latin1.status).toBe(400);
    expect(logger.errors).toEqual([]);
  });

  test("a body that is not JSON by its Content-Type is a 415; application/*+json is JSON", async () => {
    const app = new App({ logger: recordingLogger() });
    app.post("/x", (req) => req.valid.body, { schema: { body: z.object({ a: z.number() }) } });
    const client = await start(app);
    const form = await client.post("/x", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "a=1" });
    expect(form.status).toBe(415);
    const suffixed = await client.post("/x", { headers: { "content-type": "application/merge-patch+json; charset=utf-8" }, body: '{"a":1}' });
    expect(suffixed.status).toBe(200);
    expect(suffixed.json).toEqual({ a: 1 });
  });

  test("the body limit still answers 413 before anything is validated", async () => {
    const app = new App({ logger: recordingLogger(), bodyLimit: 64 });
    app.post("/x", (req) => req.valid.body, { schema: { body: z.object({ a: z.string() }) } });
    const client = await start(app);
    const res = await client.post("/x", { json: { a: "x".repeat(200) } });
    expect(res.status).toBe(413);
  });

  test("a hostile body with a huge number of issues lists the first 100 and counts them all", async () => {
    const app = new App({ logger: recordingLogger() });
    app.post("/x", () => "ok", { schema: { body: z.array(z.number()) } });
    const client = await start(app);
    const res = await client.post("/x", { json: Array.from({ length: 5000 }, () => "n") });
    expect(res.status).toBe(422);
    expect(res.json.errors).toHaveLength(100);
    expect(res.json.detail).toBe("5000 issues in body (the first 100 are listed)");
    expect(res.json.errors[99]).toMatchObject({ in: "body", path: "/99" });
  });

  test("keys with / and ~ are escaped in the JSON Pointer; __proto__ in the query is a plain key", async () => {
    const app = new App({ logger: recordingLogger() });
    app.post("/x", (req) => ({ query: req.valid.query, body: req.valid.body }), {
      schema: { body: z.object({ "a/b": z.object({ "c~d": z.number() }) }), query: z.record(z.string(), z.string()) },
    });
    const client = await start(app);
    const bad = await client.post("/x", { json: { "a/b": { "c~d": "no" } } });
    expect(bad.status).toBe(422);
    expect(bad.json.errors).toEqual([expect.objectContaining({ in: "body", path: "/a~1b/c~0d" })]);
    const proto = await client.post("/x?__proto__=polluted&constructor=x", { json: { "a/b": { "c~d": 1 } } });
    expect(proto.status).toBe(200);
    expect(proto.json.query).toEqual({ __proto__: "polluted", constructor: "x" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("headers reach the schema with lower-case names, whatever case the client sent", async () => {
    const app = new App({ logger: recordingLogger() });
    app.get("/h", (req) => req.valid.headers, { schema: { headers: z.object({ "x-trace-id": z.string(), accept: z.string() }) } });
    const client = await start(app);
    const res = await client.get("/h", { headers: { "X-TRACE-ID": "abc", Accept: "text/plain" } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ "x-trace-id": "abc", accept: "text/plain" });
  });

  test("a schema that throws is a 500 logged with the route and the part; the client sees no detail", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    const exploding = z.string().transform(() => {
      throw new Error("boom in transform");
    });
    app.get("/boom", () => "never", { schema: { query: z.object({ q: exploding }) } });
    const client = await start(app);
    const res = await client.get("/boom?q=1");
    expect(res.status).toBe(500);
    expect(res.json).toEqual({ error: "Internal Server Error", status: 500 });
    expect(logger.errors).toHaveLength(1);
    const [message, err] = logger.errors[0]!;
    expect(message).toBe("Unhandled error in GET /boom");
    expect((err as Error).message).toBe("Invalid schema: the query schema of GET /boom threw while validating");
    expect(((err as Error).cause as Error).message).toBe("boom in transform");
  });

  test("an async schema is awaited (Standard Schema allows a Promise)", async () => {
    const app = new App({ logger: recordingLogger() });
    const slowUnique = z.string().refine(async (name) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return name !== "taken";
    }, "already taken");
    app.post("/users", (req) => ({ created: req.valid.body.name }), { schema: { body: z.object({ name: slowUnique }) } });
    const client = await start(app);
    expect((await client.post("/users", { json: { name: "ada" } })).json).toEqual({ created: "ada" });
    const taken = await client.post("/users", { json: { name: "taken" } });
    expect(taken.status).toBe(422);
    expect(taken.json.errors).toEqual([{ in: "body", path: "/name", message: "already taken" }]);
  });

  test("an async query schema, then the parts after it: every issue, in order", async () => {
    const app = new App({ logger: recordingLogger() });
    const known = z.string().refine(async (team) => team === "core", "unknown team");
    app.post("/teams", (req) => ({ team: req.valid.query.team, headers: req.valid.headers["x-n"], n: req.valid.body.n }), {
      schema: { query: z.object({ team: known }), headers: z.object({ "x-n": z.string() }), body: z.object({ n: z.number() }) },
    });
    const client = await start(app);
    expect((await client.post("/teams?team=core", { headers: { "x-n": "1" }, json: { n: 1 } })).json).toEqual({ team: "core", headers: "1", n: 1 });
    const bad = await client.post("/teams?team=ops", { json: { n: "1" } });
    expect(bad.status).toBe(422);
    expect(bad.json.errors.map((e: { in: string; path: string }) => `${e.in} ${e.path}`)).toEqual(["query /team", "headers /x-n", "body /n"]);
  });

  test("no request leaks into another: concurrent requests each see their own valid input", async () => {
    const app = new App({ logger: recordingLogger() });
    app.post("/echo/{n}", async (req) => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
      return { n: req.valid.params.n, body: req.valid.body.n };
    }, { schema: { params: z.object({ n: z.coerce.number() }), body: z.object({ n: z.number() }) } });
    const client = await start(app);
    const results = await Promise.all(Array.from({ length: 50 }, (_, n) => client.post(`/echo/${n}`, { json: { n } })));
    expect(results.map((r) => r.json)).toEqual(Array.from({ length: 50 }, (_, n) => ({ n, body: n })));
  });

  test("a route without a schema has request.valid with every part undefined", async () => {
    const app = new App({ logger: recordingLogger() });
    app.get("/plain", (req) => ({ valid: req.valid, undefinedParts: Object.values(req.valid).every((part) => part === undefined) }));
    const client = await start(app);
    expect((await client.get("/plain")).json).toEqual({ valid: {}, undefinedParts: true });
  });

  test("blueprint and decorator routes validate the same way", async () => {
    const app = new App({ logger: recordingLogger() });
    const api = new Blueprint("/api");
    const search = { query: z.object({ q: z.string().min(2) }) } satisfies RouteSchema;
    api.get("/search", (req) => ({ q: req.valid.query.q }), { schema: search });
    class Items {
      @app.post("/items", { schema: { body: v.object({ name: v.string() }) } })
      add(req: import("./schema.js").ValidatedRequest<{ body: v.ObjectSchema<{ name: v.StringSchema<undefined> }, undefined> }>) {
        return { added: req.valid.body.name };
      }
    }
    void Items;
    app.registerBlueprint(api);
    const client = await start(app);
    expect((await client.get("/api/search?q=cello")).json).toEqual({ q: "cello" });
    expect((await client.get("/api/search?q=c")).status).toBe(422);
    expect((await client.post("/items", { json: { name: "pen" } })).json).toEqual({ added: "pen" });
    const bad = await client.post("/items", { json: { name: 1 } });
    expect(bad.status).toBe(422);
    expect(bad.json.errors[0]).toMatchObject({ in: "body", path: "/name" });
  });

  test("a schema option that is not Standard Schemas fails at registration, naming the route and part", () => {
    const app = new App({ logger: recordingLogger() });
    expect(() => app.get("/a", () => "", { schema: { query: { parse() {} } } as unknown as RouteSchema })).toThrow(
      /Invalid schema: the query schema of GET \/a is not a Standard Schema/,
    );
    expect(() => app.get("/b", () => "", { schema: { qurey: z.object({}) } as unknown as RouteSchema })).toThrow(/unknown key "qurey"/);
    expect(() => app.get("/c", () => "", { schema: { response: { ok: z.string() } } as unknown as RouteSchema })).toThrow(/keyed by status code/);
    expect(() => app.get("/d", () => "", { schema: { events: { "a\nb": z.string() } } })).toThrow(/contains CR or LF/);
  });
});
