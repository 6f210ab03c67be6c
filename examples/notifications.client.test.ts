// The notifications demo, typed end to end: notifications.api.gen.ts is generated from the
// demo's own /openapi.json (and must stay what the generator makes of it), and createClient()
// with it calls the running demo and reads its guarded stream.
import { readFileSync } from "node:fs";
import { createClient, HttpResponseError } from "@cellojs/client";
import { generateClientTypes } from "@cellojs/client/generate";
import type { App } from "@cellojs/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, streams } from "./notifications.api.gen.js";
import { createNotificationsApp } from "./notifications.js";

/** The URL the committed module names as its source (the demo's default address). */
const SOURCE = "http://127.0.0.1:8000/openapi.json";
const GENERATED = new URL("./notifications.api.gen.ts", import.meta.url);

let app: App;
let url = "";
beforeAll(async () => {
  app = createNotificationsApp();
  ({ url } = await app.listen({ port: 0 }));
});
afterAll(() => app.close({ graceMs: 500 }));

describe("examples/notifications.api.gen.ts", () => {
  it("is exactly what `cello-client generate` makes of the running demo's /openapi.json (regenerate it when the routes change)", async () => {
    const document = await (await fetch(`${url}/openapi.json`)).json();
    const regenerated = await generateClientTypes(document, { source: SOURCE });
    expect(regenerated).toBe(readFileSync(GENERATED, "utf8"));
  });
});

describe("createClient<Api>() against the running demo", () => {
  const as = (token: string) => createClient<Api>(url, { streams, headers: { authorization: `Bearer ${token}` } });

  it("typed JSON calls: /me, /notify/{user}; a refusal rejects with the 401 body and an invalid body with the 422 problem", async () => {
    expect(await as("alice-secret").get("/me")).toEqual({ user: "alice" });
    expect(await createClient<Api>(url, { streams }).get("/me")).toEqual({ user: null });

    const sent = await as("bob-secret").post("/notify/{user}", { params: { user: "alice" }, body: { text: "hello from the client" } });
    expect(sent.id).toMatch(/^\d+$/);

    const refused = await as("wrong").post("/notify/{user}", { params: { user: "alice" }, body: { text: "x" } }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HttpResponseError);
    expect((refused as HttpResponseError).status).toBe(401);
    expect((refused as HttpResponseError).body).toEqual({ error: "Unauthorized: invalid token", status: 401 });

    const invalid = await as("bob-secret").post("/notify/{user}", { params: { user: "alice" }, body: { text: "   " } }).catch((error: unknown) => error);
    expect((invalid as HttpResponseError).status).toBe(422);
    expect((invalid as HttpResponseError).body).toMatchObject({ code: "CELLO_VALIDATION_FAILED", errors: [{ in: "body", path: "/text" }] });
  });

  it("a typed stream, guarded by the Authorization header: only the caller's notifications, data parsed", async () => {
    const controller = new AbortController();
    const received: string[] = [];
    const reading = (async () => {
      for await (const event of as("carol-secret").stream("/notifications", { signal: controller.signal })) {
        if (event.event === "notification") received.push(`${event.data.from}->${event.data.to}: ${event.data.text} (${typeof event.data.sent_at})`);
        if (received.length === 2) break;
      }
    })();
    // The stream is open once carol's first notification arrives; send until it does (the channel is live-only here).
    const alice = as("alice-secret");
    for (let n = 0; received.length === 0 && n < 100; n++) {
      await alice.post("/notify/{user}", { params: { user: "bob" }, body: { text: "not for carol" } });
      await alice.post("/notify/{user}", { params: { user: "carol" }, body: { text: `ping ${n}` } });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await alice.post("/notify/{user}", { params: { user: "carol" }, body: { text: "last" } });
    await reading;
    controller.abort();
    expect(received).toHaveLength(2);
    expect(received[0]).toMatch(/^alice->carol: ping \d+ \(string\)$/);
    expect(received.every((line) => line.startsWith("alice->carol: "))).toBe(true);
  });

  it("a stream without a valid token throws the 401 before any event", async () => {
    const error = await (async () => {
      for await (const event of as("nope").stream("/notifications")) throw new Error(`unexpected ${event.event}`);
    })().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(HttpResponseError);
    expect((error as HttpResponseError).status).toBe(401);
  });
});
