// Headers a request can put into a response: nothing a client sends may crash
// the process, whichever API the handler or a hook used to set the header.
import type { IncomingHttpHeaders } from "node:http";
import { connect as http2Connect } from "node:http2";
import { connect } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { CelloError, HttpError } from "./errors.js";
import { Response } from "./response.js";
import { recordingLogger, startWithCleanup, type TestClient } from "./testing.js";

const start = startWithCleanup();

/** The logged errors' messages. */
const messages = (logger: ReturnType<typeof recordingLogger>) => logger.errors.map(([message]) => message);

describe("a header built from request input never crashes the process", () => {
  it("answers 500 (logged with the route) for a character Node refuses, sync and async, and keeps serving", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/name/{name}", (req) => Response.json({}, { headers: { "X-Name": req.params.name } }));
    app.get("/async-name/{name}", async (req) => Response.json({}, { headers: { "X-Name": req.params.name } }));
    app.get("/go", (req) => Response.redirect(req.query.next ?? "/"));
    app.get("/async-go", async (req) => Response.redirect(req.query.next ?? "/"));
    app.get("/ok", () => "ok");
    const client = await start(app);
    // U+20AC (beyond Latin-1), U+0001 (a control character), U+2028, U+1F600 (astral).
    for (const encoded of ["%E2%82%AC", "%01", "%E2%80%A8", "%F0%9F%98%80", "a%7Fb"]) {
      for (const path of [`/name/${encoded}`, `/async-name/${encoded}`, `/go?next=${encoded}`, `/async-go?next=${encoded}`]) {
        const res = await client.get(path);
        expect([path, res.status, res.json]).toEqual([path, 500, { error: "Internal Server Error", status: 500 }]);
        expect(res.headers["x-name"]).toBeUndefined();
        expect((await client.get("/ok")).text).toBe("ok");
      }
    }
    expect(new Set(messages(logger))).toEqual(
      new Set(["Unhandled error in GET /name/{name}", "Unhandled error in GET /async-name/{name}", "Unhandled error in GET /go", "Unhandled error in GET /async-go"]),
    );
    const [, err] = logger.errors[0]!;
    expect(err).toBeInstanceOf(CelloError);
    expect((err as CelloError).code).toBe("CELLO_INVALID_HEADER");
    // Latin-1 is what HTTP/1.1 carries: it is served, not refused.
    const latin1 = await client.get("/name/caf%C3%A9");
    expect([latin1.status, latin1.headers["x-name"]]).toEqual([200, "café"]);
  });

  it("checks headers written straight into response.headers by a handler or an onResponse hook", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    const streamHooks: string[] = [];
    app.addHook("onResponse", (req, res) => {
      if (req.query.trace !== undefined) res.headers["X-Trace"] = req.query.trace;
    });
    app.addHook("onStreamOpen", (req) => streamHooks.push(`open ${req.path}`));
    app.addHook("onStreamClose", (req) => streamHooks.push(`close ${req.path}`));
    app.get("/direct", (req) => {
      const res = Response.text("x");
      res.headers["X-Echo"] = req.query.v ?? "";
      return res;
    });
    app.get("/plain", () => "plain");
    app.get("/stream", () => Response.sse((function* () { yield "one"; })()));
    const client = await start(app);
    const direct = await client.get("/direct?v=%E2%82%AC");
    expect([direct.status, direct.json]).toEqual([500, { error: "Internal Server Error", status: 500 }]);
    const hooked = await client.get("/plain?trace=a%0D%0ASet-Cookie:%20pwned=1");
    expect([hooked.status, hooked.headers["set-cookie"], hooked.headers["x-trace"]]).toEqual([500, undefined, undefined]);
    // An SSE response whose head would be refused never reaches the engine: a plain 500.
    const stream = await client.get("/stream?trace=%00");
    expect([stream.status, stream.headers["content-type"]]).toEqual([500, "application/json"]);
    expect(app.openStreams).toBe(0);
    expect(messages(logger)).toEqual(["Unhandled error in GET /direct", "Unhandled error in GET /plain", "Unhandled error in GET /stream"]);
    // The log names the header and the rule it broke.
    for (const [, err] of logger.errors) expect([(err as CelloError).code, (err as Error).message]).toEqual(["CELLO_INVALID_HEADER", expect.stringMatching(/header "X-(Echo|Trace)"/)]);
    const ok = await client.get("/stream");
    expect([ok.status, ok.text]).toEqual([200, ": ok\n\ndata: one\n\n"]);
    expect(streamHooks).toEqual(["open /stream", "close /stream"]); // the refused stream never opened
    const fine = await client.get("/plain?trace=t-1");
    expect([fine.status, fine.headers["x-trace"], fine.text]).toEqual([200, "t-1", "plain"]);
  });

  it("checks every value of a header written directly, also after the same name passed with a good value", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/echo", (req) => {
      const res = Response.text("x");
      res.headers["X-Echo"] = req.query.v ?? "";
      // A name seen before with a good value, now written with a bad one, and a bad name with a value seen before.
      if (req.query.name !== undefined) res.headers[req.query.name] = "text/plain; charset=utf-8";
      return res;
    });
    const client = await start(app);
    const answers: Array<[number, string | undefined]> = [];
    for (const query of ["v=good", "v=good", "v=bad%0D%0AX-Injected:%201", "v=good", "v=b%00d", "v=good&name=Content%20Type", "v=good&name=Content-Type"]) {
      const response = await client.get(`/echo?${query}`);
      answers.push([response.status, response.headers["x-echo"] as string | undefined]);
    }
    expect(answers).toEqual([[200, "good"], [200, "good"], [500, undefined], [200, "good"], [500, undefined], [500, undefined], [200, "good"]]);
    expect(logger.errors.map(([, err]) => (err as CelloError).code)).toEqual(["CELLO_INVALID_HEADER", "CELLO_INVALID_HEADER", "CELLO_INVALID_HEADER"]);
  });

  it("refuses the same headers over HTTP/2, where node:http2 itself would send CR and LF", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.addHook("onResponse", (req, res) => {
      if (req.query.trace !== undefined) res.headers["x-trace"] = req.query.trace;
    });
    app.get("/plain", () => "plain");
    const { url } = await app.listen({ port: 0, http2: true });
    const session = http2Connect(url);
    const get = (path: string) =>
      new Promise<{ status: number; trace: unknown; body: string }>((resolve, reject) => {
        const stream = session.request({ ":path": path });
        let body = "";
        let head: IncomingHttpHeaders = {};
        stream.on("response", (headers) => (head = headers));
        stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
        stream.on("end", () => resolve({ status: Number(head[":status"]), trace: head["x-trace"], body }));
        stream.on("error", reject);
      });
    try {
      for (const trace of ["a%0D%0Ab", "%00", "%E2%82%AC"]) {
        expect(await get(`/plain?trace=${trace}`)).toEqual({ status: 500, trace: undefined, body: '{"error":"Internal Server Error","status":500}' });
      }
      expect(await get("/plain?trace=t-1")).toEqual({ status: 200, trace: "t-1", body: "plain" });
      expect(messages(logger)).toEqual(Array(3).fill("Unhandled error in GET /plain"));
    } finally {
      session.close();
      await app.close({ graceMs: 500 });
    }
  });

  it("refuses a bad HttpError header where it is built, and answers a 500 if one is slipped in later", async () => {
    expect(() => new HttpError(401, "x", { headers: { "WWW-Authenticate": "Bearer realm=\"\u20ac\"" } })).toThrow(CelloError);
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/built", (req) => {
      throw new HttpError(401, "sign in", { headers: { "WWW-Authenticate": req.query.realm ?? "" } });
    });
    app.get("/mutated", async (req) => {
      const err = new HttpError(429, "slow down", { headers: { "Retry-After": "1" } });
      err.headers!["Retry-After"] = req.query.after ?? "";
      throw err;
    });
    const client = await start(app);
    for (const path of ["/built?realm=%E2%82%AC", "/mutated?after=%0A"]) {
      const res = await client.get(path);
      expect([path, res.status, res.json]).toEqual([path, 500, { error: "Internal Server Error", status: 500 }]);
    }
    expect(messages(logger)).toEqual(["Unhandled error in GET /built", "Unhandled error in GET /mutated"]);
    const fine = await client.get("/mutated?after=2");
    expect([fine.status, fine.headers["retry-after"], fine.json]).toEqual([429, "2", { error: "slow down", status: 429 }]);
  });

  it("turns any throw while writing into a 500 before the head, and a cut connection after it", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/status", () => {
      const res = Response.json({});
      res.status = 1000; // past the constructor's check: Node's writeHead throws
      return res;
    });
    app.get("/sse-status", async () => {
      const res = Response.sse((async function* () { yield "never"; })());
      res.status = 42;
      return res;
    });
    // A body Node cannot write, found only once the head is out.
    app.get("/body", () => new Response({ kind: "bytes", bytes: { byteLength: 3 } as unknown as Uint8Array }));
    app.get("/ok", () => "ok");
    const client = await start(app);
    for (const path of ["/status", "/sse-status"]) {
      const res = await client.get(path);
      expect([path, res.status, res.json]).toEqual([path, 500, { error: "Internal Server Error", status: 500 }]);
    }
    // The head was accepted but never flushed: the client sees the connection cut, not a short body.
    expect(await rawGet(client, "/body")).toBe("");
    expect((await client.get("/ok")).text).toBe("ok");
    expect(messages(logger)).toEqual(["Unhandled error in GET /status", "Unhandled error in GET /sse-status", "Writing the response failed in GET /body"]);
    for (let i = 0; i < 50 && app.openStreams > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(app.openStreams).toBe(0);
  });
});

/** GET `path` on a fresh socket and resolve with everything received once the server closes it. */
function rawGet(client: TestClient, path: string): Promise<string> {
  const { port } = new URL(client.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => resolve(received));
    setTimeout(() => reject(new Error(`no close; received ${JSON.stringify(received)}`)), 5000).unref();
  });
}

// ---------------------------------------------------------------------------
// Property: every character class through every header-setting API.

// The oracle, written from the RFC, not from Node: a field name is a token
// (RFC 9110 5.6.2); a value Node writes is tab, visible ASCII, SP and obs-text (0x80-0xFF).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const char = (min: number, max: number) => fc.integer({ min, max }).map((code) => String.fromCharCode(code));
/** One character of each class a header must be safe against, and the harmless ones. */
const CHAR_CLASSES = {
  c0: char(0x00, 0x1f),
  del: fc.constant("\x7f"),
  latin1High: char(0x80, 0xff),
  bmpBeyondLatin1: fc.oneof(char(0x100, 0xd7ff), char(0xe000, 0xffff)),
  astral: fc.integer({ min: 0x10000, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
  loneSurrogate: char(0xd800, 0xdfff),
  crLfNul: fc.constantFrom("\r", "\n", "\0", "\r\n"),
  tab: fc.constant("\t"),
  printable: char(0x21, 0x7e),
};
const printable = fc.array(CHAR_CLASSES.printable, { maxLength: 4 }).map((chars) => chars.join(""));
/** Printable ASCII around one character of a class (which may be printable too), plus spaces. */
const headerText = fc
  .tuple(printable, fc.oneof(...Object.values(CHAR_CLASSES)), printable, fc.constantFrom("", " "))
  .map(([before, special, after, space]) => `${space}${before}${special}${after}`);

type Target = "name" | "value";
interface Case {
  target: Target;
  text: string;
  async: boolean;
}

/** How each API is used by a handler (or hook), and what a client sees when the header is fine. */
interface Api {
  path: string;
  targets: Target[];
  status: number;
  build(name: string, value: string): Response | Promise<Response>;
  /** The header the value lands in, for value-only APIs. */
  header?: string;
}

const stream = () => (function* () { yield "one"; })();
const APIS: Api[] = [
  { path: "/init/json", targets: ["name", "value"], status: 200, build: (n, v) => Response.json({}, { headers: { [n]: v } }) },
  { path: "/init/text", targets: ["name", "value"], status: 200, build: (n, v) => Response.text("t", { headers: { [n]: v } }) },
  { path: "/init/html", targets: ["name", "value"], status: 200, build: (n, v) => Response.html("<p>", { headers: { [n]: v } }) },
  { path: "/init/no-content", targets: ["name", "value"], status: 204, build: (n, v) => Response.noContent({ headers: { [n]: v } }) },
  { path: "/init/created", targets: ["name", "value"], status: 201, build: (n, v) => Response.created({}, undefined, { headers: { [n]: v } }) },
  { path: "/init/binary", targets: ["name", "value"], status: 200, build: (n, v) => Response.binary(new Uint8Array([1]), "x/y", { headers: { [n]: v } }) },
  { path: "/init/sse", targets: ["name", "value"], status: 200, build: (n, v) => Response.sse(stream(), { headers: { [n]: v } }) },
  { path: "/set-header", targets: ["name", "value"], status: 200, build: (n, v) => Response.json({}).setHeader(n, v) },
  { path: "/set-header-array", targets: ["name", "value"], status: 200, build: (n, v) => Response.json({}).setHeader(n, ["ok", v]) },
  {
    path: "/direct",
    targets: ["name", "value"],
    status: 200,
    build: (n, v) => {
      const res = Response.text("d");
      res.headers[n] = v; // past setHeader: checked when the head is written
      return res;
    },
  },
  {
    path: "/http-error",
    targets: ["name", "value"],
    status: 418,
    build: (n, v) => {
      throw new HttpError(418, "tea", { headers: { [n]: v } });
    },
  },
  { path: "/redirect", targets: ["value"], status: 302, header: "location", build: (_n, v) => Response.redirect(v) },
  { path: "/created-location", targets: ["value"], status: 201, header: "location", build: (_n, v) => Response.created({}, v) },
  { path: "/binary-type", targets: ["value"], status: 200, header: "content-type", build: (_n, v) => Response.binary(new Uint8Array([1]), v) },
  // Set by an onResponse hook, by setHeader or straight into the record.
  { path: "/hook/set-header", targets: ["name", "value"], status: 200, build: () => Response.text("h") },
  { path: "/hook/direct", targets: ["name", "value"], status: 200, build: () => Response.text("h") },
];

/** Strip optional whitespace around a value, as an HTTP client does. */
const ows = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, "");

describe("the header check", () => {
  const refuses = (fn: () => unknown) => {
    try {
      fn();
      return false;
    } catch (err) {
      if (!(err instanceof CelloError) || err.code !== "CELLO_INVALID_HEADER") throw err;
      return true;
    }
  };

  it("refuses exactly the UTF-16 code units HTTP refuses, in values and names", () => {
    const wrong: string[] = [];
    for (let code = 0; code <= 0xffff; code++) {
      const c = String.fromCharCode(code);
      if (refuses(() => Response.json({}).setHeader("X-A", `a${c}b`)) === FIELD_VALUE.test(c)) wrong.push(`value U+${code.toString(16)}`);
      if (code < 0x200 && refuses(() => Response.json({}).setHeader(`X-${c}`, "v")) === TOKEN.test(c)) wrong.push(`name U+${code.toString(16)}`);
    }
    expect(wrong).toEqual([]);
    expect(refuses(() => Response.json({}, { headers: { "": "v" } }))).toBe(true);
    expect(refuses(() => Response.json({}).setHeader("X-A", "\u{1F600}"))).toBe(true);
    expect(refuses(() => Response.json({}).setHeader("X-A", ["fine", "\u20ac"]))).toBe(true);
    expect(refuses(() => Response.json({}).setHeader("X-A", ""))).toBe(false);
  });
});

describe("property: every character class through every header-setting API", () => {
  it("answers the header intact when HTTP allows it, a logged 500 otherwise, and the next request 200", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    let current: Case = { target: "value", text: "", async: false };
    const headerOf = (): [string, string] => (current.target === "name" ? [`X-${current.text}`, "v"] : ["X-Case", current.text]);
    for (const api of APIS) {
      app.get(api.path, () => {
        const [name, value] = headerOf();
        return current.async ? Promise.resolve().then(() => api.build(name, value)) : api.build(name, value);
      });
    }
    app.addHook("onResponse", (req, res) => {
      if (!req.path.startsWith("/hook/")) return;
      const [name, value] = headerOf();
      if (req.path === "/hook/set-header") res.setHeader(name, value);
      else res.headers[name] = value;
    });
    app.get("/ok", () => "ok");
    const client = await start(app);

    let refused = 0;
    let served = 0;
    for (const api of APIS) {
      const cases = fc.record({ target: fc.constantFrom(...api.targets), text: headerText, async: fc.boolean() });
      await fc.assert(
        fc.asyncProperty(cases, async (testCase) => {
          current = testCase;
          const [name, value] = headerOf();
          const allowed = TOKEN.test(name) && FIELD_VALUE.test(value);
          const loggedBefore = logger.errors.length;
          const res = await client.get(api.path);
          if (allowed) {
            served++;
            expect(res.status).toBe(api.status);
            const received = res.headers[api.header ?? name.toLowerCase()];
            const expected = api.path === "/set-header-array" ? ows(`ok, ${ows(value)}`) : ows(value);
            expect(received === undefined ? undefined : ows(String(received))).toBe(expected);
            expect(logger.errors.length).toBe(loggedBefore);
          } else {
            refused++;
            expect(res.status).toBe(500);
            expect(res.json).toEqual({ error: "Internal Server Error", status: 500 });
            expect(logger.errors.length).toBe(loggedBefore + 1);
            expect(logger.errors.at(-1)![0]).toContain(`GET ${api.path}`);
          }
          expect((await client.get("/ok")).status).toBe(200);
        }),
        { numRuns: 100 },
      );
    }
    // Both outcomes were exercised in earnest.
    expect(refused).toBeGreaterThan(APIS.length * 30);
    expect(served).toBeGreaterThan(APIS.length * 8);
    expect(app.openStreams).toBe(0);
  });
});
