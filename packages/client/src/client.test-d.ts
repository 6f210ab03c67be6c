/**
 * Type tests of createClient against the module generated from the fixture
 * document (src/fixtures/notifications.openapi.json -> api.gen.ts): right calls
 * compile with the right types, and every wrong name or field is a compile
 * error (`@ts-expect-error` fails the check when the line compiles).
 */
import { describe, expectTypeOf, test } from "vitest";
import { createClient, type ErrorBodyOf, type StreamEventOf } from "./index.js";
import { type Api, type NewUser, type Notice, type Problem, type User, type ValidationProblem, streams } from "./fixtures/api.gen.js";

const client = createClient<Api>("http://127.0.0.1:8000", { streams });

describe("JSON routes", () => {
  test("responses are typed per path and method", () => {
    expectTypeOf(client.get("/users/{id}", { params: { id: 1 }, headers: { "x-tenant": "t" } })).resolves.toEqualTypeOf<User>();
    expectTypeOf(client.get("/users")).resolves.toEqualTypeOf<User[]>();
    expectTypeOf(client.post("/users", { body: { name: "Ada" } })).resolves.toEqualTypeOf<User>();
    expectTypeOf(client.delete("/users/{id}", { params: { id: 1 } })).resolves.toEqualTypeOf<undefined>();
    expectTypeOf<ErrorBodyOf<Api, "/users/{id}", "get">>().toEqualTypeOf<Problem>();
    expectTypeOf<ErrorBodyOf<Api, "/users", "post">>().toEqualTypeOf<ValidationProblem>();
  });

  test("a path or method the document does not have is an error", () => {
    // @ts-expect-error: no such path
    void client.get("/user/{id}", { params: { id: 1 } });
    // @ts-expect-error: /users/{id} has no POST
    void client.post("/users/{id}", { params: { id: 1 } });
    // @ts-expect-error: an SSE route is not a JSON call
    void client.get("/notifications", { query: { topic: "a" } });
  });

  test("params: required, typed, no unknown names", () => {
    // @ts-expect-error: params is required for /users/{id}
    void client.get("/users/{id}", { headers: { "x-tenant": "t" } });
    // @ts-expect-error: id is a number
    void client.get("/users/{id}", { params: { id: "1" }, headers: { "x-tenant": "t" } });
    // @ts-expect-error: no parameter named userId
    void client.get("/users/{id}", { params: { userId: 1 }, headers: { "x-tenant": "t" } });
    // @ts-expect-error: /users has no path parameters
    void client.get("/users", { params: { id: 1 } });
  });

  test("query: typed, optional when nothing in it is required, no unknown names", () => {
    void client.get("/users", { query: { limit: 10, role: "admin" } });
    // @ts-expect-error: role is "admin" | "member"
    void client.get("/users", { query: { role: "owner" } });
    // @ts-expect-error: misspelt query parameter
    void client.get("/users", { query: { limt: 10 } });
    // @ts-expect-error: limit is a number
    void client.get("/users", { query: { limit: "10" } });
  });

  test("headers: documented ones required and typed, others allowed", () => {
    void client.get("/users/{id}", { params: { id: 1 }, headers: { "x-tenant": "t", authorization: "Bearer x" } });
    // @ts-expect-error: x-tenant is required
    void client.get("/users/{id}", { params: { id: 1 }, headers: { authorization: "Bearer x" } });
    // @ts-expect-error: x-tenant is a string
    void client.get("/users/{id}", { params: { id: 1 }, headers: { "x-tenant": 5 } });
  });

  test("body: required, typed, no unknown fields, none where the route takes none", () => {
    // @ts-expect-error: the body is required
    void client.post("/users");
    // @ts-expect-error: name is a string
    void client.post("/users", { body: { name: 1 } });
    // @ts-expect-error: misspelt field
    void client.post("/users", { body: { nam: "Ada" } });
    // @ts-expect-error: GET /users takes no body
    void client.get("/users", { body: { name: "Ada" } });
  });
});

describe("SSE routes", () => {
  test("events are a union by event name with typed data", async () => {
    for await (const event of client.stream("/notifications", { query: { topic: "news" } })) {
      expectTypeOf(event).toEqualTypeOf<StreamEventOf<Api, "/notifications", "get">>();
      expectTypeOf(event.event).toEqualTypeOf<"notice" | "progress" | "ping" | "status">();
      expectTypeOf(event.id).toEqualTypeOf<string>();
      if (event.event === "notice") {
        expectTypeOf(event.data).toEqualTypeOf<Notice>();
        expectTypeOf(event.data.level).toEqualTypeOf<"info" | "warning">();
        // @ts-expect-error: Notice has no field "message"
        void event.data.message;
      } else if (event.event === "progress") {
        expectTypeOf(event.data.percent).toEqualTypeOf<number>();
        // @ts-expect-error: progress data has no "value"
        void event.data.value;
      } else if (event.event === "ping") {
        expectTypeOf(event.data).toEqualTypeOf<string>();
      } else {
        expectTypeOf(event.data).toEqualTypeOf<"open" | "closing">();
        // @ts-expect-error: the document has no event named "tick"
        if (event.event === "tick") break;
      }
      // @ts-expect-error: the document has no event named "notices"
      if (event.event === "notices") break;
    }
  });

  test("a stream takes its route's query and the connect() options; wrong ones are errors", () => {
    void client.stream("/notifications", { query: { topic: "a" }, lastEventId: "7", reconnectDelayMs: 100, signal: new AbortController().signal });
    // @ts-expect-error: topic is required
    void client.stream("/notifications");
    // @ts-expect-error: misspelt query parameter
    void client.stream("/notifications", { query: { topics: "a" } });
    // @ts-expect-error: /users is not an SSE route
    void client.stream("/users");
  });

  test("a POST stream needs its method and its body", async () => {
    for await (const event of client.stream("/chat", { method: "post", body: { prompt: "hi" } })) {
      if (event.event === "token") expectTypeOf(event.data).toEqualTypeOf<{ text: string }>();
      else expectTypeOf(event.data).toEqualTypeOf<string>();
    }
    // @ts-expect-error: /chat streams on POST only
    void client.stream("/chat", { body: { prompt: "hi" } });
    // @ts-expect-error: prompt is a string
    void client.stream("/chat", { method: "post", body: { prompt: 1 } });
  });
});

describe("createClient", () => {
  test("needs the generated streams when the API has SSE routes, and they must match it", () => {
    // @ts-expect-error: streams is required
    createClient<Api>("http://127.0.0.1:8000");
    // @ts-expect-error: "/notifications" lists its events
    createClient<Api>("http://127.0.0.1:8000", { streams: { "/chat": streams["/chat"] } });
    createClient<{ "/a": { get: { params: never; query: never; headers: never; body: never; response: string; errors: never; events: never } } }>("http://x");
  });
});
