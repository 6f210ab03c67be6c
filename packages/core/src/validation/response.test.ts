// The development check of handlers' JSON against `schema.response`, over a real socket.
import { afterEach, describe, expect, test, vi } from "vitest";
import { z } from "zod";
import { App } from "../app.js";
import { Response } from "../response.js";
import { recordingLogger, startWithCleanup } from "../testing.js";
import type { RouteSchema } from "./schema.js";

const start = startWithCleanup();
afterEach(() => vi.unstubAllEnvs());

const user = z.object({ id: z.number(), name: z.string() });

describe("response schemas (development)", () => {
  test("a matching body is sent as returned; a mismatch is a 500 whose log names the route, status and issues", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/users/{id}", (req) => (req.params.id === "1" ? { id: 1, name: "Ada", extra: "kept" } : { id: "2", name: 7 }), { schema: { response: user } as RouteSchema });
    const client = await start(app);
    const ok = await client.get("/users/1");
    expect(ok.status).toBe(200);
    // Checked, never changed: a key the schema strips is still sent.
    expect(ok.json).toEqual({ id: 1, name: "Ada", extra: "kept" });
    expect(logger.errors).toEqual([]);

    const bad = await client.get("/users/2");
    expect(bad.status).toBe(500);
    expect(bad.json).toEqual({ error: "Internal Server Error", status: 500 });
    expect(logger.errors).toHaveLength(1);
    const [message, err] = logger.errors[0]!;
    expect(message).toBe("Unhandled error in GET /users/{id}");
    expect((err as Error & { code: string }).code).toBe("CELLO_INVALID_RESPONSE");
    expect((err as Error).message).toMatch(/^Response does not match its schema: GET \/users\/\{id\} returned a 200 body that does not match its response schema: \/id: .+; \/name: .+/);
  });

  test("per-status schemas check the status the client gets, with Response.json too; other statuses and non-JSON bodies pass", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    const schema = { response: { 201: z.object({ created: z.literal(true) }), 200: user } };
    app.post("/items", (req) => {
      switch (req.query.case) {
        case "created":
          return Response.json({ created: true }, 201);
        case "wrong-created":
          return Response.json({ created: "yes" }, 201);
        case "accepted":
          return Response.json({ anything: 1 }, 202);
        default:
          return "plain text is not checked";
      }
    }, { schema: schema as RouteSchema });
    const client = await start(app);
    expect((await client.post("/items?case=created")).status).toBe(201);
    expect((await client.post("/items?case=accepted")).status).toBe(202);
    expect((await client.post("/items?case=text")).text).toBe("plain text is not checked");
    expect(logger.errors).toEqual([]);
    const wrong = await client.post("/items?case=wrong-created");
    expect(wrong.status).toBe(500);
    expect((logger.errors[0]![1] as Error).message).toMatch(/POST \/items returned a 201 body/);
  });

  test("the JSON on the wire is what is checked (a Date is a string there)", async () => {
    const app = new App({ logger: recordingLogger() });
    app.get("/when", () => ({ at: new Date(0) }), { schema: { response: z.object({ at: z.iso.datetime() }) } as RouteSchema });
    const client = await start(app);
    expect((await client.get("/when")).json).toEqual({ at: "1970-01-01T00:00:00.000Z" });
  });

  test("off in production by default; validation.responses forces it on", async () => {
    vi.stubEnv("NODE_ENV", "production");
    const make = (responses?: boolean) => {
      const app = new App({ logger: recordingLogger(), validation: responses === undefined ? undefined : { responses } });
      app.get("/u", () => ({ id: "not a number" }), { schema: { response: user } as RouteSchema });
      return app;
    };
    const off = await start(make());
    expect((await off.get("/u")).json).toEqual({ id: "not a number" });
    const forced = await start(make(true));
    expect((await forced.get("/u")).status).toBe(500);
    vi.unstubAllEnvs();
    const devOff = await start(make(false));
    expect((await devOff.get("/u")).status).toBe(200);
  });
});
