/**
 * The public surface of @cellojs/mcp, pinned: adding, removing or renaming an
 * export is a deliberate change to this list and to docs/api.md (whose test
 * compares its `@cellojs/mcp` headings with index.ts).
 */
import { expect, test } from "vitest";
import * as mcp from "./index.js";

test("the values the package exports", () => {
  expect(Object.keys(mcp).sort()).toEqual(["LOCALHOST_NAMES", "channelEventStore", "mountMcp"]);
  expect(mcp.LOCALHOST_NAMES).toEqual(["localhost", "127.0.0.1", "[::1]"]);
  expect(Object.isFrozen(mcp.LOCALHOST_NAMES)).toBe(true);
});

test("options are checked where the endpoint is mounted", async () => {
  const { App, memoryBroker } = await import("@cellojs/core");
  const app = new App();
  expect(() => mcp.mountMcp(app, "/mcp", {} as never)).toThrow(/createServer must be a function/);
  const createServer = () => ({ connect: async () => {}, close: async () => {} });
  expect(() => mcp.mountMcp(app, "/a", { createServer, maxSessions: 0 })).toThrow(/maxSessions must be a positive integer/);
  expect(() => mcp.mountMcp(app, "/b", { createServer, sessionIdleMs: -1 })).toThrow(/sessionIdleMs/);
  expect(() => mcp.mountMcp(app, "/c", { createServer, retryMs: 1.5 })).toThrow(/retryMs/);
  expect(() => mcp.mountMcp(app, "/d", { createServer, allowedHosts: [""] })).toThrow(/allowedHosts/);
  expect(() => mcp.channelEventStore(memoryBroker(), { history: 0 })).toThrow(/history must be a positive integer/);
  expect(() => mcp.channelEventStore(memoryBroker(), { ttlMs: -5 })).toThrow(/ttlMs/);
});
