/**
 * mountMcp against the SDK's own client over real sockets: tools, progress
 * notifications in order, sessions (GET stream, DELETE), and a stream dropped
 * mid-call and resumed with Last-Event-ID, nothing lost or doubled.
 */
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, test } from "vitest";
import type { App } from "@cellojs/core";
import { connectClient, droppedAndResumed, rawRequest, startApp, until, INITIALIZE, MCP_POST_HEADERS, type CutProxy } from "./mcp.test-support.js";

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
    expect(tools.tools.map((tool) => tool.name).sort()).toEqual(["add", "stream"]);
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
