/**
 * What a hostile or confused client gets from a mounted MCP endpoint: a bad Host
 * or Origin is refused (DNS rebinding protection) before any session exists;
 * garbage JSON, a wrong content type, an unknown session, a forged
 * Last-Event-ID and a huge body each get a clear 4xx; and the server keeps
 * serving the well-behaved client afterwards.
 */
import { afterEach, describe, expect, test } from "vitest";
import { connectClient, demoServer, gate, rawRequest, startApp, INITIALIZE, MCP_POST_HEADERS } from "./mcp.test-support.js";
import { hostCheck } from "./host-check.js";
import { Request, type Guard } from "@cellojs/core";
import type { IncomingMessage } from "node:http";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function started(options: Parameters<typeof startApp>[0] = {}) {
  const app = await startApp(options);
  cleanups.push(() => app.app.close());
  return app;
}

/** A session opened by hand: its id, for raw requests. */
async function openSession(port: number, headers: Record<string, string> = {}): Promise<string> {
  const init = await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, ...headers }, body: INITIALIZE });
  expect(init.status).toBe(200);
  return init.headers["mcp-session-id"] as string;
}

describe("Host and Origin (DNS rebinding protection)", () => {
  test("by default only localhost names pass: another Host is 403 and opens no session", async () => {
    const { port, mount, controls } = await started();
    for (const host of ["evil.example", "evil.example:80", "localhost.evil.example", "127.0.0.2"]) {
      const res = await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, host }, body: INITIALIZE });
      expect(res.status, host).toBe(403);
      expect(JSON.parse(res.body).error).toBe(`Forbidden: Host not allowed: ${host}`);
    }
    expect(mount.sessions).toBe(0);
    expect(controls.built).toBe(0);
    for (const host of ["localhost", `localhost:${port}`, `127.0.0.1:${port}`, "[::1]:1234", "LOCALHOST"]) {
      const res = await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, host }, body: INITIALIZE });
      expect(res.status, host).toBe(200);
    }
  });

  test("a browser Origin not on an allowed host is 403; a local one and none at all pass", async () => {
    const { port, mount } = await started();
    for (const origin of ["http://evil.example", "https://evil.example:8443", "null", "file://", "not a url"]) {
      const res = await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, origin }, body: INITIALIZE });
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body).error).toBe(`Forbidden: Origin not allowed: ${origin}`);
    }
    expect(mount.sessions).toBe(0);
    // Refused on every method, an open session's included.
    const sessionId = await openSession(port);
    const get = await rawRequest(port, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": sessionId, origin: "http://evil.example" } });
    expect(get.status).toBe(403);
    const del = await rawRequest(port, { method: "DELETE", headers: { "mcp-session-id": sessionId, origin: "http://evil.example" } });
    expect(del.status).toBe(403);
    expect(mount.sessions).toBe(1);
    expect((await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, origin: `http://localhost:${port}` }, body: INITIALIZE })).status).toBe(200);
  });

  test("configured lists replace the defaults; \"*\" turns a check off", async () => {
    const { port } = await started({ allowedHosts: ["mcp.example.com", "other.example:8443"], allowedOrigins: ["https://app.example.com"] });
    const post = (headers: Record<string, string>) => rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, ...headers }, body: INITIALIZE });
    expect((await post({ host: "mcp.example.com:443" })).status).toBe(200);
    expect((await post({ host: "other.example:8443" })).status).toBe(200);
    expect((await post({ host: "other.example:8444" })).status).toBe(403);
    expect((await post({ host: `127.0.0.1:${port}` })).status).toBe(403);
    expect((await post({ host: "mcp.example.com", origin: "https://app.example.com" })).status).toBe(200);
    expect((await post({ host: "mcp.example.com", origin: "http://localhost" })).status).toBe(403);
    const open = await started({ allowedHosts: "*", allowedOrigins: "*" });
    expect((await rawRequest(open.port, { method: "POST", headers: { ...MCP_POST_HEADERS, host: "anything.example", origin: "http://x.example" }, body: INITIALIZE })).status).toBe(200);
  });

  test("a bad allow list is refused when the endpoint is mounted", () => {
    expect(() => hostCheck(["ok", ""], undefined)).toThrow(/allowedHosts must be/);
    expect(() => hostCheck(undefined, "localhost" as never)).toThrow(/allowedOrigins must be/);
    // A request without any Host (HTTP/1.0) is refused while a list is in force.
    const raw = { method: "POST", url: "/mcp", headers: {} } as unknown as IncomingMessage;
    expect(hostCheck(undefined, undefined)(new Request(raw, 1024))?.status).toBe(403);
  });
});

describe("hostile input gets a clear 4xx and the server keeps serving", () => {
  test("garbage, wrong types, unknown sessions, forged Last-Event-IDs and a huge body", async () => {
    const { port, url, mount } = await started({ route: { bodyLimit: 64 * 1024 } });
    const post = (body: string | Buffer, headers: Record<string, string> = {}) => rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, ...headers }, body });
    const error = (body: string) => JSON.parse(body).error;

    const garbage = await post("{not json");
    expect(garbage.status).toBe(400);
    expect(error(garbage.body)).toEqual({ code: -32700, message: "Parse error: Invalid JSON" });
    const invalidUtf8 = await post(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(invalidUtf8.status).toBe(400);

    const wrongType = await post(INITIALIZE, { "content-type": "text/plain" });
    expect(wrongType.status).toBe(415);
    const lookalike = await post(INITIALIZE, { "content-type": "application/jsonp" });
    expect(lookalike.status).toBe(415);

    // No session and no initialize: nothing to attach to.
    const noSession = await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }));
    expect(noSession.status).toBe(400);
    expect(error(noSession.body).message).toMatch(/Mcp-Session-Id header is required/);
    const getNoSession = await rawRequest(port, { method: "GET", headers: { accept: "text/event-stream" } });
    expect(getNoSession.status).toBe(400);

    const unknown = { "mcp-session-id": "not-a-session" };
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), unknown)).status).toBe(404);
    expect((await rawRequest(port, { method: "GET", headers: { accept: "text/event-stream", ...unknown } })).status).toBe(404);
    expect((await rawRequest(port, { method: "DELETE", headers: unknown })).status).toBe(404);

    // Valid JSON that is no JSON-RPC message, on a real session: the SDK's 400.
    const sessionId = await openSession(port);
    const notRpc = await post(JSON.stringify({ hello: "world" }), { "mcp-session-id": sessionId });
    expect(notRpc.status).toBe(400);
    // Accept without text/event-stream: 406.
    const notAcceptable = await post(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "tools/list" }), { "mcp-session-id": sessionId, accept: "application/json" });
    expect(notAcceptable.status).toBe(406);

    // Last-Event-IDs that are malformed, of no stream of this session, or past its history: 400, never another stream's events.
    for (const lastEventId of ["garbage", "x".repeat(500), "00000000-0000-4000-8000-000000000000:1", "_GET_stream:999999", "a:b:c", "\u00e9:1"]) {
      const resume = await rawRequest(port, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": sessionId, "last-event-id": lastEventId } });
      expect(resume.status, lastEventId).toBe(400);
      expect(resume.body).not.toContain("protocolVersion");
    }

    // A body over the route's limit: 413 before it is buffered.
    const huge = await post(Buffer.alloc(1024 * 1024, "a"));
    expect(huge.status).toBe(413);

    // A batch of several initialize requests: refused, and no session left open for them.
    const before = mount.sessions;
    const batch = await post(JSON.stringify(Array.from({ length: 3 }, (_, i) => ({ ...JSON.parse(INITIALIZE), id: i }))));
    expect(batch.status).toBe(400);
    expect(mount.sessions).toBe(before);

    // Unsupported methods: the router's 405.
    expect((await rawRequest(port, { method: "PUT", body: "{}" })).status).toBe(405);

    // After all that, the SDK client works as before.
    const { client } = await connectClient(url);
    expect((await client.callTool({ name: "add", arguments: { a: 20, b: 22 } })).content).toEqual([{ type: "text", text: "42" }]);
    await client.close();
  });

  test("one session per owner: another principal's request with a leaked session id is 404", async () => {
    const { port } = await started({ owner: (req) => req.getHeader("x-user") });
    const sessionId = await openSession(port, { "x-user": "alice" });
    const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const asBob = await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, "mcp-session-id": sessionId, "x-user": "bob" }, body: list });
    expect(asBob.status).toBe(404);
    const asAlice = await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, "mcp-session-id": sessionId, "x-user": "alice" }, body: list });
    expect(asAlice.status).toBe(200);
    expect(asAlice.body).toContain('"name":"add"');
  });

  test("by default a session belongs to the principal's id its guards proved", async () => {
    const guard: Guard = (req) => {
      const user = req.getHeader("x-user");
      return user === undefined ? false : { principal: user === "nobody" ? {} : { id: user } };
    };
    const { port } = await started({ route: { guards: [guard] } });
    const sessionId = await openSession(port, { "x-user": "alice" });
    const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    const as = (user: string) => rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, "mcp-session-id": sessionId, "x-user": user }, body: list });
    expect((await as("bob")).status).toBe(404);
    expect((await as("alice")).status).toBe(200);
    // A principal with neither id nor sub: the app must say what owns a session (a logged 500, never a shared session).
    expect((await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, "x-user": "nobody" }, body: INITIALIZE })).status).toBe(500);
  });

  test("a session idle past sessionIdleMs, with no stream open, is closed and its id is then unknown", async () => {
    const { port, mount } = await started({ sessionIdleMs: 1 });
    const sessionId = await openSession(port);
    const deadline = Date.now() + 10_000;
    while (mount.sessions > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(mount.sessions).toBe(0);
    const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
    expect((await rawRequest(port, { method: "POST", headers: { ...MCP_POST_HEADERS, "mcp-session-id": sessionId }, body: list })).status).toBe(404);
  });

  test("the cap itself: a third session is refused while two are in use", async () => {
    const { port, mount } = await started({ maxSessions: 2 });
    await openSession(port);
    await openSession(port);
    const third = await rawRequest(port, { method: "POST", headers: MCP_POST_HEADERS, body: INITIALIZE });
    expect(third.status).toBe(503);
    expect(third.headers["retry-after"]).toBe("5");
    expect(mount.sessions).toBe(2);
  });

  test("a server whose connect() fails: 500, no session kept, the server closed, and the next initialize works", async () => {
    const controls = { first: gate(), second: gate(), built: 0, notes: 0 };
    let closed = 0;
    let fail = true;
    const createServer = () => {
      const server = demoServer(controls);
      const close = server.close.bind(server);
      server.close = async () => {
        closed++;
        return close();
      };
      if (fail) {
        fail = false;
        server.connect = async () => {
          throw new Error("connect failed");
        };
      }
      return server;
    };
    const { port, mount } = await started({ maxSessions: 1, createServer });
    const broken = await rawRequest(port, { method: "POST", headers: MCP_POST_HEADERS, body: INITIALIZE });
    expect(broken.status).toBe(500);
    expect(mount.sessions).toBe(0);
    expect(closed).toBe(1);
    // The cap of one is free again.
    await openSession(port);
    expect(mount.sessions).toBe(1);
  });

  test("the cap holds for initializes that arrive together, while createServer is still building", async () => {
    const controls = { first: gate(), second: gate(), built: 0, notes: 0 };
    // A createServer that waits (loads config, connects a database): the opens overlap.
    const createServer = async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return demoServer(controls);
    };
    const { port, mount } = await started({ maxSessions: 2, createServer });
    const answers = await Promise.all(Array.from({ length: 6 }, () => rawRequest(port, { method: "POST", headers: MCP_POST_HEADERS, body: INITIALIZE })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 200, 503, 503, 503, 503]);
    expect(mount.sessions).toBe(2);
  });
});
