/**
 * Shared by the MCP tests: an app with a small MCP server mounted, the SDK's
 * own client over real sockets, a TCP proxy whose connections a test can cut,
 * and a raw HTTP helper for requests no well-behaved client sends.
 */
import { request as httpRequest } from "node:http";
import { Socket, createServer, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { App, silentLogger, type AppOptions } from "@cellojs/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { startFixtureProcess } from "../../testing/src/processes.test-support.js";
import { mountMcp, type McpMount, type McpMountOptions } from "./index.js";

/** A gate a tool waits at until the test opens it. */
export interface Gate {
  readonly wait: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** What the test controls in the tools of {@link demoServer}. */
export interface ToolControls {
  /** `stream` sends progress 1..3, waits here, sends 4..6, waits at `second`, then 7..10 and the result. */
  first: Gate;
  second: Gate;
  /** How many sessions createServer built. */
  built: number;
  /** The number the next `notify` log message carries. */
  notes: number;
}

/** The MCP server of the tests: `add`, and `stream` (progress notifications, gated in the middle). */
export function demoServer(controls: ToolControls): McpServer {
  controls.built++;
  const server = new McpServer({ name: "cello-test", version: "1.0.0" }, { capabilities: { logging: {} } });
  // Log messages unrelated to a request go out on the session's standalone GET stream.
  server.registerTool("notify", { description: "Send n log messages on the GET stream", inputSchema: { n: z.number().int().max(100) } }, async ({ n }) => {
    for (let i = 0; i < n; i++) await server.sendLoggingMessage({ level: "info", data: `note ${controls.notes++}` });
    return { content: [{ type: "text", text: "sent" }] };
  });
  server.registerTool("add", { description: "Add two numbers", inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
    content: [{ type: "text", text: String(a + b) }],
  }));
  server.registerTool("stream", { description: "Ten progress steps", inputSchema: { gated: z.boolean() } }, async ({ gated }, extra) => {
    const token = extra._meta?.progressToken;
    const step = async (progress: number) => {
      if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress, total: 10, message: `step ${progress}` } });
    };
    for (let i = 1; i <= 10; i++) {
      if (gated && i === 4) await controls.first.wait;
      if (gated && i === 7) await controls.second.wait;
      await step(i);
    }
    return { content: [{ type: "text", text: "done" }] };
  });
  return server;
}

/** An app with the demo server at /mcp, listening on port 0. */
export async function startApp(
  mountOptions: Partial<McpMountOptions> = {},
  appOptions: AppOptions = {},
): Promise<{ app: App; url: string; port: number; controls: ToolControls; mount: McpMount }> {
  const app = new App({ logger: silentLogger, ...appOptions });
  const controls: ToolControls = { first: gate(), second: gate(), built: 0, notes: 0 };
  const mount = mountMcp(app, "/mcp", { createServer: () => demoServer(controls), ...mountOptions });
  const address = await app.listen({ port: 0, host: "127.0.0.1" });
  return { app, url: `http://127.0.0.1:${address.port}/mcp`, port: address.port, controls, mount };
}

/** The SDK client, connected (initialize done) over its Streamable HTTP transport. */
export async function connectClient(url: string, retryMs = 100): Promise<{ client: Client; transport: StreamableHTTPClientTransport; errors: Error[] }> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    reconnectionOptions: { initialReconnectionDelay: retryMs, maxReconnectionDelay: retryMs * 4, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 },
  });
  const client = new Client({ name: "cello-test-client", version: "1.0.0" });
  const errors: Error[] = [];
  client.onerror = (err) => errors.push(err);
  await client.connect(transport);
  return { client, transport, errors };
}

/** A TCP proxy to `port` whose open connections {@link CutProxy.cut} destroys (a dropped network). */
export interface CutProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Send new connections to another port (another instance behind the same address). */
  retarget(port: number): void;
  /** Drop every connection; `halfOpen`: only the client's side (the server notices nothing, as after a lost network). */
  cut(halfOpen?: boolean): void;
  close(): Promise<void>;
}

export async function cutProxy(port: number): Promise<CutProxy> {
  const pairs = new Set<{ downstream: Socket; upstream: Socket; halfOpen: boolean }>();
  const lingering = new Set<Socket>();
  let accepted = 0;
  let target = port;
  const server: Server = createServer((downstream) => {
    accepted++;
    const upstream = new Socket();
    upstream.connect(target, "127.0.0.1");
    const pair = { downstream, upstream, halfOpen: false };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      downstream.destroy();
      // Half-open: the server's side stays connected and hears nothing of the client's departure.
      if (!pair.halfOpen) upstream.destroy();
    };
    downstream.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy: CutProxy = {
    port: (server.address() as { port: number }).port,
    get accepted() {
      return accepted;
    },
    retarget(next) {
      target = next;
    },
    cut(halfOpen = false) {
      for (const pair of [...pairs]) {
        if (halfOpen) {
          pair.halfOpen = true;
          pair.upstream.unpipe(pair.downstream);
          pair.upstream.resume(); // what the server still writes goes nowhere
          lingering.add(pair.upstream);
        }
        pair.downstream.destroy();
      }
    },
    close() {
      proxy.cut();
      for (const socket of lingering) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}

/** One raw HTTP exchange, with whatever headers the test wants (Host included). */
export function rawRequest(
  port: number,
  options: { method: string; headers?: Record<string, string>; body?: string | Buffer; path?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method: options.method, path: options.path ?? "/mcp", headers: options.headers, setHost: !options.headers?.host }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

/** The headers of a well-formed MCP POST. */
export const MCP_POST_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** A minimal initialize request body. */
export const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
});

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll until `ready`, or fail after `timeoutMs` saying `what`. */
export async function until(ready: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A tool call whose stream is cut after 3 of 10 progress steps, resumed by the SDK client. */
export async function droppedAndResumed(
  url: string,
  port: number,
  controls: { first: { open(): void }; second: { open(): void } },
  proxyHolder: { proxy?: CutProxy },
  /** Where the client's reconnection goes: another instance's port (default: the same one). */
  resumeOn = port,
  /** Drop only the client's side: the server still holds the old stream when the client resumes. */
  halfOpen = false,
) {
  const proxy = await cutProxy(port);
  proxyHolder.proxy = proxy;
  const { client, errors } = await connectClient(url.replace(`:${port}/`, `:${proxy.port}/`), 100);
  const progress: number[] = [];
  const call = client.callTool({ name: "stream", arguments: { gated: true } }, CallToolResultSchema, {
    onprogress: (p) => progress.push(p.progress),
    timeout: 30_000,
  });
  await until(() => progress.length >= 3, "the first three progress steps");
  const acceptedBefore = proxy.accepted;
  proxy.retarget(resumeOn);
  proxy.cut(halfOpen);
  // Steps 4..6 are produced while the client is away: they can only come back by replay.
  controls.first.open();
  await until(() => proxy.accepted > acceptedBefore, "the client to reconnect");
  await until(() => progress.length >= 6, "steps 4..6, replayed");
  // Steps 7..10 and the result go out live on the resumed stream.
  controls.second.open();
  const result = await call;
  await client.close();
  return { progress, result, errors };
}


/** The fixture instance (src/fixtures/server.ts) in its own process, on Redis under `prefix`. */
export async function startInstance(prefix: string, redisUrl: string): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const { match, stop } = await startFixtureProcess({
    script: fileURLToPath(new URL("./fixtures/server.ts", import.meta.url)),
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { CELLO_TEST_PREFIX: prefix, REDIS_URL: redisUrl },
    ready: /running on (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/,
    name: "the instance",
  });
  return { url: match[1]!, port: Number(match[2]), stop: () => stop() };
}
