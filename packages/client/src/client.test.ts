/**
 * createClient against a real Cello.ts app on a real socket, typed by the
 * module generated from the fixture document (which describes this app's
 * routes by hand until the OpenAPI plugin serves it).
 */
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { App, Response, SseEvent, silentLogger, type Request } from "../../core/src/index.js";
import { createClient, HttpResponseError, SseClientError, SseClientErrorCode, type UnknownEventInfo } from "./index.js";
import { type Api, type User, streams } from "./fixtures/api.gen.js";

const USERS: User[] = [
  { id: 1, name: "Ada", role: "admin", email: null },
  { id: 2, name: "Grace", role: "member" },
];

/** Last-Event-ID headers the notifications route received, per topic. */
const resumedFrom: Record<string, Array<string | undefined>> = {};
/** What the server saw of the last request, for asserting the wire format. */
let lastRequest: SeenRequest | undefined;
interface SeenRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
/** Read through a function: TypeScript would keep a narrowing to `undefined` across awaits. */
const seen = (): SeenRequest | undefined => lastRequest;

const NEWS: SseEvent[] = [
  new SseEvent(JSON.stringify({ id: "n1", text: "hello", level: "info" }), { event: "notice", id: "1" }),
  new SseEvent(JSON.stringify({ percent: 50, label: null }), { event: "progress", id: "2" }),
  new SseEvent("keep\nalive", { event: "ping", id: "3" }),
  new SseEvent("open", { event: "status", id: "4" }),
];

function problem(status: number, title: string, detail: string, extra: Record<string, unknown> = {}): Response {
  return Response.json({ type: "about:blank", title, status, detail, ...extra }, { status, headers: { "Content-Type": "application/problem+json" } });
}

function buildApp(): App {
  const app = new App({ logger: silentLogger });
  app.get("/users", (request) => {
    lastRequest = { url: request.url, headers: request.headers, body: "" };
    const limit = request.query.limit === undefined ? USERS.length : Number(request.query.limit);
    return USERS.filter((user) => request.query.role === undefined || user.role === request.query.role).slice(0, limit);
  });
  app.post("/users", async (request) => {
    const body = await request.json<{ name?: unknown }>();
    lastRequest = { url: request.url, headers: request.headers, body: JSON.stringify(body) };
    if (typeof body.name !== "string" || body.name === "") {
      return problem(422, "Unprocessable Content", "invalid body", { errors: [{ in: "body", path: "/name", message: "required" }] });
    }
    return Response.json({ id: 3, name: body.name, role: "member" }, 201);
  });
  app.get("/users/{id}", (request) => {
    lastRequest = { url: request.url, headers: request.headers, body: "" };
    const user = USERS.find((candidate) => String(candidate.id) === request.params.id);
    if (user === undefined) return problem(404, "Not Found", `no user ${request.params.id}`);
    return user;
  });
  app.delete("/users/{id}", () => null);
  app.get("/notifications", (request: Request) => {
    const topic = request.query.topic ?? "";
    if (topic === "secret" && request.getHeader("authorization") !== "Bearer good") return problem(401, "Unauthorized", "a token is required");
    (resumedFrom[topic] ??= []).push(request.getHeader("last-event-id"));
    return Response.sse(notifications(topic, request.getHeader("last-event-id")));
  });
  app.post("/chat", async (request) => {
    const { prompt } = await request.json<{ prompt: string }>();
    return Response.sse(
      (async function* () {
        for (const word of prompt.split(" ")) yield new SseEvent(JSON.stringify({ text: word }), { event: "token" });
        yield new SseEvent("end", { event: "done" });
      })(),
    );
  });
  return app;
}

/** The notifications stream: "news" sends two events per connection, resuming after Last-Event-ID. */
async function* notifications(topic: string, lastEventId: string | undefined): AsyncGenerator<SseEvent> {
  if (topic === "news") {
    const start = lastEventId === undefined ? 0 : NEWS.findIndex((event) => event.id === lastEventId) + 1;
    yield* NEWS.slice(start, start + 2);
    return; // the response ends: the client reconnects and resumes
  }
  if (topic === "unknown") {
    yield new SseEvent(JSON.stringify({ v: 2 }), { event: "surprise", id: "u1" });
    yield new SseEvent("still here", { event: "ping", id: "u2" });
  } else if (topic === "bad-json") {
    yield new SseEvent("{not json", { event: "notice", id: "b1" });
    yield new SseEvent("after", { event: "ping", id: "b2" });
  } else if (topic === "secret") {
    yield new SseEvent("open", { event: "status", id: "s1" });
  }
  // An open stream until the client leaves.
  await new Promise(() => {});
}

let app: App;
let baseUrl: string;

beforeAll(async () => {
  app = buildApp();
  baseUrl = (await app.listen({ port: 0 })).url;
});
afterAll(() => app.close({ graceMs: 500 }));

describe("JSON routes", () => {
  test("GET with path parameters, query and a documented header returns the parsed JSON", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    const user = await client.get("/users/{id}", { params: { id: 2 }, headers: { "x-tenant": "acme" } });
    expect(user).toEqual({ id: 2, name: "Grace", role: "member" });
    expect(lastRequest?.url).toBe("/users/2");
    expect(lastRequest?.headers["x-tenant"]).toBe("acme");

    expect(await client.get("/users", { query: { role: "admin", limit: 5 } })).toEqual([USERS[0]]);
    expect(lastRequest?.url).toBe("/users?role=admin&limit=5");
    expect(await client.get("/users")).toEqual(USERS);
    expect(lastRequest?.url).toBe("/users");
  });

  test("POST sends the body as JSON and returns the 201 body; DELETE's 204 resolves to undefined", async () => {
    const client = createClient<Api>(`${baseUrl}/`, { streams, headers: { "x-client": "tests" } });
    expect(await client.post("/users", { body: { name: "Linus" } })).toEqual({ id: 3, name: "Linus", role: "member" });
    expect(lastRequest?.headers["content-type"]).toBe("application/json");
    expect(lastRequest?.headers["x-client"]).toBe("tests");
    expect(lastRequest?.body).toBe('{"name":"Linus"}');
    await expect(client.delete("/users/{id}", { params: { id: 1 } })).resolves.toBeUndefined();
  });

  test("a non-2xx status rejects with an HttpResponseError carrying the status and the problem+json body", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    const error = await client.get("/users/{id}", { params: { id: 99 }, headers: { "x-tenant": "acme" } }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpResponseError);
    const httpError = error as HttpResponseError;
    expect(httpError.status).toBe(404);
    expect(httpError.method).toBe("GET");
    expect(httpError.url).toBe(`${baseUrl}/users/99`);
    expect(httpError.body).toEqual({ type: "about:blank", title: "Not Found", status: 404, detail: "no user 99" });
    expect(httpError.headers.get("content-type")).toBe("application/problem+json");
    expect(httpError.message).toBe(`GET ${baseUrl}/users/99 failed: HTTP 404 Not Found: Not Found: no user 99`);

    const invalid = (await client.post("/users", { body: { name: "" } }).catch((caught: unknown) => caught)) as HttpResponseError;
    expect(invalid.status).toBe(422);
    expect(invalid.body).toMatchObject({ errors: [{ in: "body", path: "/name", message: "required" }] });
  });

  test("path parameters are encoded; a missing, empty, '.' or '..' one throws a TypeError before any request", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    lastRequest = undefined;
    // An untyped (JavaScript) caller can pass anything: a value with a slash stays one segment.
    await client.get("/users/{id}", { params: { id: "1/../2" as unknown as number }, headers: { "x-tenant": "t" } }).catch(() => {});
    expect(seen()?.url).toBe("/users/1%2F..%2F2");
    lastRequest = undefined;
    for (const id of ["..", ".", "", undefined]) {
      await expect(client.get("/users/{id}", { params: { id: id as unknown as number }, headers: { "x-tenant": "t" } })).rejects.toThrow(TypeError);
    }
    await expect(client.get("/users", { query: { limit: { $gt: 1 } as unknown as number } })).rejects.toThrow(/query.limit must be a string, number, boolean/);
    await expect(client.get("/users", { params: { id: 1 } as never })).rejects.toThrow(/params.id is not a parameter of this path/);
    expect(seen()).toBeUndefined();
  });
});

describe("SSE routes", () => {
  test("events arrive typed and decoded, and the stream resumes with Last-Event-ID across reconnects", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    const received: unknown[] = [];
    const reconnects: string[] = [];
    for await (const event of client.stream("/notifications", {
      query: { topic: "news" },
      reconnectDelayMs: 10,
      onReconnect: (info) => reconnects.push(info.lastEventId),
    })) {
      received.push(event);
      if (event.event === "status") break;
    }
    expect(received).toEqual([
      { event: "notice", data: { id: "n1", text: "hello", level: "info" }, id: "1" },
      { event: "progress", data: { percent: 50, label: null }, id: "2" },
      { event: "ping", data: "keep\nalive", id: "3" },
      { event: "status", data: "open", id: "4" },
    ]);
    expect(reconnects).toEqual(["2"]);
    expect(resumedFrom.news).toEqual([undefined, "2"]);
  });

  test("lastEventId resumes from a saved id on the first request", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    resumedFrom.news = [];
    const ids: string[] = [];
    for await (const event of client.stream("/notifications", { query: { topic: "news" }, lastEventId: "2" })) {
      ids.push(event.id);
      if (ids.length === 2) break;
    }
    expect(ids).toEqual(["3", "4"]);
    expect(resumedFrom.news).toEqual(["2"]);
  });

  test("a POST stream sends its JSON body", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    const words: string[] = [];
    for await (const event of client.stream("/chat", { method: "post", body: { prompt: "typed events here" } })) {
      if (event.event === "token") words.push(event.data.text);
      else break;
    }
    expect(words).toEqual(["typed", "events", "here"]);
  });

  test("an event the document does not list is skipped and reported to onUnknownEvent; the stream goes on", async () => {
    const unknown: UnknownEventInfo[] = [];
    const client = createClient<Api>(baseUrl, { streams, onUnknownEvent: (info) => unknown.push(info) });
    for await (const event of client.stream("/notifications", { query: { topic: "unknown" } })) {
      expect(event).toEqual({ event: "ping", data: "still here", id: "u2" });
      break;
    }
    expect(unknown).toEqual([{ path: "/notifications", method: "get", event: { event: "surprise", data: '{"v":2}', id: "u1" } }]);
  });

  test("by default an unknown event is skipped with one console warning", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const client = createClient<Api>(baseUrl, { streams });
      for await (const event of client.stream("/notifications", { query: { topic: "unknown" } })) {
        expect(event.event).toBe("ping");
        break;
      }
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toContain('GET /notifications sent event "surprise", which its OpenAPI document does not list: skipped');
    } finally {
      warn.mockRestore();
    }
  });

  test("data that is not JSON where the document says JSON ends the stream with ERR_SSE_INVALID_JSON", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    const received: unknown[] = [];
    const error = await (async () => {
      for await (const event of client.stream("/notifications", { query: { topic: "bad-json" } })) {
        received.push(event);
        break; // not reached: the first event's data is not JSON
      }
    })().catch((caught: unknown) => caught);
    expect(received).toEqual([]);
    expect(error).toBeInstanceOf(SseClientError);
    expect((error as SseClientError).code).toBe(SseClientErrorCode.INVALID_JSON);
    expect((error as SseClientError).event).toBe("notice");
    expect((error as Error).message).toContain('data of event "notice" is not valid JSON');
  });

  test("a refused stream throws an HttpResponseError with the problem+json body, without reconnecting", async () => {
    const client = createClient<Api>(baseUrl, { streams });
    resumedFrom.secret = [];
    const reconnects = vi.fn();
    const error = (await (async () => {
      for await (const _ of client.stream("/notifications", { query: { topic: "secret" }, onReconnect: reconnects })) break;
    })().catch((caught: unknown) => caught)) as HttpResponseError;
    expect(error).toBeInstanceOf(HttpResponseError);
    expect(error.status).toBe(401);
    expect(error.body).toEqual({ type: "about:blank", title: "Unauthorized", status: 401, detail: "a token is required" });
    expect(reconnects).not.toHaveBeenCalled();
    expect(resumedFrom.secret).toEqual([]);

    const allowed = createClient<Api>(baseUrl, { streams, headers: { authorization: "Bearer good" } });
    for await (const event of allowed.stream("/notifications", { query: { topic: "secret" } })) {
      expect(event).toEqual({ event: "status", data: "open", id: "s1" });
      break;
    }
  });

  test("a route missing from `streams` throws a TypeError at the call", () => {
    const client = createClient<Api>(baseUrl, { streams: { ...streams, "/chat": {} } as never });
    expect(() => client.stream("/chat", { method: "post", body: { prompt: "x" } })).toThrow(/POST \/chat is not an SSE route of the `streams`/);
  });
});
