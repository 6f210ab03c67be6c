// Streams end when the credential does: request.endStreamAt(), and a guard's
// expiresAt through it, over real sockets, for every kind of source.
import { connect as http2Connect } from "node:http2";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { Authenticated } from "../guards/authenticated.js";
import { Request } from "../request.js";
import { celloErrorOf, connect, recordingLogger } from "../testing.js";
import { rawSse, responses, sleep } from "./raw-client.test-support.js";
import { kStreamDeadline, type SseStreamInfo } from "./report.js";
import { SseStream } from "./stream.js";

const REAUTH = 'event: reauthenticate\nretry: 2000\ndata: {"reason":"expired"}\n\n';

/** A token store whose tokens live `ttlMs` from the moment they are issued. */
function tokenStore() {
  const expiries = new Map<string, number>();
  return {
    issue(token: string, ttlMs: number) {
      expiries.set(token, Date.now() + ttlMs);
    },
    guard: Authenticated({
      query: "token",
      verify: (token) => {
        const expiresAt = expiries.get(token);
        return expiresAt === undefined ? undefined : { principal: { id: token }, expiresAt };
      },
    }),
  };
}

/** An app whose `/ticks` streams a tick every 40 ms from `source`, behind `guards`; closes are recorded. */
async function startApp(setup: (app: App, closes: Array<{ path: string; info: SseStreamInfo }>) => void) {
  const closes: Array<{ path: string; info: SseStreamInfo }> = [];
  const app = new App({ logger: recordingLogger() });
  app.addHook("onStreamClose", (request, info) => void closes.push({ path: request.path, info }));
  setup(app, closes);
  const { url } = await app.listen({ port: 0 });
  return { app, port: Number(new URL(url).port), closes };
}

/** Resolves once `predicate()` holds (the close is reported once the producer finished: a generator mid-await takes a moment). */
async function until(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(10);
  }
}

function ticking(request: Request): SseStream {
  const stream = new SseStream();
  let i = 0;
  const timer = setInterval(() => stream.addEvent("tick", String(++i)), 40);
  stream.onClose(() => clearInterval(timer));
  void request;
  return stream;
}

async function* ticks(request: Request): AsyncGenerator<string> {
  for (let i = 1; !request.signal.aborted; i++) {
    await sleep(40);
    yield `tick ${i}`;
  }
}

describe("a stream admitted with a short-lived token", () => {
  it("receives events, then `event: reauthenticate` with retry at expiry, then the response ends; a reconnect with that token gets 401 before any SSE byte", async () => {
    const store = tokenStore();
    const { app, port, closes } = await startApp((app) => app.get("/ticks", ticking, { guards: [store.guard] }));
    try {
      store.issue("short", 600);
      const openedAt = Date.now();
      const conn = await rawSse(port, "/ticks?token=short");
      await conn.until((t) => responses(t)[0]?.complete === true, 5000);
      const endedAfter = Date.now() - openedAt;
      const [response] = responses(conn.text());
      expect(response!.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      // The ticks came first, in order, then the final frame, last and once.
      const ticksSent = [...response!.body.matchAll(/event: tick\ndata: (\d+)\n\n/g)].map((m) => Number(m[1]));
      expect(ticksSent.length).toBeGreaterThanOrEqual(3);
      expect(ticksSent).toEqual(ticksSent.map((_, i) => i + 1));
      expect(response!.body.startsWith(": ok\n\n")).toBe(true);
      expect(response!.body.endsWith(REAUTH)).toBe(true);
      expect(response!.body.split("reauthenticate")).toHaveLength(2);
      // Not before expiry; and not long after (the machine is loaded: generous).
      expect(endedAfter).toBeGreaterThanOrEqual(550);
      expect(endedAfter).toBeLessThan(10_000);
      await until(() => closes.length > 0);
      expect(closes.map((c) => c.info.reason)).toEqual(["expired"]);
      expect(app.openStreams).toBe(0);
      conn.socket.destroy();

      const again = await rawSse(port, "/ticks?token=short", { headers: { Connection: "close" } });
      await again.closed;
      const [refused] = responses(again.text());
      expect(refused!.head).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
      expect(refused!.head).toMatch(/\r\nWWW-Authenticate: Bearer error="invalid_token"\r\n/);
      expect(refused!.head).not.toMatch(/event-stream/i);
      expect(refused!.body).toBe('{"error":"Unauthorized: token expired","status":401}');
    } finally {
      await app.close();
    }
  });

  it.each([
    ["an async generator", (app: App, guard: ReturnType<typeof tokenStore>["guard"]) => app.get("/ticks", ticks, { guards: [guard] })],
    ["a channel subscription", (app: App, guard: ReturnType<typeof tokenStore>["guard"]) => {
      const channel = app.channel("ticks");
      const timer = setInterval(() => void channel.publish("tick", { event: "tick" }), 40);
      app.onEvent("shutdown", () => clearInterval(timer));
      app.get("/ticks", (request) => channel.subscribe(request), { guards: [guard] });
    }],
  ] as const)("ends the same way when the source is %s", async (_, setup) => {
    const store = tokenStore();
    const { app, port, closes } = await startApp((app) => setup(app, store.guard));
    try {
      store.issue("short", 400);
      const conn = await rawSse(port, "/ticks?token=short");
      await conn.until((t) => responses(t)[0]?.complete === true, 5000);
      const body = responses(conn.text())[0]!.body;
      expect(body).toMatch(/data: (tick 1|tick)\n\n/);
      expect(body.endsWith(REAUTH)).toBe(true);
      await until(() => closes.length > 0);
      expect(closes.map((c) => c.info.reason)).toEqual(["expired"]);
      conn.socket.destroy();
    } finally {
      await app.close();
    }
  });

  it("a handler slower than the token's life: the stream opens, then ends at once with the re-auth event", async () => {
    const store = tokenStore();
    const { app, port } = await startApp((app) =>
      app.get("/slow", async () => {
        await sleep(300);
        const stream = new SseStream();
        stream.addEvent("first", "queued before the stream opened");
        return stream;
      }, { guards: [store.guard] }),
    );
    try {
      store.issue("brief", 100);
      const conn = await rawSse(port, "/slow?token=brief");
      await conn.until((t) => responses(t)[0]?.complete === true, 5000);
      expect(responses(conn.text())[0]!.body).toBe(`: ok\n\nevent: first\ndata: queued before the stream opened\n\n${REAUTH}`);
      conn.socket.destroy();
    } finally {
      await app.close();
    }
  });
});

describe("a client that renews its credential", () => {
  it("on `reauthenticate`, @cellojs/client's connect() reconnects after `retry` with the new token and resumes by Last-Event-ID: nothing lost or doubled", async () => {
    const store = tokenStore();
    const { app, port } = await startApp((app) => {
      const channel = app.channel("numbers");
      let n = 0;
      const timer = setInterval(() => void channel.publish(String(++n), { event: "n" }), 30);
      app.onEvent("shutdown", () => clearInterval(timer));
      app.get("/numbers", (request) => channel.subscribe(request), { guards: [store.guard] });
    });
    try {
      store.issue("first", 400);
      let token = "first";
      const sent: string[] = [];
      const withToken = (url: string, init: RequestInit) => {
        const headers = new Headers(init.headers);
        headers.set("authorization", `Bearer ${token}`);
        sent.push(`${token} ${headers.get("last-event-id") ?? "-"}`);
        return fetch(url, { ...init, headers });
      };
      const numbers: number[] = [];
      let reauthenticated = 0;
      let afterRenewal = 0;
      for await (const event of connect(`http://127.0.0.1:${port}/numbers`, { fetch: withToken })) {
        if (event.event === "reauthenticate") {
          reauthenticated++;
          expect(event.retry).toBe(2000);
          store.issue("second", 60_000);
          token = "second";
          continue;
        }
        numbers.push(Number(event.data));
        if (reauthenticated > 0 && ++afterRenewal === 5) break;
      }
      expect(reauthenticated).toBe(1);
      // One unbroken run: the events published while the client was away came with the replay.
      expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
      expect(sent).toHaveLength(2);
      expect(sent[0]).toBe("first -");
      expect(sent[1]).toMatch(/^second \d+$/);
    } finally {
      await app.close();
    }
  }, 20_000);
});

describe("over HTTP/2 (h2c)", () => {
  it("the stream ends at expiry with the re-auth event; a reconnect is a 401", async () => {
    const store = tokenStore();
    const app = new App({ logger: recordingLogger(), sse: { heartbeatMs: 0 } });
    app.get("/ticks", ticking, { guards: [store.guard] });
    const { url } = await app.listen({ port: 0, http2: true });
    const session = http2Connect(url);
    const get = (path: string) =>
      new Promise<{ status: unknown; body: string }>((resolve, reject) => {
        const stream = session.request({ ":path": path, accept: "text/event-stream" });
        let status: unknown;
        let body = "";
        stream.on("response", (head) => (status = head[":status"]));
        stream.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
      });
    try {
      store.issue("h2", 400);
      const streamed = await get("/ticks?token=h2");
      expect(streamed.status).toBe(200);
      expect(streamed.body).toMatch(/^: ok\n\n(event: tick\ndata: \d+\n\n)+/);
      expect(streamed.body.endsWith(REAUTH)).toBe(true);
      const again = await get("/ticks?token=h2");
      expect([again.status, again.body]).toEqual([401, '{"error":"Unauthorized: token expired","status":401}']);
    } finally {
      session.close();
      await app.close();
    }
  });
});

describe("request.endStreamAt()", () => {
  it("called while the stream is open; the earliest deadline wins, a later one never extends it", async () => {
    const { app, port, closes } = await startApp((app) =>
      app.get("/s", (request) => {
        const stream = ticking(request);
        request.endStreamAt(Date.now() + 60_000, { event: "bye" });
        setTimeout(() => {
          request.endStreamAt(new Date(Date.now() + 250), { event: "lifetime", data: "over", retry: 500 });
          request.endStreamAt(Date.now() + 10_000, { event: "later" });
        }, 100);
        return stream;
      }),
    );
    try {
      const startedAt = Date.now();
      const conn = await rawSse(port, "/s");
      await conn.until((t) => responses(t)[0]?.complete === true, 5000);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300);
      expect(responses(conn.text())[0]!.body.endsWith("event: lifetime\nretry: 500\ndata: over\n\n")).toBe(true);
      await until(() => closes.length > 0);
      expect(closes.map((c) => c.info.reason)).toEqual(["deadline"]);
      conn.socket.destroy();
    } finally {
      await app.close();
    }
  });

  it("without an event: a comment naming the reason (and the retry, when given)", async () => {
    const { app, port } = await startApp((app) =>
      app.get("/s", (request) => {
        request.endStreamAt(Date.now() + 100, { retry: 0 });
        return new SseStream();
      }),
    );
    try {
      const conn = await rawSse(port, "/s");
      await conn.until((t) => responses(t)[0]?.complete === true, 5000);
      expect(responses(conn.text())[0]!.body).toBe(": ok\n\nretry: 0\n\n: deadline\n\n");
      conn.socket.destroy();
    } finally {
      await app.close();
    }
  });

  it("its timer is cleared when the client leaves first, and a deadline past 2^31 ms does not fire at once", async () => {
    let captured: Request | undefined;
    const { app, port, closes } = await startApp((app) =>
      app.get("/long", (request) => {
        captured = request;
        request.endStreamAt(Date.now() + 40 * 24 * 3_600_000);
        return new SseStream();
      }, { sse: { heartbeatMs: 0 } }),
    );
    try {
      const conn = await rawSse(port, "/long");
      await conn.until((t) => t.includes(": ok\n\n"));
      await sleep(100);
      expect(conn.text()).not.toContain(": deadline");
      expect(captured![kStreamDeadline]!.armed).toBe(true);
      conn.socket.destroy();
      await conn.closed;
      await until(() => closes.length > 0);
      expect(closes.map((c) => c.info.reason)).toEqual(["client"]);
      expect(captured![kStreamDeadline]!.armed).toBe(false);
    } finally {
      await app.close();
    }
  });

  it("does nothing on a response that is not a stream", async () => {
    const { app, port } = await startApp((app) =>
      app.get("/json", (request) => {
        request.endStreamAt(Date.now() + 10);
        return { ok: true };
      }),
    );
    try {
      const conn = await rawSse(port, "/json", { headers: { Connection: "close" } });
      await conn.closed;
      expect(responses(conn.text())[0]!.body).toBe('{"ok":true}');
    } finally {
      await app.close();
    }
  });

  it("refuses what is not a time, and fields an SseEvent refuses, where it is called", () => {
    const req = new Request({ method: "GET", url: "/", headers: {} } as never, 1024);
    expect(celloErrorOf(() => req.endStreamAt("soon" as never)).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => req.endStreamAt(Number.NaN)).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => req.endStreamAt(new Date("x"))).message).toContain("an invalid Date");
    expect(celloErrorOf(() => req.endStreamAt(Date.now(), { event: "a\nb" })).code).toBe("CELLO_INVALID_SSE_FIELD");
    expect(celloErrorOf(() => req.endStreamAt(Date.now(), { retry: -1 })).code).toBe("CELLO_INVALID_SSE_FIELD");
    expect(celloErrorOf(() => req.endStreamAt(Date.now(), { reason: "nope" as never })).code).toBe("CELLO_INVALID_OPTION");
  });
});
