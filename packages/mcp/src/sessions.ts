/**
 * The MCP sessions of one mount: each an SDK transport and the server connected
 * to it, found by `Mcp-Session-Id`. It owns their lifetime: a session ends when
 * its client DELETEs it, when it sat idle past `idleMs` with no stream open, or
 * when the app shuts down; its stored events go with it.
 */
import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { SessionEventStore } from "./event-store.js";

/** What a session holds. */
export interface Session {
  readonly id: string;
  readonly transport: WebStandardStreamableHTTPServerTransport;
  /** Who opened it (the mount's `owner` key); later requests must come from the same one. */
  readonly owner: string | undefined;
  /** Closes the MCP server connected to the transport. */
  readonly closeServer: () => Promise<void>;
  lastSeen: number;
  openStreams: number;
}

/** The live sessions of one mount. */
export class SessionRegistry {
  readonly #sessions = new Map<string, Session>();
  readonly #eventStore: SessionEventStore | undefined;
  readonly #idleMs: number;
  readonly #onError: (err: unknown) => void;
  #sweep: NodeJS.Timeout | undefined;

  constructor(eventStore: SessionEventStore | undefined, idleMs: number, onError: (err: unknown) => void) {
    this.#eventStore = eventStore;
    this.#idleMs = idleMs;
    this.#onError = onError;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): Session | undefined {
    return this.#sessions.get(id);
  }

  add(session: Session): void {
    this.#sessions.set(session.id, session);
    if (this.#sweep === undefined && this.#idleMs > 0) {
      // Checked often enough that a session outlives its idle time by at most a fifth of it.
      this.#sweep = setInterval(() => this.#closeIdle(), Math.max(1000, Math.min(this.#idleMs / 5, 60_000)));
      this.#sweep.unref();
    }
  }

  /** The transport closed (DELETE, idle, shutdown): forget the session and its events. */
  forget(id: string): void {
    const session = this.#sessions.get(id);
    if (session === undefined) return;
    this.#sessions.delete(id);
    if (this.#sessions.size === 0 && this.#sweep !== undefined) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
    session.closeServer().catch(this.#onError);
    this.#eventStore?.dropSession(id).catch(this.#onError);
  }

  /** Close every session (the app is shutting down). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.values()].map((session) => session.transport.close().catch(this.#onError)));
  }

  #closeIdle(): void {
    const cutoff = Date.now() - this.#idleMs;
    for (const session of this.#sessions.values()) {
      if (session.openStreams === 0 && session.lastSeen < cutoff) session.transport.close().catch(this.#onError);
    }
  }
}
