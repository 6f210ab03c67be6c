// Authenticated: where the token comes from, what verify may answer, and
// hostile input (huge, malformed, garbage credentials), always a 401, never a 500.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { HttpError } from "../errors.js";
import { rawSse } from "../sse/raw-client.test-support.js";
import { celloErrorOf, recordingLogger, startWithCleanup } from "../testing.js";
import { Authenticated, cookieValue, type AuthenticatedOptions } from "./authenticated.js";

const start = startWithCleanup();
const TOKENS: Record<string, string> = { "alice-token": "alice", "b.o_b~+/=": "bob" };

async function appWith(options: AuthenticatedOptions = {}) {
  const logger = recordingLogger();
  const verified: string[] = [];
  const app = new App({ logger }).get("/me", (r) => r.principal ?? null, {
    guards: [
      Authenticated({
        verify: (token) => {
          verified.push(token);
          return TOKENS[token] ? { principal: { id: TOKENS[token]! } } : undefined;
        },
        ...options,
      }),
    ],
  });
  return { client: await start(app), logger, verified };
}

describe("Authenticated: where the token comes from", () => {
  it("Authorization: Bearer (scheme in any case), then the cookie, then the query parameter; the first present decides", async () => {
    const { client } = await appWith({ cookie: "token", query: "token" });
    expect((await client.get("/me", { headers: { authorization: "Bearer alice-token" } })).json).toEqual({ id: "alice" });
    expect((await client.get("/me", { headers: { authorization: "bEaReR   b.o_b~+/=" } })).json).toEqual({ id: "bob" });
    expect((await client.get("/me", { headers: { cookie: "theme=dark; token=alice-token; x=1" } })).json).toEqual({ id: "alice" });
    expect((await client.get("/me", { headers: { cookie: 'token="b.o_b~%2B%2F%3D"' } })).json).toEqual({ id: "bob" });
    expect((await client.get("/me?token=alice-token")).json).toEqual({ id: "alice" });
    // A wrong header is not rescued by a right cookie or query token.
    const wrong = await client.get("/me?token=alice-token", { headers: { authorization: "Bearer nope", cookie: "token=alice-token" } });
    expect(wrong.status).toBe(401);
    // A header of another scheme is no bearer credential: the cookie is read.
    expect((await client.get("/me", { headers: { authorization: "Basic YTpi", cookie: "token=alice-token" } })).json).toEqual({ id: "alice" });
  });

  it("without cookie/query options, only the header counts", async () => {
    const { client } = await appWith();
    const res = await client.get("/me?token=alice-token", { headers: { cookie: "token=alice-token" } });
    expect([res.status, res.headers["www-authenticate"], res.json]).toEqual([401, "Bearer", { error: "Unauthorized: missing credentials", status: 401 }]);
  });

  it("without verify: admits a request an earlier guard attached a principal to", async () => {
    const app = new App()
      .get("/a", (r) => r.principal ?? null, { guards: [() => ({ principal: { id: "hooked" } }), Authenticated()] })
      .get("/b", () => "never", { guards: [Authenticated({ realm: "api" })] });
    const client = await start(app);
    expect((await client.get("/a")).json).toEqual({ id: "hooked" });
    const refused = await client.get("/b");
    expect([refused.status, refused.headers["www-authenticate"]]).toEqual([401, 'Bearer realm="api"']);
  });
});

describe("Authenticated: what verify answers", () => {
  it("async verify, a Date expiry, and an expiry already past (401 token expired)", async () => {
    const app = new App()
      .get("/later", (r) => r.principal ?? null, { guards: [Authenticated({ verify: async () => ({ principal: { id: "a" }, expiresAt: new Date(Date.now() + 60_000) }) })] })
      .get("/past", () => "never", { guards: [Authenticated({ verify: async () => ({ principal: { id: "a" }, expiresAt: Date.now() - 1000 }) })] });
    const client = await start(app);
    const auth = { headers: { authorization: "Bearer t" } };
    expect((await client.get("/later", auth)).json).toEqual({ id: "a" });
    const past = await client.get("/past", auth);
    expect([past.status, past.headers["www-authenticate"], past.json.error]).toEqual([401, 'Bearer error="invalid_token"', "Unauthorized: token expired"]);
  });

  it("a verify that throws refuses the token (401), unless it throws an HttpError, which answers as is; garbage results refuse too", async () => {
    const logger = recordingLogger();
    const app = new App({ logger })
      .get("/throws", () => "never", { guards: [Authenticated({ verify: () => { throw new Error("jwt malformed"); } })] })
      .get("/rejects", () => "never", { guards: [Authenticated({ verify: async () => { throw new SyntaxError("bad json"); } })] })
      .get("/down", () => "never", { guards: [Authenticated({ verify: async () => { throw new HttpError(503, "Session store down"); } })] })
      .get("/garbage", () => "never", { guards: [Authenticated({ verify: (() => ({ principal: null })) as never })] })
      .get("/string", () => "never", { guards: [Authenticated({ verify: (() => "alice") as never })] });
    const client = await start(app);
    const auth = { headers: { authorization: "Bearer t" } };
    for (const path of ["/throws", "/rejects", "/garbage", "/string"]) {
      const res = await client.get(path, auth);
      expect([res.status, res.headers["www-authenticate"], res.json], path).toEqual([401, 'Bearer error="invalid_token"', { error: "Unauthorized: invalid token", status: 401 }]);
    }
    const down = await client.get("/down", auth);
    expect([down.status, down.json]).toEqual([503, { error: "Service Unavailable", status: 503 }]);
    expect(logger.errors.map(([m]) => m)).toEqual(["HttpError 503 in a guard of GET /down"]);
  });

  it("options are checked when the guard is built", () => {
    expect(celloErrorOf(() => Authenticated({ verify: "x" as never })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => Authenticated({ realm: 'a"b' })).message).toContain("realm must be printable ASCII");
    expect(celloErrorOf(() => Authenticated({ realm: "a\r\nX-Evil: 1" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => Authenticated({ cookie: "" })).code).toBe("CELLO_INVALID_OPTION");
    expect(celloErrorOf(() => Authenticated({ maxTokenLength: 0 })).code).toBe("CELLO_INVALID_OPTION");
  });
});

describe("Authenticated: hostile input is a 401, never a 500, and verify never sees it", () => {
  it("huge, malformed and garbage credentials", async () => {
    const { client, logger, verified } = await appWith({ cookie: "token", query: "token" });
    const cases: Array<Record<string, string>> = [
      { authorization: `Bearer ${"a".repeat(12_000)}` },
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: "Bearer two tokens" },
      { authorization: "Bearer \u00e9\u00ff\u00a0" },
      { authorization: "Bearer ==abc" },
      { authorization: "Bearer a=b" },
      { cookie: "token=%E0%A4%A" },
      { cookie: `token=${"%41".repeat(4097)}` },
      { cookie: "token=" },
      { cookie: "token" },
    ];
    for (const headers of cases) {
      const res = await client.get("/me", { headers });
      expect(res.status, JSON.stringify(headers).slice(0, 80)).toBe(401);
      expect(res.json.status).toBe(401);
    }
    for (const query of [`?token=${"x".repeat(5000)}`, "?token=%00%01", "?token=", "?token=a%20b", "?token=%ZZ"]) {
      expect((await client.get(`/me${query}`)).status, query.slice(0, 40)).toBe(401);
    }
    expect(verified).toEqual([]);
    expect(logger.errors).toEqual([]);
  });

  it("a head too large for Node is Node's 431, and the server keeps serving", async () => {
    const { client } = await appWith();
    const port = Number(new URL(client.url).port);
    const conn = await rawSse(port, "/me", { headers: { Authorization: `Bearer ${"a".repeat(20_000)}`, Connection: "close" } });
    await conn.closed;
    expect(conn.text()).toMatch(/^HTTP\/1\.1 431 /);
    expect(conn.text()).not.toContain("aaaa");
    expect((await client.get("/me", { headers: { authorization: "Bearer alice-token" } })).json).toEqual({ id: "alice" });
  });

  it("any Authorization value a client can send: 200 for a known token, else 401", async () => {
    const { client, logger } = await appWith({ cookie: "token" });
    // Header values HTTP can carry: tab, printable ASCII and Latin-1 (a leading or trailing space is trimmed by clients).
    const headerChar = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c));
    const value = fc.string({ unit: headerChar, maxLength: 300 }).map((s) => s.trim());
    await fc.assert(
      fc.asyncProperty(fc.oneof(value, value.map((v) => `Bearer ${v}`)), value, async (authorization, cookie) => {
        const headers: Record<string, string> = {};
        if (authorization !== "") headers.authorization = authorization;
        if (cookie !== "") headers.cookie = cookie;
        const res = await client.get("/me", { headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v, "latin1").toString("latin1")])) });
        const known = /^bearer +(alice-token|b\.o_b~\+\/=)$/i.test(authorization);
        expect(res.status).toBe(known ? 200 : 401);
      }),
      { numRuns: 150 },
    );
    expect(logger.errors).toEqual([]);
  });
});

describe("cookieValue", () => {
  it("reads one cookie of a Cookie header (RFC 6265 5.4), percent-decoded, quotes dropped", () => {
    expect(cookieValue("a=1; token=x%2By; b=2", "token")).toBe("x+y");
    expect(cookieValue('token="q"', "token")).toBe("q");
    expect(cookieValue("tokens=1; token=2", "token")).toBe("2");
    expect(cookieValue("token=%E0%A4%A", "token")).toBe("%E0%A4%A");
    expect(cookieValue("x=1", "token")).toBeUndefined();
    expect(cookieValue(undefined, "token")).toBeUndefined();
  });
});
