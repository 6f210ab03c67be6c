// Channel authorization and channel names, over real sockets: who may subscribe,
// what a refusal looks like on the wire (no SSE byte), and what hostile names get.
// (Owner-scoped replay with both brokers: the conformance suite of @cellojs/testing.)
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { HttpError } from "../errors.js";
import type { Request } from "../request.js";
import { rawSse, sleep } from "../sse/raw-client.test-support.js";
import { celloErrorOf, recordingLogger, startWithCleanup, type TestClient } from "../testing.js";

const start = startWithCleanup();
const portOf = (client: TestClient) => Number(new URL(client.url).port);
const userOf = (req: Request) => req.getHeader("x-user");

/** Everything the server sent for `GET path` until it closed or sent a whole JSON error body. */
async function rawAnswer(client: TestClient, path: string, headers: Record<string, string> = {}): Promise<string> {
  const conn = await rawSse(portOf(client), path, { headers });
  const text = await conn.until((t) => t.includes(": ok") || (/^HTTP\/1\.1 [45]/.test(t) && t.endsWith("}")), 10_000);
  conn.socket.destroy();
  await conn.closed;
  return text;
}

/** The body of a chunked response, without its chunk framing (ASCII bodies). */
function dechunk(raw: string): string {
  let out = "";
  for (let rest = raw; ; ) {
    const size = /^([0-9a-f]+)\r\n/.exec(rest);
    if (!size) return out;
    const length = Number.parseInt(size[1]!, 16);
    out += rest.slice(size[0].length, size[0].length + length);
    rest = rest.slice(size[0].length + length + 2);
  }
}

/** A refusal as the client sees it: status line, JSON, and not one byte of an event stream. */
function expectRefusal(text: string, status: number, body: string): void {
  expect(text.split("\r\n")[0]).toBe(`HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : status === 400 ? "Bad Request" : "Unauthorized"}`);
  expect(text).toMatch(/\r\ncontent-type: application\/json\r\n/i);
  expect(text).not.toMatch(/text\/event-stream/i);
  expect(text.slice(text.indexOf("\r\n\r\n") + 4)).toBe(body);
}

describe("channel authorization", () => {
  it("refuses channel.subscribe() and app.subscribe() with a 403 before any SSE byte, for a sync or an async rule", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const admin = app.channel("admin", { authorize: (req) => req.getHeader("x-role") === "admin" });
    app.authorizeChannels({ pattern: "user:" + "*" }, async (req, name) => {
      await sleep(1);
      return name === `user:${userOf(req)}`;
    });
    app.get("/admin", (req) => admin.subscribe(req));
    app.get("/users/{id}", (req) => app.subscribe(req, `user:${req.params.id}`));
    app.get("/both/{id}", (req) => app.subscribe(req, ["admin", `user:${req.params.id}`]));
    const client = await start(app);
    const forbidden = '{"error":"Forbidden","status":403}';
    expectRefusal(await rawAnswer(client, "/admin"), 403, forbidden);
    expectRefusal(await rawAnswer(client, "/users/bob", { "x-user": "ann" }), 403, forbidden);
    // One refused channel refuses the whole request.
    expectRefusal(await rawAnswer(client, "/both/ann", { "x-user": "ann" }), 403, forbidden);
    expect(await rawAnswer(client, "/admin", { "x-role": "admin" })).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*text\/event-stream[\s\S]*: ok/);
    expect(await rawAnswer(client, "/users/ann", { "x-user": "ann" })).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(await rawAnswer(client, "/both/ann", { "x-user": "ann", "x-role": "admin" })).toMatch(/^HTTP\/1\.1 200 OK/);
    // Nothing refused is left subscribed or held.
    await expect.poll(() => app.openStreams, { timeout: 5000, interval: 5 }).toBe(0);
    expect(admin.size).toBe(0);
  });

  it("lets a rule answer otherwise by throwing an HttpError (401 with WWW-Authenticate); a rule that throws anything else is a logged 500", async () => {
    const logger = recordingLogger();
    const app = new App({ sse: { heartbeatMs: 0 }, logger });
    app.channel("private", {
      authorize: (req) => {
        if (req.getHeader("authorization") === undefined) throw HttpError.fromCode("CELLO_UNAUTHORIZED", undefined, { headers: { "WWW-Authenticate": 'Bearer realm="cello"' } });
        if (req.getHeader("authorization") === "Bearer broken") throw new Error("token store down");
        return req.getHeader("authorization") === "Bearer good";
      },
    });
    app.get("/private", (req) => app.channel("private").subscribe(req));
    const client = await start(app);
    const unauthorized = await rawAnswer(client, "/private");
    expectRefusal(unauthorized, 401, '{"error":"Unauthorized","status":401}');
    expect(unauthorized).toMatch(/\r\nwww-authenticate: Bearer realm="cello"\r\n/i);
    expectRefusal(await rawAnswer(client, "/private", { authorization: "Bearer bad" }), 403, '{"error":"Forbidden","status":403}');
    const failed = await client.get("/private", { headers: { authorization: "Bearer broken" } });
    expect([failed.status, failed.json]).toEqual([500, { error: "Internal Server Error", status: 500 }]);
    expect(logger.errors.map(([, err]) => (err as Error).message)).toEqual(["token store down"]);
    expect(await rawAnswer(client, "/private", { authorization: "Bearer good" })).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('allows channels no rule covers by default; with channelAccess: "deny" they are a 403 until a rule opens them', async () => {
    const open = new App({ sse: { heartbeatMs: 0 } });
    open.get("/news", (req) => open.subscribe(req, "news"));
    const openClient = await start(open);
    expect(await rawAnswer(openClient, "/news")).toMatch(/^HTTP\/1\.1 200 OK/);

    const closed = new App({ sse: { heartbeatMs: 0 }, channelAccess: "deny" });
    closed.get("/news", (req) => closed.subscribe(req, "news"));
    closed.get("/public", (req) => closed.subscribe(req, "public"));
    closed.authorizeChannels("public", () => true);
    const closedClient = await start(closed);
    expectRefusal(await rawAnswer(closedClient, "/news"), 403, '{"error":"Forbidden","status":403}');
    expect(await rawAnswer(closedClient, "/public")).toMatch(/^HTTP\/1\.1 200 OK/);
    // A rule returning something other than true (undefined: a forgotten return) refuses.
    const careless = new App({ sse: { heartbeatMs: 0 } });
    careless.authorizeChannels("news", (() => undefined) as unknown as () => boolean);
    careless.get("/news", (req) => careless.subscribe(req, "news"));
    expectRefusal(await rawAnswer(await start(careless), "/news"), 403, '{"error":"Forbidden","status":403}');
    expect(celloErrorOf(() => new App({ channelAccess: "closed" as "deny" })).code).toBe("CELLO_INVALID_OPTION");
  });

  it("gives a pattern only the channels the request may see: 403 when it matched only others, 404 when it matched none", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.authorizeChannels({ pattern: "room:*" }, (req, name) => name !== "room:vip" || req.getHeader("x-vip") === "yes");
    const lobby = app.channel("room:lobby");
    const vip = app.channel("room:vip");
    app.get("/rooms", (req) => app.subscribe(req, { pattern: "room:*" }));
    app.get("/vip-only", (req) => app.subscribe(req, { pattern: "room:v*" }));
    app.get("/none", (req) => app.subscribe(req, { pattern: "hall:*" }));
    const client = await start(app);
    const plain = await client.openSse("/rooms");
    const member = await client.openSse("/rooms", { headers: { "x-vip": "yes" } });
    await expect.poll(() => lobby.size + vip.size, { timeout: 5000, interval: 5 }).toBe(3);
    await vip.publish("secret");
    await lobby.publish("hello");
    expect((await member.waitForEvents(2)).map((e) => e.data)).toEqual(["secret", "hello"]);
    expect((await plain.waitForEvents(1)).map((e) => e.data)).toEqual(["hello"]);
    plain.close();
    member.close();
    expectRefusal(await rawAnswer(client, "/vip-only"), 403, '{"error":"Forbidden","status":403}');
    const none = await client.get("/none");
    expect([none.status, none.json]).toEqual([404, { error: "Not Found: no channel matches hall:*", status: 404 }]);
  });

  it("never drops a rule silently: a later app.channel(name, { authorize }) gives it to a channel that had none; the first rule stays", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const open = app.channel("reports"); // e.g. a publisher's module, loaded first
    app.channel("reports", { authorize: (req) => req.getHeader("x-role") === "auditor" });
    app.channel("reports", { authorize: () => true }); // the first rule stays
    app.get("/reports", (req) => open.subscribe(req));
    const client = await start(app);
    expectRefusal(await rawAnswer(client, "/reports"), 403, '{"error":"Forbidden","status":403}');
    expect(await rawAnswer(client, "/reports", { "x-role": "auditor" })).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it("refuses what is not a selector: a pattern without its trailing *, a non-string name (programmer errors, 500)", async () => {
    const logger = recordingLogger();
    const app = new App({ sse: { heartbeatMs: 0 }, logger });
    app.get("/bad-pattern", (req) => app.subscribe(req, { pattern: "feed:" }));
    app.get("/bad-name", (req) => app.subscribe(req, [42 as unknown as string]));
    const client = await start(app);
    expect((await client.get("/bad-pattern")).status).toBe(500);
    expect((await client.get("/bad-name")).status).toBe(500);
    expect(logger.errors.map(([, err]) => (err as { code?: string }).code)).toEqual(["CELLO_INVALID_OPTION", "CELLO_INVALID_OPTION"]);
    expect(celloErrorOf(() => app.authorizeChannels({ pattern: "a*b*" }, () => true)).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => app.channel("x", { authorize: "yes" as unknown as () => boolean })).code).toBe("CELLO_INVALID_OPTION");
  });
});

describe("channel names from requests", () => {
  /** A chat app whose room names come from the path, with a low cap on channels. */
  function roomsApp(logger = recordingLogger()): App {
    const app = new App({ sse: { heartbeatMs: 0 }, maxChannels: 3, logger });
    app.get("/rooms/{room}", (req) => app.subscribe(req, `room:${req.params.room}`));
    app.get("/rooms", (req) => app.subscribe(req, { pattern: "room:*" }));
    app.get("/q", (req) => app.subscribe(req, String(req.query.name)));
    return app;
  }

  it("reads a `*` from a request as a name: /rooms/* is the room called *, not every room", async () => {
    const app = roomsApp();
    const lobby = app.channel("room:lobby");
    await lobby.publish("before");
    const client = await start(app);
    // (Opened first: a pattern selects the channels held when it subscribes, and the room called * would be one.)
    const everyRoom = await client.openSse("/rooms");
    const star = await client.openSse("/rooms/*", { lastEventId: "0" });
    await expect.poll(() => lobby.size, { timeout: 5000, interval: 5 }).toBe(1);
    await lobby.publish("lobby only");
    expect((await everyRoom.waitForEvents(1)).map((e) => e.data)).toEqual(["lobby only"]);
    await sleep(100);
    expect(star.events).toEqual([]);
    // It is its own (request-made) channel: publishing to it reaches its subscriber only.
    await app.channel("room:*").publish("to the room called *");
    expect((await star.waitForEvents(1)).map((e) => e.data)).toEqual(["to the room called *"]);
    await sleep(50);
    expect(everyRoom.events).toHaveLength(1);
    star.close();
    everyRoom.close();
  });

  it("answers a hostile name (too long, control characters) with a 400, unlogged and not echoed, and leaves no channel behind", async () => {
    const logger = recordingLogger();
    const app = roomsApp(logger);
    const client = await start(app);
    const invalid = '{"error":"Invalid channel name","status":400}';
    const hostile = ["x".repeat(300), "a%00b", "a%0D%0Ab", "%1B[31mred", "%C2%85next", "tab%09"];
    for (let round = 0; round < 5; round++) {
      for (const name of hostile) expectRefusal(await rawAnswer(client, `/q?name=${name}${round}`), 400, invalid);
    }
    // Huge (as much as Node takes in a request head): refused the same way, the name never echoed.
    const huge = await client.get(`/q?name=${"y".repeat(15_000)}`);
    expect([huge.status, huge.text]).toEqual([400, invalid]);
    // An empty name too.
    expect((await client.get("/q?name=")).status).toBe(400);
    // A name ending in * is a name: one hint in development, however many such requests come.
    for (let i = 0; i < 3; i++) expect(await rawAnswer(client, `/q?name=feed${i}:*`)).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toContain('pass { pattern: "prefix*" }');
    await expect.poll(() => app.openStreams, { timeout: 5000, interval: 5 }).toBe(0);
    // Nothing was made: three new rooms still fit under maxChannels: 3, and the pattern sees none before.
    expect((await client.get("/rooms")).status).toBe(404);
    const rooms = await Promise.all(["a", "b", "c"].map((room) => client.openSse(`/rooms/${room}`)));
    expect(rooms.map((room) => room.status)).toEqual([200, 200, 200]);
    for (const room of rooms) room.close();
    await expect.poll(() => app.openStreams, { timeout: 5000, interval: 5 }).toBe(0);
    expect(logger.errors).toEqual([]);
    // 256 characters is the limit.
    expect(celloErrorOf(() => app.channel("z".repeat(257))).code).toBe("CELLO_INVALID_CHANNEL_NAME");
    // A lone surrogate cannot come through a UTF-8 request, but app code can build one.
    expect(celloErrorOf(() => app.channel("room:\ud800")).code).toBe("CELLO_INVALID_CHANNEL_NAME");
    expect(app.channel("z".repeat(256)).name).toHaveLength(256);
  });

  it("leaves no channel behind for refused subscriptions: 500 distinct refused names under maxChannels: 3", async () => {
    const app = roomsApp();
    app.authorizeChannels({ pattern: "room:" + "*" }, (req) => req.getHeader("x-member") === "yes");
    const client = await start(app);
    for (let done = 0; done < 500; done += 50) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.get(`/rooms/r${done + i}`)));
      expect(answers.every((answer) => answer.status === 403)).toBe(true);
    }
    const member = { headers: { "x-member": "yes" } };
    const rooms = await Promise.all(["a", "b", "c"].map((room) => client.openSse(`/rooms/${room}`, member)));
    expect(rooms.map((room) => room.status)).toEqual([200, 200, 200]);
    for (const room of rooms) room.close();
  });
});

describe("audiences", () => {
  it("checks publish's `to` and subscribe's `audience` before anything is published or sent", async () => {
    const app = new App({ sse: { heartbeatMs: 0 }, logger: recordingLogger() });
    const shared = app.channel("shared");
    expect(celloErrorOf(() => shared.publish("x", { to: "user:1" as unknown as string[] })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => shared.publish("x", { to: [1 as unknown as string] })).code).toBe("CELLO_INVALID_OPTION");
    expect(await app.broker.lastId("shared")).toBeUndefined();
    app.get("/bad", (req) => shared.subscribe(req, { audience: "user:1" as unknown as string[] }));
    const client = await start(app);
    expect((await client.get("/bad")).status).toBe(500);
  });

  it("a subscriber without tags sees only events without `to`; the channel's audience option and the subscription's add up", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const orders = app.channel("orders", { audience: (req) => [`user:${userOf(req)}`] });
    app.get("/orders", (req) => orders.subscribe(req, req.getHeader("x-admin") === "yes" ? { audience: ["role:admin"] } : {}));
    const plain = app.channel("plain");
    app.get("/plain", (req) => plain.subscribe(req));
    const client = await start(app);
    const anonymous = await client.openSse("/plain");
    const ann = await client.openSse("/orders", { headers: { "x-user": "ann" } });
    const admin = await client.openSse("/orders", { headers: { "x-user": "zed", "x-admin": "yes" } });
    await expect.poll(() => orders.size + plain.size, { timeout: 5000, interval: 5 }).toBe(3);
    await plain.publish("secret", { to: ["user:ann"] });
    await plain.publish("public");
    await orders.publish("ann's order", { to: ["user:ann"] });
    await orders.publish("for admins", { to: ["role:admin"] });
    await orders.publish("for nobody", { to: [] });
    await orders.publish("for all");
    expect((await anonymous.waitForEvents(1)).map((e) => e.data)).toEqual(["public"]);
    expect((await ann.waitForEvents(2)).map((e) => e.data)).toEqual(["ann's order", "for all"]);
    expect((await admin.waitForEvents(2)).map((e) => e.data)).toEqual(["for admins", "for all"]);
    await sleep(50);
    expect([anonymous.events.length, ann.events.length, admin.events.length]).toEqual([1, 2, 2]);
    // The skipped "secret" still moved the anonymous client past it: it was sent as an id-only frame.
    expect(anonymous.lastEventId).toBe("2");
    for (const handle of [anonymous, ann, admin]) handle.close();
  });

  it("several channels in one stream: each channel's audience, a composite position that moves past hidden events, a resume with exactly the visible rest", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const news = app.channel("news");
    const alerts = app.channel("alerts");
    app.get("/both", (req) => app.subscribe(req, ["news", "alerts"], { audience: [`user:${userOf(req)}`] }));
    const client = await start(app);
    const as = (user: string, lastEventId?: string) => ({ headers: { "x-user": user }, ...(lastEventId === undefined ? {} : { lastEventId }) });
    const first = await client.openSse("/both", as("ann"));
    await expect.poll(() => news.size + alerts.size, { timeout: 5000, interval: 5 }).toBe(2);
    await news.publish("n1 all");
    await alerts.publish("a1 bob", { to: ["user:bob"] });
    await news.publish("n2 ann", { to: ["user:ann"] });
    await alerts.publish("a2 bob", { to: ["user:bob"] });
    expect((await first.waitForEvents(2)).map((e) => e.data)).toEqual(["n1 all", "n2 ann"]);
    // The hidden a2 moved the alerts position: the client holds news=2&alerts=2.
    await expect.poll(() => Object.fromEntries(new URLSearchParams(first.lastEventId)), { timeout: 5000, interval: 5 }).toEqual({ news: "2", alerts: "2" });
    first.close();
    await expect.poll(() => news.size + alerts.size, { timeout: 5000, interval: 5 }).toBe(0);
    await alerts.publish("a3 ann", { to: ["user:ann"] });
    await news.publish("n3 bob", { to: ["user:bob"] });
    await news.publish("n4 all");
    // A composite id naming a channel outside the subscription is ignored for it.
    const resumed = await client.sse("/both", { ...as("ann", `${first.lastEventId}&secret=0`), maxEvents: 2 });
    expect(resumed.events.map((e) => e.data).sort()).toEqual(["a3 ann", "n4 all"]);
    expect(resumed.raw).not.toMatch(/bob|secret/);
  });

  it("sends what a subscriber may not see as an id-only frame, never its data or event type", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const shared = app.channel("shared");
    app.get("/shared", (req) => shared.subscribe(req, { audience: [`user:${userOf(req)}`] }));
    const client = await start(app);
    for (let i = 1; i <= 3; i++) await shared.publish(`bob-secret-${i}`, { event: "private-note", to: ["user:bob"] });
    await shared.publish("ann-1", { to: ["user:ann"] });
    await shared.publish("bob-secret-4", { event: "private-note", to: ["user:bob"] });
    // Replayed from the start, then one live.
    const conn = await rawSse(portOf(client), "/shared", { headers: { "x-user": "ann", "last-event-id": "0" } });
    await conn.until((t) => t.includes("id: 5\n\n"));
    await expect.poll(() => shared.size, { timeout: 5000, interval: 5 }).toBe(1);
    await shared.publish("bob-secret-6", { to: ["user:bob"] });
    await conn.until((t) => t.includes("id: 6\n\n"));
    conn.socket.destroy();
    // The body without its chunk framing: ann's event (it supersedes the skipped ones before it in
    // the page), then an id-only frame for the skipped one after it, then one for the live one.
    const body = dechunk(conn.body());
    expect(body).toBe(": ok\n\nid: 4\ndata: ann-1\n\nid: 5\n\nid: 6\n\n");
    expect(conn.text()).not.toMatch(/bob|private-note/);
  });
});
