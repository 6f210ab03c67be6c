// Type tests: `request.valid` is typed from the schemas with no cast, for each
// library. tsc checks this file (packages/core typecheck, TS 5 and TS 7): every
// `@ts-expect-error` must be an error, and every expectTypeOf must hold.
import { type } from "arktype";
import * as v from "valibot";
import { describe, expectTypeOf, test } from "vitest";
import { z } from "zod";
import { App } from "../app.js";
import { Blueprint } from "../blueprint.js";
import { Response } from "../response.js";
import { SseStream } from "../sse/stream.js";
import type { RouteSchema, Validated, ValidatedRequest } from "./schema.js";

describe("request.valid types", () => {
  test("function routes infer every part from zod schemas, the handler written before the options", () => {
    const app = new App();
    app.post(
      "/orders/{id}",
      (req) => {
        expectTypeOf(req.valid.params).toEqualTypeOf<{ id: number }>();
        expectTypeOf(req.valid.query).toEqualTypeOf<{ page: number; tag?: string[] | undefined }>();
        expectTypeOf(req.valid.body).toEqualTypeOf<{ name: string }>();
        // No headers schema: nothing validated.
        expectTypeOf(req.valid.headers).toEqualTypeOf<undefined>();
        // The plain request is still there.
        expectTypeOf(req.params).toEqualTypeOf<Readonly<Record<string, string>>>();
        // @ts-expect-error a field the body schema does not have
        void req.valid.body.price;
        // @ts-expect-error page is a number after coercion
        req.valid.query.page.toUpperCase();
        return { id: req.valid.params.id };
      },
      {
        schema: {
          params: z.object({ id: z.coerce.number() }),
          query: z.object({ page: z.coerce.number().default(1), tag: z.array(z.string()).optional() }),
          body: z.object({ name: z.string() }),
        },
      },
    );
  });

  test("valibot and arktype infer too", () => {
    const app = new App();
    app.put("/v", (req) => {
      expectTypeOf(req.valid.body).toEqualTypeOf<{ name: string; age?: number | undefined }>();
      // @ts-expect-error
      void req.valid.body.nope;
    }, { schema: { body: v.object({ name: v.string(), age: v.optional(v.number()) }) } });
    app.patch("/a", (req) => {
      expectTypeOf(req.valid.body).toEqualTypeOf<{ name: string; age?: number }>();
      // @ts-expect-error
      void req.valid.body.nope;
    }, { schema: { body: type({ name: "string", "age?": "number" }) } });
  });

  test("get, delete, route and Blueprint routes infer; a schema declared apart works with satisfies", () => {
    const app = new App();
    const search = { query: z.object({ q: z.string() }) } satisfies RouteSchema;
    app.get("/search", (req) => {
      expectTypeOf(req.valid.query).toEqualTypeOf<{ q: string }>();
    }, { schema: search });
    app.delete("/items/{id}", (req) => {
      expectTypeOf(req.valid.params).toEqualTypeOf<{ id: string }>();
    }, { schema: { params: z.object({ id: z.uuid() }) } });
    app.route("/both", { methods: ["GET", "POST"], schema: search }, (req) => {
      expectTypeOf(req.valid.query.q).toEqualTypeOf<string>();
    });
    const bp = new Blueprint("/api");
    bp.post("/things", (req) => {
      expectTypeOf(req.valid.body).toEqualTypeOf<{ n: number }>();
      // @ts-expect-error
      void req.valid.body.m;
    }, { schema: { body: z.object({ n: z.number() }) } });
  });

  test("a response schema types what the handler may return (any Response still goes)", () => {
    const app = new App();
    const schema = { response: z.object({ id: z.number() }) };
    app.get("/ok", () => ({ id: 1 }), { schema });
    app.get("/async", async () => ({ id: 1 }), { schema });
    app.get("/response", () => Response.json({ anything: true }, 201), { schema });
    // @ts-expect-error id must be a number
    app.get("/wrong", () => ({ id: "1" }), { schema });
    const perStatus = { response: { 200: z.object({ id: z.number() }), 201: z.object({ created: z.literal(true) }) } };
    app.post("/per-status", () => ({ created: true as const }), { schema: perStatus });
    // Without a response schema, anything goes (an SSE stream, a string...).
    app.get("/sse", () => new SseStream(), { schema: { events: { tick: z.object({ n: z.number() }) } } });
  });

  test("decorator routes name the request type with ValidatedRequest<typeof schema>", () => {
    const create = { body: z.object({ name: z.string() }), headers: z.object({ "x-key": z.string() }) } satisfies RouteSchema;
    type Create = ValidatedRequest<typeof create>;
    expectTypeOf<Create["valid"]["body"]>().toEqualTypeOf<{ name: string }>();
    expectTypeOf<Validated<typeof create>["headers"]>().toEqualTypeOf<{ "x-key": string }>();
    expectTypeOf<Validated<typeof create>["query"]>().toEqualTypeOf<undefined>();
    const app = new App();
    class Items {
      @app.post("/items", { schema: create })
      add(req: Create) {
        return { name: req.valid.body.name };
      }
    }
    void Items;
  });
});
