import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { toStandardJsonSchema } from "@valibot/to-json-schema";
import { type } from "arktype";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { App } from "../../app.js";
import { HttpError } from "../../errors.js";
import { Blueprint } from "../../blueprint.js";
import { controller, get } from "../../decorators.js";
import type { Request } from "../../request.js";
import type { RouteOptions } from "../../routes.js";
import { SseEvent } from "../../sse/event.js";
import { SseStream } from "../../sse/stream.js";
import { celloErrorOf, recordingLogger, startWithCleanup } from "../../testing.js";
import { openapi } from "./plugin.js";
import type { GuardSecurity } from "../../guards/guard.js";
import type { RouteSchema } from "../../validation/schema.js";
import type { OpenapiOptions, OperationDocs } from "./types.js";

const start = startWithCleanup();

/** Route options with `guards`, `schema` and `openapi` (widened so tests can register the malformed ones). */
function withContract(options: { guards?: Array<((request: Request) => boolean) & { security?: GuardSecurity }>; schema?: RouteSchema; openapi?: OperationDocs }): RouteOptions {
  return options as RouteOptions;
}

const bearer = Object.assign(() => true, {
  security: { schemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } }, requirements: [{ bearer: [] }] },
});
const apiKeyOrOauth = Object.assign(() => true, {
  security: {
    schemes: {
      apiKey: { type: "apiKey", in: "query", name: "token" },
      oauth: { type: "oauth2", flows: { clientCredentials: { tokenUrl: "https://auth.example.com/token", scopes: { "notifications:read": "read notifications" } } } },
    },
    requirements: [{ apiKey: [] }, { oauth: ["notifications:read"] }],
  },
});
const undocumentedGuard = () => true;

const Notice = z.object({ text: z.string(), level: z.enum(["info", "warn"]) });
const User = z.object({ id: z.string(), name: z.string() }).meta({ id: "User" });
type Tree = { name: string; children: Tree[] };
const TreeSchema: z.ZodType<Tree> = z.object({ name: z.string(), get children() { return z.array(TreeSchema); } });

@controller("/admin")
class Admin {
  @get("/stats", { openapi: { summary: "Server statistics", tags: ["admin"] } })
  stats() {
    return { streams: 0 };
  }
}

function richApp(options: Parameters<App["enableOpenapi"]>[0] = {}): App {
  const app = new App({ logger: recordingLogger() });
  app.get("/health", () => ({ ok: true }));
  app.get("/users/{id}", (req) => ({ id: req.params.id, name: "Ada" }), withContract({
    guards: [bearer],
    schema: { params: z.object({ id: z.string().min(1) }), query: z.object({ expand: z.boolean().optional(), fields: z.string().describe("Comma-separated") }), response: User },
  }));
  app.post("/users", () => ({ id: "2", name: "Bob" }), withContract({
    schema: {
      body: toStandardJsonSchema(v.object({ name: v.pipe(v.string(), v.minLength(1)) })),
      headers: type({ "x-request-id": "string" }),
      response: { 201: User, 409: type({ error: "string", status: "number" }) },
    },
    openapi: { summary: "Create a user", tags: ["users"], operationId: "createUser" },
  }));
  app.get("/tree", () => ({ name: "root", children: [] }), withContract({ schema: { response: TreeSchema } }));
  app.get("/notifications/stream", (req) => {
    const stream = new SseStream();
    stream.add(new SseEvent(JSON.stringify({ text: "hi", level: "info" }), { event: "notice", id: "1" }));
    stream.addEvent("ping", "still here");
    stream.add(new SseEvent(JSON.stringify({ percent: 42.5 }), { event: "progress", retry: 2000 }));
    // What a broken producer would send: the document must not describe it.
    if (req.query.broken === "1") stream.addEvent("notice", JSON.stringify({ text: 1 }));
    stream.close();
    return stream;
  }, withContract({
    guards: [bearer, apiKeyOrOauth, undocumentedGuard],
    schema: { query: z.object({ token: z.string().optional() }), events: { notice: Notice, ping: z.string(), progress: type({ percent: "0 <= number <= 100" }) } },
    openapi: { summary: "Notification stream", tags: ["notifications"] },
  }));
  app.get("/internal", () => "no", { openapi: { exclude: true } });
  app.get("/debug/vars", () => "no");
  app.delete("/old", () => "gone", { openapi: { deprecated: true, description: "Use **DELETE /users/{id}**." } });

  const api = new Blueprint("/api");
  const v1 = new Blueprint("/v1");
  v1.get("/items/{item_id}", (req) => ({ id: req.params.item_id }), withContract({ guards: [undocumentedGuard], openapi: { tags: ["items"] } }));
  api.registerBlueprint(v1);
  app.registerBlueprint(api);
  app.register(Admin);
  class Decorated {
    @app.get("/decorated")
    hello() {
      return "hello";
    }
  }
  void Decorated;
  app.enableOpenapi({ title: "Rich", version: "2.1.0", description: "Everything", servers: [{ url: "http://127.0.0.1" }], exclude: [/^\/debug\//], ...options });
  return app;
}

async function validate(document: unknown): Promise<{ valid: boolean; errors: unknown; version: string }> {
  const validator = new Validator();
  // A copy: resolveRefs() dereferences the document it was given in place.
  const result = await validator.validate(structuredClone(document) as never);
  if (result.valid) validator.resolveRefs(); // throws on a $ref that points nowhere
  return { valid: result.valid, errors: result.errors, version: validator.version };
}

/** Every `$ref` of `document` resolved against it (JSON Pointer). */
function resolveAll(document: Record<string, unknown>): string[] {
  const missing: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== "object" || value === null) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string") {
        let target: unknown = document;
        for (const segment of inner.slice(2).split("/")) target = (target as Record<string, unknown> | undefined)?.[segment.replace(/~1/g, "/").replace(/~0/g, "~")];
        if (!inner.startsWith("#/") || target === undefined) missing.push(inner);
      } else walk(inner);
    }
  };
  walk(document);
  return missing;
}

describe("app.enableOpenapi(): /openapi.json over a socket", () => {
  it("describes every route kind (guards, all schema kinds, SSE events, blueprints, decorators) as a valid OpenAPI 3.2 document", async () => {
    const client = await start(richApp());
    const res = await fetch(`${client.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const document = (await res.json()) as Record<string, any>;

    const validated = await validate(document);
    expect(validated.errors).toBeUndefined();
    expect(validated).toMatchObject({ valid: true, version: "3.2" });
    expect(resolveAll(document)).toEqual([]);

    expect(document.openapi).toBe("3.2.0");
    expect(document.info).toEqual({ title: "Rich", version: "2.1.0", description: "Everything" });
    expect(document.servers).toEqual([{ url: "http://127.0.0.1" }]);
    expect(Object.keys(document.paths)).toEqual(["/health", "/users/{id}", "/users", "/tree", "/notifications/stream", "/old", "/api/v1/items/{item_id}", "/admin/stats", "/decorated"]);
    expect(document.paths["/old"].delete).toMatchObject({ deprecated: true, description: "Use **DELETE /users/{id}**.", operationId: "delete_old" });
    expect(document.paths["/health"].get).toEqual({ operationId: "get_health", responses: { "200": { description: "OK" } } });
    expect(document.paths["/admin/stats"].get).toMatchObject({ summary: "Server statistics", tags: ["admin"], operationId: "get_admin_stats" });
    expect(document.paths["/decorated"].get.operationId).toBe("get_decorated");

    // Params, query, guards and a named response schema.
    const getUser = document.paths["/users/{id}"].get;
    expect(getUser.operationId).toBe("get_users_id");
    expect(getUser.parameters).toEqual([
      { name: "id", in: "path", required: true, schema: { type: "string", minLength: 1 } },
      { name: "expand", in: "query", schema: { type: "boolean" } },
      { name: "fields", in: "query", required: true, description: "Comma-separated", schema: { type: "string", description: "Comma-separated" } },
    ]);
    expect(getUser.security).toEqual([{ bearer: [] }]);
    expect(getUser.responses["200"]).toEqual({ description: "OK", content: { "application/json": { schema: { $ref: "#/components/schemas/User" } } } });
    expect(getUser.responses["401"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });
    expect(Object.keys(getUser.responses)).toEqual(["200", "401", "403", "422"]); // integer-like keys keep numeric order
    expect(document.components.schemas.User).toEqual({ type: "object", properties: { id: { type: "string" }, name: { type: "string" } }, required: ["id", "name"], additionalProperties: false });

    // Body (valibot), headers (arktype), one response per status.
    const createUser = document.paths["/users"].post;
    expect(createUser).toMatchObject({ operationId: "createUser", summary: "Create a user", tags: ["users"] });
    expect(createUser.requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: { type: "object", properties: { name: { type: "string", minLength: 1 } }, required: ["name"] } } },
    });
    expect(createUser.parameters).toEqual([{ name: "x-request-id", in: "header", required: true, schema: { type: "string" } }]);
    expect(createUser.responses["201"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/User" });
    expect(createUser.responses["409"].content["application/json"].schema).toMatchObject({ type: "object", required: ["error", "status"] });
    expect(createUser.responses["422"].content["application/problem+json"].schema).toEqual({ $ref: "#/components/schemas/ValidationProblem" });
    expect(createUser.security).toBeUndefined();

    // A recursive schema refers to itself through components, not through "#" (the document).
    expect(document.paths["/tree"].get.responses["200"].content["application/json"].schema).toEqual({ $ref: "#/components/schemas/get_tree_200" });
    expect(document.components.schemas.get_tree_200.properties.children.items).toEqual({ $ref: "#/components/schemas/get_tree_200" });

    // Guards: AND of guards, OR inside one guard; a guard without security still documents 401/403.
    const stream = document.paths["/notifications/stream"].get;
    expect(stream.security).toEqual([{ bearer: [], apiKey: [] }, { bearer: [], oauth: ["notifications:read"] }]);
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(["apiKey", "bearer", "oauth"]);
    const item = document.paths["/api/v1/items/{item_id}"].get;
    expect(item).toMatchObject({ operationId: "get_api_v1_items_item_id", tags: ["items"], parameters: [{ name: "item_id", in: "path", required: true, schema: { type: "string" } }] });
    expect(item.security).toBeUndefined();
    expect(Object.keys(item.responses)).toEqual(["200", "401", "403"]);

    // The SSE route, exactly as the contract says.
    expect(stream.responses["200"].content).toEqual({
      "text/event-stream": {
        itemSchema: {
          oneOf: [
            {
              type: "object",
              title: "notice",
              required: ["event", "data"],
              properties: {
                event: { const: "notice" },
                data: {
                  type: "string",
                  contentMediaType: "application/json",
                  contentSchema: { type: "object", properties: { text: { type: "string" }, level: { type: "string", enum: ["info", "warn"] } }, required: ["text", "level"], additionalProperties: false },
                },
                id: { type: "string" },
                retry: { type: "integer", minimum: 0 },
              },
            },
            {
              type: "object",
              title: "ping",
              required: ["event", "data"],
              properties: { event: { const: "ping" }, data: { type: "string" }, id: { type: "string" }, retry: { type: "integer", minimum: 0 } },
            },
            {
              type: "object",
              title: "progress",
              required: ["event", "data"],
              properties: {
                event: { const: "progress" },
                data: {
                  type: "string",
                  contentMediaType: "application/json",
                  contentSchema: { type: "object", properties: { percent: { type: "number", minimum: 0, maximum: 100 } }, required: ["percent"] },
                },
                id: { type: "string" },
                retry: { type: "integer", minimum: 0 },
              },
            },
          ],
        },
      },
    });
  });

  it("describes the events the SSE route really sends: each one validates against itemSchema and its data against contentSchema", async () => {
    const client = await start(richApp());
    const document = (await (await fetch(`${client.url}/openapi.json`)).json()) as Record<string, any>;
    // The document as a schema resource: its $refs (#/components/schemas/...) resolve inside it.
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...document, $id: "https://cello.test/openapi.json" });
    const pointer = "https://cello.test/openapi.json#/paths/~1notifications~1stream/get/responses/200/content/text~1event-stream/itemSchema";
    const item = ajv.compile({ $ref: pointer });
    const itemSchema = document.paths["/notifications/stream"].get.responses["200"].content["text/event-stream"].itemSchema;
    const check = (event: { event: string; data: string; id?: string; retry?: number }) => {
      const index = itemSchema.oneOf.findIndex((entry: { title: string }) => entry.title === event.event);
      const branch = itemSchema.oneOf[index].properties.data;
      // contentSchema is an annotation: a consumer parses the data and validates it, as here.
      const data = branch.contentMediaType === "application/json" ? ajv.validate({ $ref: `${pointer}/oneOf/${index}/properties/data/contentSchema` }, JSON.parse(event.data)) : true;
      return { item: item(event), data };
    };

    const sent = await client.sse("/notifications/stream");
    const events = sent.events.map((e) => ({ event: e.event, data: e.data, ...(e.id ? { id: e.id } : {}), ...(e.retry !== undefined ? { retry: e.retry } : {}) }));
    expect(events.map((e) => e.event)).toEqual(["notice", "ping", "progress"]);
    for (const event of events) expect([event.event, check(event)]).toEqual([event.event, { item: true, data: true }]);

    const broken = await client.sse("/notifications/stream?broken=1");
    expect(check({ event: "notice", data: broken.events.at(-1)!.data })).toEqual({ item: true, data: false });
    expect(item({ event: "unknown", data: "x" })).toBe(false);
    expect(item({ event: "notice", data: "{}", retry: -1 })).toBe(false);
  });

  it("degrades SSE routes for OpenAPI 3.1.1: a string body with the events in x-itemSchema, and validates as 3.1", async () => {
    const client = await start(richApp({ openapi: "3.1.1" }));
    const document = (await (await fetch(`${client.url}/openapi.json`)).json()) as Record<string, any>;
    expect(document.openapi).toBe("3.1.1");
    const validated = await validate(document);
    expect(validated.errors).toBeUndefined();
    expect(validated).toMatchObject({ valid: true, version: "3.1" });
    const content = document.paths["/notifications/stream"].get.responses["200"].content["text/event-stream"];
    expect(content.itemSchema).toBeUndefined();
    expect(content.schema.type).toBe("string");
    expect(content["x-itemSchema"].oneOf.map((entry: { title: string }) => entry.title)).toEqual(["notice", "ping", "progress"]);
  });

  it("builds the document once, at startup, and answers every later request from it", async () => {
    let conversions = 0;
    const counted = z.object({ q: z.string() });
    const original = counted["~standard"].jsonSchema.input;
    const spied = Object.assign(Object.create(counted) as typeof counted, {
      "~standard": { ...counted["~standard"], jsonSchema: { ...counted["~standard"].jsonSchema, input: (o: { target: "draft-2020-12" }) => (conversions++, original(o)) } },
    });
    const app = new App({ logger: recordingLogger() });
    app.get("/search", () => [], withContract({ schema: { query: spied } }));
    app.enableOpenapi();
    const client = await start(app);
    expect(conversions).toBe(1); // at startup, before any request
    const bodies = await Promise.all([1, 2, 3].map(async () => (await fetch(`${client.url}/openapi.json`)).text()));
    expect(new Set(bodies).size).toBe(1);
    expect(conversions).toBe(1);
    // A route added after startup is not in the document (it was built once).
    app.get("/late", () => "late");
    expect(await (await fetch(`${client.url}/openapi.json`)).text()).toBe(bodies[0]);
  });

  it("answers odd query strings, HEAD and conditional requests from the same bytes, and refuses other methods", async () => {
    const client = await start(richApp());
    const plain = await fetch(`${client.url}/openapi.json`);
    const body = await plain.text();
    const etag = plain.headers.get("etag")!;
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    expect(plain.headers.get("cache-control")).toBe("no-cache");
    for (const query of ["?%ZZ=1", "?a[b][c]=d&a=1&a=2", "?" + "x=".repeat(2000), "?__proto__[polluted]=1", "?openapi=3.1.1"]) {
      const res = await fetch(`${client.url}/openapi.json${query}`);
      expect([query.slice(0, 20), res.status, await res.text() === body]).toEqual([query.slice(0, 20), 200, true]);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const head = await client.head("/openapi.json");
    expect([head.status, head.text, head.headers["content-length"]]).toEqual([200, "", String(Buffer.byteLength(body))]);
    const notModified = await fetch(`${client.url}/openapi.json`, { headers: { "If-None-Match": `W/"nope", ${etag}` } });
    expect([notModified.status, await notModified.text(), notModified.headers.get("etag")]).toEqual([304, "", etag]);
    expect((await fetch(`${client.url}/openapi.json`, { headers: { "If-None-Match": '"other"' } })).status).toBe(200);
    const post = await client.post("/openapi.json", { body: "{}" });
    expect([post.status, post.headers.allow]).toEqual([405, "GET, HEAD"]);
    expect((await client.get("/openapi.json/extra")).status).toBe(404);
    expect((await client.get("/docs")).status).toBe(404); // no ui given: no docs page
  });
});

describe("app.enableOpenapi(): errors name the route, at startup", () => {
  it("fails listen() with CELLO_OPENAPI_SCHEMA naming the route and slot for a schema with no JSON Schema form, and serves nothing half-built", async () => {
    const app = new App({ logger: recordingLogger() });
    app.get("/ok", () => "ok");
    app.post("/when", () => "ok", withContract({ schema: { body: z.object({ at: z.date() }) } }));
    app.enableOpenapi();
    const err = await app.listen({ port: 0 }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: "CELLO_OPENAPI_SCHEMA" });
    expect((err as Error).message).toBe("Schema not convertible to JSON Schema: POST /when schema.body: Date cannot be represented in JSON Schema");
    await app.close();
  });

  it("says how to convert a plain valibot schema, and takes a toJsonSchema option for it", async () => {
    const make = (toJsonSchema?: Parameters<typeof openapi>[0] extends infer O ? O extends { toJsonSchema?: infer T } ? T : never : never) => {
      const app = new App({ logger: recordingLogger() });
      app.get("/events", () => "ok", withContract({ schema: { events: { tick: v.object({ n: v.number() }) as never } } }));
      app.use(openapi({ toJsonSchema }));
      return app;
    };
    const failing = make();
    await expect(failing.ready()).rejects.toThrow(
      'GET /events schema.events["tick"]: the valibot schema does not implement Standard JSON Schema (~standard.jsonSchema): wrap it with toStandardJsonSchema() from @valibot/to-json-schema',
    );
    const app = make((schema) => (toStandardJsonSchema(schema as never)["~standard"] as any).jsonSchema.output({ target: "draft-2020-12" }));
    const client = await start(app);
    const document = (await (await fetch(`${client.url}/openapi.json`)).json()) as Record<string, any>;
    expect(document.paths["/events"].get.responses["200"].content["text/event-stream"].itemSchema.oneOf[0].properties.data.contentSchema).toEqual({
      type: "object",
      properties: { n: { type: "number" } },
      required: ["n"],
    });
  });

  it("refuses a query schema that is not an object, a duplicate operationId and conflicting security schemes", async () => {
    const cases: Array<[(app: App) => void, string]> = [
      [(app) => app.get("/q", () => "", withContract({ schema: { query: z.string() } })), "GET /q schema.query must be an object schema (its properties become parameters)"],
      [(app) => app.get("/a", () => "", { openapi: { operationId: "same" } }).get("/b", () => "", { openapi: { operationId: "same" } }), 'openapi operationId "same" of GET /b is already used by GET /a'],
      [
        (app) => app.get("/s", () => "", withContract({ guards: [bearer, Object.assign(() => true, { security: { schemes: { bearer: { type: "http", scheme: "basic" } }, requirements: [] } })] })),
        'GET /s: two guards define security scheme "bearer" differently; give one another name',
      ],
    ];
    for (const [register, message] of cases) {
      const app = new App({ logger: recordingLogger() });
      register(app);
      app.enableOpenapi();
      await expect(app.ready()).rejects.toThrow(message);
    }
  });

  it("documents the 422 and 401 bodies the app really sends (ValidationProblem, Error)", async () => {
    const app = new App({ logger: recordingLogger() });
    app.get("/search", () => "ok", { schema: { query: z.object({ page: z.coerce.number().int() }) }, guards: [bearer] });
    app.get("/private", () => "ok", { guards: [() => { throw new HttpError(401, "Sign in"); }] });
    app.enableOpenapi();
    const client = await start(app);
    const document = (await (await fetch(`${client.url}/openapi.json`)).json()) as Record<string, any>;
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...document, $id: "https://cello.test/openapi.json" });
    const problem = ajv.compile({ $ref: "https://cello.test/openapi.json#/components/schemas/ValidationProblem" });
    const error = ajv.compile({ $ref: "https://cello.test/openapi.json#/components/schemas/Error" });

    const invalid = await fetch(`${client.url}/search?page=x`);
    expect(invalid.status).toBe(422);
    const invalidBody = await invalid.json();
    expect(problem(invalidBody), JSON.stringify(problem.errors)).toBe(true);
    expect(Object.keys(invalidBody).sort()).toEqual(Object.keys(document.components.schemas.ValidationProblem.properties).sort());

    const refused = await fetch(`${client.url}/private`);
    expect(refused.status).toBe(401);
    expect(error(await refused.json()), JSON.stringify(error.errors)).toBe(true);
  });

  it("documents the 406 of a route with requireAccept, and the body matches what the app sends", async () => {
    const app = new App({ logger: recordingLogger() });
    app.post("/stream", function* () {
      yield "x";
    }, { requireAccept: "text/event-stream" });
    app.get("/plain", () => "ok");
    app.enableOpenapi();
    const client = await start(app);
    const document = (await (await fetch(`${client.url}/openapi.json`)).json()) as Record<string, any>;
    expect(await validate(document)).toMatchObject({ valid: true });
    expect(Object.keys(document.paths["/stream"].post.responses)).toEqual(["200", "406"]);
    expect(document.paths["/stream"].post.responses["406"].description).toBe("The request's Accept header admits none of text/event-stream");
    expect(Object.keys(document.paths["/plain"].get.responses)).toEqual(["200"]);
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...document, $id: "https://cello.test/openapi.json" });
    const problem = ajv.compile({ $ref: "https://cello.test/openapi.json#/components/schemas/NotAcceptableProblem" });
    const refused = await fetch(`${client.url}/stream`, { method: "POST", headers: { accept: "application/json" } });
    expect(refused.status).toBe(406);
    const body = await refused.json();
    expect(problem(body), JSON.stringify(problem.errors)).toBe(true);
    expect(Object.keys(body).sort()).toEqual(Object.keys(document.components.schemas.NotAcceptableProblem.properties).sort());
  });

  it("never sees a schema that is not a schema: the route refuses it when registered", () => {
    const app = new App({ logger: recordingLogger() });
    expect(celloErrorOf(() => app.get("/b", () => "", withContract({ schema: { body: { parse() {} } as never } }))).code).toBe("CELLO_INVALID_SCHEMA");
  });

  it("checks its options when enabled", () => {
    const app = new App();
    expect(celloErrorOf(() => app.enableOpenapi({ openapi: "3.0.3" as never })).message).toBe('Invalid option: openapi version must be one of 3.2.0, 3.1.1, got "3.0.3"');
    expect(celloErrorOf(() => app.enableOpenapi({ path: "openapi.json" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableOpenapi({ path: "/spec/{v}" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.enableOpenapi({ ui: {} as never })).message).toMatch(/openapi ui must be a docs UI/);
    expect(celloErrorOf(() => app.enableOpenapi({ ui: { name: "Gone", page: () => "", assets: { "x.js": { file: "/nonexistent/x.js", contentType: "text/javascript" } } } })).message).toBe(
      "Invalid option: openapi ui Gone: its file /nonexistent/x.js is missing (is its package installed?)",
    );
    expect(celloErrorOf(() => app.enableOpenapi({ exclude: "/x" as never })).code).toBe("CELLO_INVALID_OPTION");
  });
});

describe("exclude", () => {
  it("leaves out routes by exact path, RegExp, predicate or their own openapi.exclude", async () => {
    const build = async (exclude?: OpenapiOptions["exclude"]) => {
      const app = new App();
      for (const path of ["/a", "/a/b", "/internal/x", "/hidden"]) app.get(path, () => "", path === "/hidden" ? { openapi: { exclude: true } } : {});
      app.post("/a", () => "");
      app.enableOpenapi({ exclude });
      const client = await start(app);
      const document = (await (await fetch(`${client.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      return Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    };
    expect(await build()).toEqual(["get /a", "post /a", "get /a/b", "get /internal/x"]);
    expect(await build(["/a", /^\/internal\//])).toEqual(["get /a/b"]);
    expect(await build((route) => route.method === "POST")).toEqual(["get /a", "get /a/b", "get /internal/x"]);
  });
});

describe("app.routes()", () => {
  it("lists each method of each route with its options as registered, frozen", async () => {
    const app = new App();
    const schema = { query: z.object({ q: z.string() }) };
    app.route("/both", { ...withContract({ schema, openapi: { summary: "Both" } }), methods: ["GET", "POST"] }, () => "ok");
    const routes = app.routes();
    expect(routes.map((r) => [r.method, r.path])).toEqual([["GET", "/both"], ["POST", "/both"]]);
    expect(routes[0]!.options).toEqual({ schema, openapi: { summary: "Both" } });
    expect(Object.isFrozen(routes[0]!.options)).toBe(true);
  });
});
