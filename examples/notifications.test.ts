import { TestClient } from "@cellojs/testing";
import { EventSource } from "eventsource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStreamUntil, startDemo } from "./browser/support.js";
import { app, createNotificationsApp, type Notification } from "./notifications.js";

let client: TestClient;
beforeAll(async () => {
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

const notify = (to: string, text: string, token: string) => client.post(`/notify/${to}?token=${token}`, { json: { text } });
const texts = (events: Array<{ data: string }>) => events.map((e) => {
  const n = JSON.parse(e.data) as Notification;
  return `${n.from}->${n.to}: ${n.text}`;
});

describe("examples/notifications.ts", () => {
  it("answers 401 JSON with WWW-Authenticate when the token is missing or wrong", async () => {
    for (const path of ["/notifications", "/notifications?token=nope"]) {
      const res = await client.get(path);
      expect(res.status, path).toBe(401);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.headers["www-authenticate"]).toBe(path.includes("nope") ? 'Bearer realm="notifications", error="invalid_token"' : 'Bearer realm="notifications"');
      expect(res.json).toEqual({ error: path.includes("nope") ? "Unauthorized: invalid token" : "Unauthorized: missing credentials", status: 401 });
    }
    const wrongCookie = await client.get("/notifications", { headers: { cookie: "theme=dark; token=stolen" } });
    expect(wrongCookie.status).toBe(401);
    const send = await client.post("/notify/bob", { json: { text: "hi" } });
    expect(send.status).toBe(401);
  });

  it("accepts the token as ?token=, as a `token` cookie, or as a Bearer header", async () => {
    expect((await client.get("/me?token=alice-secret")).json).toEqual({ user: "alice" });
    expect((await client.get("/me", { headers: { cookie: "theme=dark; token=bob-secret; lang=en" } })).json).toEqual({ user: "bob" });
    expect((await client.get("/me", { headers: { authorization: "Bearer carol-secret" } })).json).toEqual({ user: "carol" });
    expect((await client.get("/me?token=nope")).json).toEqual({ user: null });
    expect((await client.get("/me")).json).toEqual({ user: null });
  });

  it("POST /login sets an HttpOnly token cookie; a wrong token is a 401; /logout clears it", async () => {
    const ok = await client.post("/login", { json: { token: "alice-secret" } });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ user: "alice" });
    expect(ok.headers["set-cookie"]).toBe("token=alice-secret; Path=/; HttpOnly; SameSite=Strict");
    const bad = await client.post("/login", { json: { token: "guess" } });
    expect(bad.status).toBe(401);
    expect(bad.headers["set-cookie"]).toBeUndefined();
    const out = await client.post("/logout");
    expect(out.status).toBe(204);
    expect(out.headers["set-cookie"]).toBe("token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  });

  it("each user's stream carries only the notifications addressed to them", async () => {
    const alice = await client.openSse("/notifications", { headers: { cookie: "token=alice-secret" } });
    const bob = await client.openSse("/notifications?token=bob-secret");
    expect(alice.status).toBe(200);
    expect(alice.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    const sent = [
      await notify("alice", "lunch?", "carol-secret"),
      await notify("bob", "review my PR", "carol-secret"),
      await notify("alice", "  standup moved  ", "bob-secret"),
    ];
    expect(sent.map((r) => r.status)).toEqual([201, 201, 201]);
    const aliceEvents = await alice.waitForEvents(2);
    const bobEvents = await bob.waitForEvents(1);
    // One more, for bob only: once it arrives, anything wrongly sent to alice before it would have too.
    await notify("bob", "done", "alice-secret");
    await bob.waitForEvents(2);
    alice.close();
    bob.close();
    expect(alice.events.map((e) => [e.id, e.event])).toEqual([
      [sent[0]!.json.id, "notification"],
      [sent[2]!.json.id, "notification"],
    ]);
    expect(texts(aliceEvents)).toEqual(["carol->alice: lunch?", "bob->alice: standup moved"]);
    expect(texts(bob.events)).toEqual(["carol->bob: review my PR", "alice->bob: done"]);
    const data = JSON.parse(aliceEvents[0]!.data) as Notification;
    expect(Object.keys(data)).toEqual(["to", "from", "text", "sent_at"]);
  });

  it("a reconnect with Last-Event-ID replays only that user's missed notifications", async () => {
    const first = await notify("carol", "first", "alice-secret");
    await notify("bob", "not for carol", "alice-secret");
    await notify("carol", "second", "bob-secret");
    await notify("carol", "third", "bob-secret");
    const res = await client.sse("/notifications?token=carol-secret", { lastEventId: first.json.id, maxEvents: 2 });
    expect(texts(res.events)).toEqual(["bob->carol: second", "bob->carol: third"]);
  });

  it("a sign-in that expires ends the stream with `event: reauthenticate`; EventSource's reconnect is then refused (401)", async () => {
    const short = await TestClient.start(createNotificationsApp({ sessionTtlMs: 800 }));
    try {
      const login = await short.post("/login", { json: { token: "alice-secret" } });
      const cookie = login.headers["set-cookie"]!.split(";")[0]!;
      const statuses: number[] = [];
      const source = new EventSource(`${short.url}/notifications`, {
        fetch: async (url, init) => {
          const res = await fetch(url, { ...init, headers: { ...init.headers, cookie } });
          statuses.push(res.status);
          return res;
        },
      });
      const received: string[] = [];
      const closed = new Promise<number | undefined>((resolve) => {
        source.addEventListener("notification", (event) => received.push(`notification ${(JSON.parse(event.data) as Notification).text}`));
        source.addEventListener("reauthenticate", (event) => received.push(`reauthenticate ${event.data}`));
        source.onerror = (event) => {
          if (source.readyState === EventSource.CLOSED) resolve(event.code);
        };
      });
      await new Promise<void>((resolve) => (source.onopen = () => resolve()));
      expect((await short.post("/notify/alice?token=bob-secret", { json: { text: "before expiry" } })).status).toBe(201);
      // After the reauthenticate event, EventSource waits `retry` (2 s), reconnects with the expired cookie, gets a 401 and stops.
      expect(await closed).toBe(401);
      source.close();
      expect(received).toEqual(["notification before expiry", 'reauthenticate {"reason":"expired"}']);
      expect(statuses).toEqual([200, 401]);
      expect((await short.get("/me", { headers: { cookie } })).json).toEqual({ user: null });
    } finally {
      await short.close();
    }
  }, 20_000);

  it("POST /notify/{user}: 404 for an unknown user, 422 problem+json (from the zod schema) for a bad text", async () => {
    const unknown = await notify("mallory", "hi", "alice-secret");
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'Unknown user "mallory"', status: 404 });
    for (const [json, path] of [[{}, "/text"], [{ text: "" }, "/text"], [{ text: "   " }, "/text"], [{ text: 5 }, "/text"], [{ text: "x".repeat(501) }, "/text"], [[], ""]] as const) {
      const res = await client.post("/notify/bob?token=alice-secret", { json });
      expect(res.status, JSON.stringify(json)).toBe(422);
      expect(res.headers["content-type"]).toBe("application/problem+json");
      expect(res.json).toMatchObject({ status: 422, code: "CELLO_VALIDATION_FAILED", detail: "1 issue in body", errors: [{ in: "body", path }] });
    }
    // The guard runs first: no token is a 401 whatever the body.
    expect((await client.post("/notify/bob", { json: {} })).status).toBe(401);
    // A text with spaces around it arrives trimmed.
    const sent = await notify("bob", "  trimmed  ", "alice-secret");
    expect(sent.status).toBe(201);
    const replay = await client.sse("/notifications?token=bob-secret", { lastEventId: String(Number(sent.json.id) - 1), maxEvents: 1 });
    expect(texts(replay.events)).toEqual(["alice->bob: trimmed"]);
  });

  it("GET / is the sign-in page, loading nothing from outside", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('new EventSource("/notifications")');
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it("starts with `npx tsx examples/notifications.ts` and prints the demo tokens", async () => {
    const demo = await startDemo("notifications.ts");
    try {
      expect(demo.output()).toContain("Demo tokens: alice-secret (alice), bob-secret (bob), carol-secret (carol)");
      // ?lastEventId=0 asks for everything after id 0, so the notification arrives even if it is sent before the stream opens.
      const reading = readStreamUntil(`${demo.url}/notifications?token=alice-secret&lastEventId=0`, (t) => /event: notification\ndata: .*\n\n/.test(t));
      const res = await fetch(`${demo.url}/notify/alice`, { method: "POST", headers: { authorization: "Bearer bob-secret", "content-type": "application/json" }, body: '{"text":"hi"}' });
      expect(res.status).toBe(201);
      expect(await reading).toMatch(/^: ok\n\nid: 1\nevent: notification\ndata: \{"to":"alice","from":"bob","text":"hi","sent_at":"[^"]+"\}\n\n$/);
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
