/**
 * mountMcp against the SDK's own client over real sockets: tools, progress
 * notifications in order, sessions (GET stream, DELETE), and a stream dropped
 * mid-call and resumed with Last-Event-ID, nothing lost or doubled.
 */
import { CallToolResultSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, test } from "vitest";
import type { App } from "@cellojs/core";
import { connectClient, cutProxy, droppedAndResumed, rawRequest, startApp, until, INITIALIZE, MCP_POST_HEADERS, type CutProxy } from "./mcp.test-support.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
function closeLater(app: App): void {
  cleanups.push(() => app.close());
}

describe("the SDK client on a mounted MCP server", () => {
  test("lists and calls a tool", async () => {
    const { app, url } = await startApp();
    closeLater(app);
    const { client } = await connectClient(url);
    cleanups.push(() => client.close());
    const tools = await client.listTools();
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(["add", "notify", "stream"]);
    const result = await client.callTool({ name: "add", arguments: { a: 2, b: 40 } });
    expect(result.content).toEqual([{ type: "text", text: "42" }]);
  });

  test("a tool's progress notifications reach onprogress in order, then the result", async () => {
    const { app, url } = await startApp();
    closeLater(app);
    const { client } = await connectClient(url);
    cleanups.push(() => client.close());
    const seen: Array<[number, string | undefined]> = [];
    const result = await client.callTool({ name: "stream", arguments: { gated: false } }, CallToolResultSchema, {
      onprogress: (progress) => seen.push([progress.progress, progress.message]),
    });
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, `step ${i + 1}`]));
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
  });

  test("sessions: each client gets its own, a foreign session id is 404, DELETE ends one", async () => {
    const { app, url, port, mount, controls } = await startApp();
    closeLater(app);
    const first = await connectClient(url);
    const second = await connectClient(url);
    expect(first.transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second.transport.sessionId).not.toBe(first.transport.sessionId);
    expect(mount.sessions).toBe(2);
    expect(controls.built).toBe(2);
    const unknown = await rawRequest(port, {
      method: "POST",
      headers: { ...MCP_POST_HEADERS, "mcp-session-id": "00000000-0000-4000-8000-000000000000" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });
    await first.transport.terminateSession();
    await until(() => mount.sessions === 1, "the deleted session to be forgotten");
    // The deleted session's id is now unknown: the client would have to initialize again.
    const again = await rawRequest(port, {
      method: "POST",
      headers: { ...MCP_POST_HEADERS, "mcp-session-id": first.transport.sessionId ?? "" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
    });
    expect(again.status).toBe(404);
    expect((await second.client.callTool({ name: "add", arguments: { a: 1, b: 1 } })).content).toEqual([{ type: "text", text: "2" }]);
    await second.client.close();
  });
});

describe("the session's GET stream (server-initiated messages)", () => {
  test("carries messages unrelated to a request; dropped, it resumes with Last-Event-ID and nothing is lost or doubled", async () => {
    const { app, url, port } = await startApp({ retryMs: 100 });
    closeLater(app);
    const proxy = await cutProxy(port);
    cleanups.push(() => proxy.close());
    // The GET stream carries no retry hint: the client waits its own 1 s before reconnecting.
    const { client } = await connectClient(url.replace(`:${port}/`, `:${proxy.port}/`), 1000);
    cleanups.push(() => client.close());
    const notes: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      notes.push(notification.params.data);
    });
    // The client opens its GET stream once initialized; a note arrives when it is up.
    for (let attempt = 0; notes.length === 0 && attempt < 50; attempt++) {
      await client.callTool({ name: "notify", arguments: { n: 1 } });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(notes.length).toBeGreaterThan(0);
    const before = notes.length;
    proxy.cut();
    // Let the client's HTTP pool see its pooled sockets closed: a POST on a dead one fails (the SDK does not retry POSTs).
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Sent while the GET stream is down: stored, then replayed when the client comes back.
    await client.callTool({ name: "notify", arguments: { n: 3 } });
    await until(() => notes.length >= before + 3, "the notes sent while disconnected");
    await client.callTool({ name: "notify", arguments: { n: 2 } });
    await until(() => notes.length >= before + 5, "the notes sent after the resume");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(notes).toEqual(Array.from({ length: before + 5 }, (_, i) => `note ${i}`));
  });
});

describe("a dropped stream resumed with Last-Event-ID (memory broker)", () => {
  test("every progress step arrives once, in order, and the result after them", async () => {
    const { app, url, port, controls } = await startApp({ retryMs: 100 });
    closeLater(app);
    const holder: { proxy?: CutProxy } = {};
    cleanups.push(async () => holder.proxy?.close());
    const { progress, result } = await droppedAndResumed(url, port, controls, holder);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
  });

  test("after a drop the server has not noticed (half-open), the resume takes the stream over", async () => {
    const { app, url, port, controls } = await startApp({ retryMs: 100 });
    closeLater(app);
    const holder: { proxy?: CutProxy } = {};
    cleanups.push(async () => holder.proxy?.close());
    const { progress, result } = await droppedAndResumed(url, port, controls, holder, port, true);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
  });

  test("without an event store the stream is not resumable: the client gets no priming id", async () => {
    const { app, port } = await startApp({ eventStore: false });
    closeLater(app);
    const init = await rawRequest(port, { method: "POST", headers: MCP_POST_HEADERS, body: INITIALIZE });
    expect(init.status).toBe(200);
    expect(init.body).not.toMatch(/^id:/m);
    const withStore = await startApp();
    closeLater(withStore.app);
    const resumable = await rawRequest(withStore.port, { method: "POST", headers: MCP_POST_HEADERS, body: INITIALIZE });
    // The priming event: an id and empty data, before the initialize result.
    expect(resumable.body).toMatch(/^id: [0-9a-f-]{36}:1\ndata: ?\n\n/m);
  });
});
