/**
 * Type tests of createClient() with the module generated from the notifications demo's
 * own document: right calls compile with the right types, a wrong event name, route or
 * field is a compile error (`@ts-expect-error` fails the check when the line compiles).
 */
import { createClient, type StreamEventOf } from "@cellojs/client";
import { describe, expectTypeOf, test } from "vitest";
import { type Api, type Notification, streams } from "./notifications.api.gen.js";

const client = createClient<Api>("http://127.0.0.1:8000", { streams, headers: { authorization: "Bearer alice-secret" } });

describe("the notifications demo's typed client", () => {
  test("the stream's events are a union by name with typed data", async () => {
    for await (const event of client.stream("/notifications", { query: { lastEventId: "3" } })) {
      expectTypeOf(event).toEqualTypeOf<StreamEventOf<Api, "/notifications", "get">>();
      if (event.event === "notification") {
        expectTypeOf(event.data).toEqualTypeOf<Notification>();
        expectTypeOf(event.data.sent_at).toEqualTypeOf<string>();
        // @ts-expect-error: a Notification has no field "body"
        void event.data.body;
      } else {
        expectTypeOf(event.event).toEqualTypeOf<"reauthenticate">();
        expectTypeOf(event.data).toEqualTypeOf<{ reason: string }>();
      }
      // @ts-expect-error: the demo sends no event named "notifications"
      if (event.event === "notifications") break;
    }
  });

  test("JSON calls are typed by path, params and body", () => {
    expectTypeOf(client.get("/me")).resolves.toEqualTypeOf<{ user: string | null }>();
    expectTypeOf(client.post("/notify/{user}", { params: { user: "bob" }, body: { text: "hi" } })).resolves.toEqualTypeOf<{ id: string }>();
    // @ts-expect-error: the body's field is "text"
    void client.post("/notify/{user}", { params: { user: "bob" }, body: { message: "hi" } });
    // @ts-expect-error: params are required
    void client.post("/notify/{user}", { body: { text: "hi" } });
    // @ts-expect-error: the stream is not a JSON call
    void client.get("/notifications");
    // @ts-expect-error: no such query parameter
    void client.stream("/notifications", { query: { since: "3" } });
  });
});
