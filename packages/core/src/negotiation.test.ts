// requireAccept: a stream-only route asked for something else answers 406 before its
// handler runs, reading Accept as RFC 9110 does, over a real socket.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { App } from "./app.js";
import { HttpError } from "./errors.js";
import { connect } from "@cellojs/client";
import { celloErrorOf, recordingLogger, startWithCleanup } from "./testing.js";

const start = startWithCleanup();

async function streamOnlyApp() {
  const logger = recordingLogger();
  const calls = { handler: 0 };
  const app = new App({ logger, sse: { heartbeatMs: 0 } });
  app.post(
    "/chat",
    function* () {
      calls.handler++;
      yield "token";
    },
    { requireAccept: "text/event-stream" },
  );
  app.post("/open", function* () {
    yield "anyone";
  });
  const client = await start(app);
  return { client, calls, logger };
}

describe("requireAccept", () => {
  it("runs the handler when Accept admits the type: exact, any case, wildcards, q-values, no Accept at all", async () => {
    const { client, calls, logger } = await streamOnlyApp();
    const admitted: Array<Record<string, string>> = [
      { accept: "text/event-stream" },
      { accept: "TEXT/Event-Stream" },
      { accept: "*/*" },
      { accept: "text/*" },
      { accept: "application/json, text/event-stream;q=0.1" },
      { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" }, // a browser's navigation
      {}, // RFC 9110 12.5.1: no Accept, any media type
    ];
    for (const headers of admitted) {
      const response = await client.post("/chat", { headers });
      expect([headers.accept, response.status, response.headers["content-type"], response.text]).toEqual([
        headers.accept,
        200,
        "text/event-stream; charset=utf-8",
        ": ok\n\ndata: token\n\n",
      ]);
      expect(response.headers.vary).toBe("Accept");
    }
    expect(calls.handler).toBe(admitted.length);
    expect(logger.errors).toEqual([]);
  });

  it("answers 406 problem+json, Vary: Accept, without running the handler, when Accept excludes the type", async () => {
    const { client, calls, logger } = await streamOnlyApp();
    const refused = [
      "application/json",
      "text/html",
      "text/event-stream;q=0",
      "*/*, text/event-stream;q=0", // the most specific range wins
      "text/*;q=0.5, text/event-stream;q=0",
      "image/*",
      ";;;,,,=== ,",
      "text/event-stream;;;q=zero, /, event-stream",
      // A parameter narrows a range (RFC 9110 12.5.1): the route's type has none.
      "text/event-stream; charset=utf-8",
    ];
    for (const accept of refused) {
      const response = await client.post("/chat", { headers: { accept } });
      expect([accept, response.status, response.headers["content-type"], response.headers.vary]).toEqual([accept, 406, "application/problem+json", "Accept"]);
      expect(response.json).toEqual({
        type: "about:blank",
        title: "Not Acceptable",
        status: 406,
        code: "CELLO_NOT_ACCEPTABLE",
        detail: "This route answers with text/event-stream; the request's Accept header admits none of it",
        accept: ["text/event-stream"],
      });
    }
    expect(calls.handler).toBe(0);
    expect(logger.errors).toEqual([]);
    // Off by default: the same Accept on a route without the option streams.
    const open = await client.post("/open", { headers: { accept: "application/json" } });
    expect([open.status, open.headers.vary]).toEqual([200, undefined]);
  });

  it("a huge Accept header is read without a crash or a stall, either way", async () => {
    const { client, calls } = await streamOnlyApp();
    const many = Array.from({ length: 400 }, (_, i) => `application/x-type-${i};q=0.${i % 10}`).join(", ");
    expect(many.length).toBeGreaterThan(11_000);
    const started = performance.now();
    expect((await client.post("/chat", { headers: { accept: many } })).status).toBe(406);
    expect((await client.post("/chat", { headers: { accept: `${many}, text/event-stream;q=0.01` } })).status).toBe(200);
    // Past Node's header size limit the server answers 431 itself.
    expect((await client.post("/chat", { headers: { accept: `${many}, ${many}` } })).status).toBe(431);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(calls.handler).toBe(1);
  });

  it("runs after the guards and before validation: 401 before 406, 406 before 422", async () => {
    const app = new App({ logger: recordingLogger() });
    const deny = () => {
      throw new HttpError(401, "who are you");
    };
    app.post("/guarded", () => "never", { requireAccept: "text/event-stream", guards: [deny] });
    app.post("/validated", () => "never", { requireAccept: "text/event-stream", schema: { body: z.object({ prompt: z.string() }) } });
    const client = await start(app);
    expect((await client.post("/guarded", { headers: { accept: "application/json" } })).status).toBe(401);
    expect((await client.post("/validated", { headers: { accept: "application/json" }, json: { prompt: 1 } })).status).toBe(406);
    expect((await client.post("/validated", { headers: { accept: "text/event-stream" }, json: { prompt: 1 } })).status).toBe(422);
  });

  it("takes a list; an async handler's answer gets Vary too; HEAD of a GET route is negotiated the same", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.get("/either", async () => ({ ok: true }), { requireAccept: ["application/json", "text/event-stream"] });
    const client = await start(app);
    const json = await client.get("/either", { headers: { accept: "application/json" } });
    expect([json.status, json.text, json.headers.vary]).toEqual([200, '{"ok":true}', "Accept"]);
    expect((await client.get("/either", { headers: { accept: "text/event-stream" } })).status).toBe(200);
    expect((await client.get("/either", { headers: { accept: "text/plain" } })).json.detail).toBe(
      "This route answers with application/json, text/event-stream; the request's Accept header admits none of them",
    );
    expect((await client.head("/either", { headers: { accept: "text/plain" } })).status).toBe(406);
  });

  it("@cellojs/client's connect() streams a POST with a body from a requireAccept route (it sends Accept: text/event-stream)", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.post(
      "/echo",
      async function* (request) {
        const { words } = await request.json<{ words: string[] }>();
        yield* words;
      },
      { requireAccept: "text/event-stream" },
    );
    const client = await start(app);
    const received: string[] = [];
    for await (const event of connect(`${client.url}/echo`, { method: "POST", body: JSON.stringify({ words: ["a", "b", "c"] }), headers: { "content-type": "application/json" } })) {
      received.push(event.data);
      if (received.length === 3) break;
    }
    expect(received).toEqual(["a", "b", "c"]);
  });

  it("refuses an option that is not concrete media types at registration", () => {
    for (const bad of ["text/*", "*/*", "", [], "event-stream", "text/event-stream; charset=utf-8", 42, ["text/event-stream", null], "text/event stream"]) {
      const err = celloErrorOf(() => new App().post("/x", () => null, { requireAccept: bad as never }));
      expect(err.code).toBe("CELLO_INVALID_OPTION");
      expect(err.message).toContain("POST /x: requireAccept must be a media type");
    }
  });
});
