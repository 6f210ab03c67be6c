/**
 * mountMcp: an MCP server from the official SDK on a Cello.ts route, over the
 * Streamable HTTP transport (POST for messages, GET for the server's own
 * stream and for resuming, DELETE to end a session). Each session gets its own
 * SDK transport and server; the route checks Host/Origin first, reads the body
 * under the route's limit, and hands the SDK's answer to Cello.ts's responder.
 */
import { randomUUID } from "node:crypto";
import { CelloError, Response, type App, type Request, type RouteOptions } from "@cellojs/core";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { channelEventStore, type SessionEventStore } from "./event-store.js";
import { hostCheck, type AllowList } from "./host-check.js";
import { SessionRegistry, type Session } from "./sessions.js";
import { fromWebResponse, toWebRequest } from "./web.js";

/** What `createServer` is told about the session it builds a server for. */
export interface McpSessionContext {
  /** The new session's id (what the client sends as `Mcp-Session-Id`). */
  sessionId: string;
  /** The `initialize` request that opens the session. */
  request: Request;
}

/** An MCP server from the SDK: an `McpServer` or a low-level `Server` (anything that connects to a transport). */
export interface McpServerLike {
  connect(transport: Transport): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link mountMcp}. */
export interface McpMountOptions {
  /**
   * Build the MCP server of one session: called once per `initialize`, the server is
   * connected to that session's transport and closed with it.
   */
  createServer: (context: McpSessionContext) => McpServerLike | Promise<McpServerLike>;
  /**
   * Where stream events are kept so a client can resume with `Last-Event-ID`. Default
   * `channelEventStore(app.broker)`: the app's channels (memory, or Redis with `@cellojs/redis`).
   * `false`: no resumability (a dropped stream loses what was not delivered).
   */
  eventStore?: SessionEventStore | false;
  /**
   * Host names (any port) or `host:port` pairs the endpoint answers; any other `Host` gets
   * 403 (DNS rebinding protection). Default `["localhost", "127.0.0.1", "[::1]"]`: set it to
   * your public host name(s) when you deploy, or `"*"` behind a proxy that checks Host.
   */
  allowedHosts?: AllowList;
  /**
   * Origins (`"https://app.example.com"`) whose browser pages may call the endpoint; any
   * other `Origin` gets 403. Default: origins on an allowed host name. A request without
   * `Origin` (not from a browser) is not refused by this check. `"*"` turns it off.
   */
  allowedOrigins?: AllowList;
  /** Most sessions open at once on this instance; past it, `initialize` gets 503. Default 1000. */
  maxSessions?: number;
  /** Close a session after this many ms without a request and with no stream open (0 never). Default 30 minutes. */
  sessionIdleMs?: number;
  /** The `retry:` hint (ms) sent with a stream's first event: how soon the SDK client reconnects. Default: none (the client's own backoff). */
  retryMs?: number;
  /** Answer POSTs with one JSON body instead of an SSE stream (no progress notifications, no resume). Default false. */
  enableJsonResponse?: boolean;
  /** The SDK `authInfo` tools see in `extra.authInfo`, from the request (after the route's guards ran). */
  authInfo?: (request: Request) => AuthInfo | undefined;
  /**
   * The owner key of a request, as for resumable streams: what it returns for the \`initialize\`
   * request must match every later request of the session (a resume on another instance
   * included), else 404, so a session id that leaked is no use to anyone else. Derive it from
   * what the request proved (its guards' principal), never from what it merely asks for.
   * Default: \`request.principal.id\` (or \`.sub\`) when a guard set a principal (one with
   * neither is a CelloError: pass \`owner\`); without a principal, the session is anyone's who
   * holds its id (a random UUID).
   */
  owner?: (request: Request) => string | undefined;
  /** Options of the three routes (`guards`, `bodyLimit`, `sse`, ...), as for `app.post()`. */
  route?: RouteOptions;
}

const DEFAULT_IDLE_MS = 30 * 60_000;

/**
 * Serve an MCP server (from `@modelcontextprotocol/sdk`) at `path` over Streamable
 * HTTP: `POST` JSON-RPC messages (answered with an SSE stream, or 202 for
 * notifications), `GET` the session's server-to-client stream or resume one
 * with `Last-Event-ID`, `DELETE` to end the session. Sessions are stateful
 * (`Mcp-Session-Id`) and live on the instance that opened them; their events
 * are kept in the app's channels, so a dropped stream resumes without loss.
 * Host and Origin are checked before anything else (403).
 *
 * @param app - The app to add the routes to.
 * @param path - The endpoint, e.g. `"/mcp"`.
 * @param options - `createServer` and the rest of {@link McpMountOptions}.
 * @returns A handle to close every session (the app's shutdown does it too).
 * @example
 * import { App } from "@cellojs/core";
 * import { mountMcp } from "@cellojs/mcp";
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { z } from "zod";
 *
 * const app = new App();
 * mountMcp(app, "/mcp", {
 *   createServer: () => {
 *     const server = new McpServer({ name: "demo", version: "1.0.0" });
 *     server.registerTool("add", { inputSchema: { a: z.number(), b: z.number() } }, ({ a, b }) => ({
 *       content: [{ type: "text", text: String(a + b) }],
 *     }));
 *     return server;
 *   },
 * });
 * await app.listen({ port: 3000 });
 */
export function mountMcp(app: App, path: string, options: McpMountOptions): McpMount {
  if (typeof options?.createServer !== "function") throw new CelloError("CELLO_INVALID_OPTION", "mountMcp: createServer must be a function that returns an MCP server");
  const maxSessions = options.maxSessions ?? 1000;
  const idleMs = options.sessionIdleMs ?? DEFAULT_IDLE_MS;
  if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new CelloError("CELLO_INVALID_OPTION", `mountMcp: maxSessions must be a positive integer, got ${String(maxSessions)}`);
  if (!Number.isInteger(idleMs) || idleMs < 0) throw new CelloError("CELLO_INVALID_OPTION", `mountMcp: sessionIdleMs must be a non-negative integer, got ${String(idleMs)}`);
  if (options.retryMs !== undefined && (!Number.isInteger(options.retryMs) || options.retryMs < 0)) throw new CelloError("CELLO_INVALID_OPTION", "mountMcp: retryMs must be a non-negative integer");
  const ownerOf = options.owner ?? principalOwner;
  const check = hostCheck(options.allowedHosts, options.allowedOrigins);
  const eventStore = options.eventStore === false ? undefined : (options.eventStore ?? channelEventStore(app.broker));
  const sessions = new SessionRegistry(eventStore, idleMs, (err) => app.logger.error("MCP session cleanup failed", err));

  // Sessions being opened (createServer and connect are awaited): counted against maxSessions too.
  let opening = 0;
  const open = async (request: Request, body: Uint8Array, parsed: unknown): Promise<Response> => {
    if (sessions.size + opening >= maxSessions) return jsonRpcError(503, -32000, "Too many MCP sessions on this server; try again later", { "Retry-After": "5" });
    opening++;
    try {
      return await openSession(request, body, parsed);
    } finally {
      opening--;
    }
  };

  const openSession = async (request: Request, body: Uint8Array, parsed: unknown): Promise<Response> => {
    const sessionId = randomUUID();
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      ...(eventStore === undefined ? {} : { eventStore: eventStore.forSession(sessionId) }),
      ...(options.retryMs === undefined ? {} : { retryInterval: options.retryMs }),
      enableJsonResponse: options.enableJsonResponse ?? false,
      // Cello.ts's engine sends the stream's heartbeats.
      keepAliveMs: 0,
    });
    const server = await options.createServer({ sessionId, request });
    const session: Session = { id: sessionId, transport, owner: ownerOf(request), closeServer: () => server.close(), lastSeen: Date.now(), openStreams: 0 };
    // Set before connect(): the server wraps it, and calls it when the transport closes.
    transport.onclose = () => sessions.forget(sessionId);
    try {
      await server.connect(transport);
    } catch (err) {
      // Nothing half-made is kept: the transport and the server the app built are closed.
      await transport.close().catch(() => {});
      await Promise.resolve(server.close()).catch(() => {});
      throw err;
    }
    sessions.add(session);
    let answer: Response;
    try {
      await eventStore?.openSession?.(sessionId, session.owner);
      answer = await handle(session, request, body, parsed);
    } catch (err) {
      // The broker is down, or the SDK failed: no half-open session (the error answers 500, or the broker's 503).
      await transport.close();
      throw err;
    }
    // An initialize the SDK refused leaves a session nobody can use.
    if (answer.status >= 400) await transport.close();
    return answer;
  };

  const handle = async (session: Session, request: Request, body: Uint8Array | undefined, parsed: unknown): Promise<Response> => {
    session.lastSeen = Date.now();
    const authInfo = options.authInfo?.(request);
    const web = await session.transport.handleRequest(toWebRequest(request, body), {
      ...(parsed === undefined ? {} : { parsedBody: parsed }),
      ...(authInfo === undefined ? {} : { authInfo }),
    });
    let streaming = false;
    const response = await fromWebResponse(web, () => {
      if (!streaming) return;
      streaming = false;
      session.openStreams--;
      session.lastSeen = Date.now();
    });
    if (response.body.kind === "sse") {
      streaming = true;
      session.openStreams++;
    }
    return response;
  };

  const endpoint = async (request: Request): Promise<Response> => {
    const refused = check(request);
    if (refused !== undefined) throw refused;
    const sessionId = request.getHeader("mcp-session-id");
    let body: Uint8Array | undefined;
    let parsed: unknown;
    if (request.method === "POST") {
      if (!/^application\/json\s*(;|$)/i.test(request.getHeader("content-type") ?? "")) {
        return jsonRpcError(415, -32000, "Unsupported Media Type: Content-Type must be application/json");
      }
      body = await request.body();
      try {
        parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
      } catch {
        return jsonRpcError(400, -32700, "Parse error: Invalid JSON");
      }
    }
    if (sessionId === undefined) {
      const initializing = request.method === "POST" && (Array.isArray(parsed) ? parsed.some(isInitializeRequest) : isInitializeRequest(parsed));
      if (initializing) return open(request, body!, parsed);
      return jsonRpcError(400, -32000, "Bad Request: Mcp-Session-Id header is required (or send an initialize request to open a session)");
    }
    const session = sessions.get(sessionId);
    if (session === undefined) {
      const lastEventId = request.getHeader("last-event-id");
      if (request.method === "GET" && lastEventId !== undefined && eventStore?.resumeElsewhere !== undefined) return resumeElsewhere(request, sessionId, lastEventId);
    }
    // 404 tells the client to start a new session (spec: Session Management).
    if (session === undefined || session.owner !== ownerOf(request)) return jsonRpcError(404, -32001, "Session not found");
    const lastEventId = request.method === "GET" ? request.getHeader("last-event-id") : undefined;
    // Checked here, not by the SDK (its getStreamIdForEventId): with that hook it refuses (409) a
    // resume while the old connection is registered, which after a drop the server may not have
    // noticed yet (a half-open socket); without it, the resume takes the stream over.
    if (lastEventId !== undefined && eventStore?.canResume !== undefined && !(await eventStore.canResume(session.id, lastEventId))) {
      return jsonRpcError(400, -32000, "Invalid event ID format");
    }
    return handle(session, request, body, parsed);
  };

  /** A stream of a session another instance holds, served from the event store (see remote-resume.ts). */
  const resumeElsewhere = async (request: Request, sessionId: string, lastEventId: string): Promise<Response> => {
    if (!(request.getHeader("accept") ?? "").includes("text/event-stream")) return jsonRpcError(406, -32000, "Not Acceptable: Client must accept text/event-stream");
    const resumed = await eventStore!.resumeElsewhere!(sessionId, ownerOf(request), lastEventId);
    if (resumed === "unknown") return jsonRpcError(404, -32001, "Session not found");
    if (resumed === "invalid") return jsonRpcError(400, -32000, "Invalid event ID format");
    return Response.sse(resumed, { headers: { "mcp-session-id": sessionId } });
  };

  const routeOptions: RouteOptions = options.route ?? {};
  app.post(path, endpoint, routeOptions);
  app.get(path, endpoint, routeOptions);
  app.delete(path, endpoint, routeOptions);
  app.onEvent("draining", () => sessions.closeAll());
  return {
    get sessions() {
      return sessions.size;
    },
    close: () => sessions.closeAll(),
  };
}

/** What {@link mountMcp} returns. */
export interface McpMount {
  /** Sessions open on this instance. */
  readonly sessions: number;
  /** Close every session (their streams end, their events are dropped). */
  close(): Promise<void>;
}

/** The default owner key: the principal's \`id\` (or \`sub\`), as resumable streams take it. */
function principalOwner(request: Request): string | undefined {
  const principal = request.principal as { id?: unknown; sub?: unknown } | undefined;
  if (principal === undefined || principal === null) return undefined;
  const key = principal.id ?? principal.sub;
  if (typeof key === "string" || typeof key === "number") return String(key);
  throw new CelloError("CELLO_INVALID_OPTION", "mountMcp: the principal has no string \`id\` or \`sub\`; pass an \`owner\` function");
}

/** An error in the JSON-RPC shape the SDK's transport answers with (`id: null`). */
function jsonRpcError(status: number, code: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status, headers });
}
