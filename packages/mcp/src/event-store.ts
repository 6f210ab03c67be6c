/**
 * Resumability for MCP streams on Cello.ts channels: every message the SDK's
 * transport sends on an SSE stream is published to a channel of the app's
 * broker (one per session and stream, with history), and a client that comes
 * back with `Last-Event-ID` gets what it missed from that history. With the
 * in-memory broker the history lives in the process; with `@cellojs/redis` it
 * lives in Redis Streams, outliving the instance that wrote it.
 */
import { createHash } from "node:crypto";
import { CelloError, type ChannelBroker, type SseEvent } from "@cellojs/core";
import type { EventStore } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { ChannelTail } from "./remote-resume.js";

/**
 * An event store that keeps each session's events apart. {@link mountMcp} asks it for
 * one SDK `EventStore` per session and drops the session's events when the session ends.
 * {@link channelEventStore} is the implementation; write your own only for another backend.
 */
export interface SessionEventStore {
  /** The SDK event store of one session: it stores and replays that session's events only. */
  forSession(sessionId: string): EventStore;
  /** Delete what was stored for a session (it was closed, deleted or timed out). */
  dropSession(sessionId: string): Promise<void>;
  /**
   * Optional: whether `lastEventId` names a point of one of this session's streams that the
   * store can still replay from. {@link mountMcp} asks before handing a resume to the SDK, and
   * answers 400 when it cannot; without it the SDK itself finds out, with a 500.
   */
  canResume?(sessionId: string, lastEventId: string): Promise<boolean>;
  /**
   * Optional: record that a session was opened, and by whom, where every instance sees it,
   * so that {@link SessionEventStore.resumeElsewhere} can serve its streams on another instance.
   */
  openSession?(sessionId: string, owner: string | undefined): Promise<void>;
  /**
   * Optional: a `GET` with `Last-Event-ID` for a session this instance does not hold. The
   * stream's events from the store (history, then live ones), `"unknown"` when no such session
   * of this owner is open anywhere (404), `"invalid"` for an id that cannot be resumed (400).
   */
  resumeElsewhere?(sessionId: string, owner: string | undefined, lastEventId: string): Promise<AsyncIterable<SseEvent> | "unknown" | "invalid">;
}

/** Options of {@link channelEventStore}. */
export interface ChannelEventStoreOptions {
  /** Events kept per stream (one stream per POST that streams, plus a session's GET stream). Default 1000. */
  history?: number;
  /**
   * How long a finished request stream (its response stored) can still be resumed, in ms; then
   * its events are deleted. As for resumable streams. Default 300000 (5 minutes). A session's
   * GET stream has no end: it keeps its last `history` events until the session ends.
   */
  ttlMs?: number;
  /**
   * Prefix of the broker channel names. Default `"\u001fcello.mcp:"` (channels `<prefix><session>:<stream>`):
   * the control character keeps them out of every request's reach, since channel names taken from
   * requests refuse control characters, as for resumable streams. A prefix a request could name
   * (`"mcp:"`) lets any route that subscribes to a requested channel name read a session's
   * messages to whoever holds its id.
   */
  prefix?: string;
}

// The SDK names streams with a UUID, or `_GET_stream` for a session's standalone stream;
// broker ids are "12" (memory) or "1718000000000-0" (Redis). The event id is both, so a
// resume finds its stream; anything else a client sends is no event of this store.
const EVENT_ID = /^([A-Za-z0-9_-]{1,64}):([0-9A-Za-z-]{1,64})$/;
const REPLAY_PAGE = 100;
/** The SDK's name for a session's standalone (GET) stream. */
const STANDALONE_STREAM = "_GET_stream";
/** A control character first: no channel name from a request can be one of these (see channels/access.ts in core). */
const DEFAULT_PREFIX = "\u001fcello.mcp:";

/**
 * An MCP event store on the channels of `broker` (usually `app.broker`: memory by
 * default, Redis with `@cellojs/redis`). Event ids are `<stream>:<broker id>`; a session
 * replays only its own channels, so an event id from another session finds nothing.
 * A `Last-Event-ID` that is malformed, of another session, or older than the history
 * is refused (the SDK answers 400) rather than replayed from a wrong place.
 * @param broker - Where events are kept (`app.broker`).
 * @param options - History bounds and channel prefix (see {@link ChannelEventStoreOptions}).
 * @example
 * import { channelEventStore, mountMcp } from "@cellojs/mcp";
 * mountMcp(app, "/mcp", { createServer, eventStore: channelEventStore(app.broker, { history: 500 }) });
 */
export function channelEventStore(broker: ChannelBroker, options: ChannelEventStoreOptions = {}): SessionEventStore {
  const history = options.history ?? 1000;
  const ttlMs = options.ttlMs ?? 300_000;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!Number.isInteger(history) || history < 1) throw new CelloError("CELLO_INVALID_OPTION", `channelEventStore: history must be a positive integer, got ${String(history)}`);
  if (!Number.isInteger(ttlMs) || ttlMs < 0) throw new CelloError("CELLO_INVALID_OPTION", `channelEventStore: ttlMs must be a non-negative integer, got ${String(ttlMs)}`);
  if (typeof prefix !== "string") throw new CelloError("CELLO_INVALID_OPTION", "channelEventStore: prefix must be a string");
  // The channels each session wrote to on this instance, so dropSession deletes exactly those.
  const channelsOf = new Map<string, Set<string>>();
  // Channels being replayed to a resuming client on this instance, and when that is over.
  const replaying = new Map<string, Promise<void>>();

  const recordOf = (sessionId: string) => `${prefix}${sessionId}`;
  // The owner key may be a principal as JSON: only its hash goes to the broker.
  const ownerHash = (owner: string | undefined) => (owner === undefined ? "" : createHash("sha256").update(owner).digest("base64url"));

  /** A request stream got its response: delete its events once `ttlMs` has passed. */
  const finished = (sessionId: string, channel: string) => {
    const timer = setTimeout(() => {
      channelsOf.get(sessionId)?.delete(channel);
      broker.delete?.(channel).catch(() => {});
    }, ttlMs);
    timer.unref();
  };

  const resumable = async (sessionId: string, lastEventId: string): Promise<boolean> => {
    const match = EVENT_ID.exec(lastEventId);
    if (match === null) return false;
    // An id the history no longer reaches (or never held) cannot be resumed without a gap.
    const probe = await broker.replay(`${prefix}${sessionId}:${match[1]!}`, match[2]!, { limit: 1 });
    return !probe.reset;
  };

  return {
    canResume: resumable,
    async openSession(sessionId, owner) {
      // Kept as long as the session: never trimmed by age.
      broker.configure(recordOf(sessionId), { history: 1, ttlMs: 0 });
      await broker.publish(recordOf(sessionId), { data: JSON.stringify({ owner: ownerHash(owner) }) });
    },
    async resumeElsewhere(sessionId, owner, lastEventId) {
      const record = await broker.replay(recordOf(sessionId), "", { limit: 1 });
      const opened = record.events[0];
      if (opened === undefined || (JSON.parse(opened.data) as { owner: string }).owner !== ownerHash(owner)) return "unknown";
      if (!(await resumable(sessionId, lastEventId))) return "invalid";
      const [, streamId, after] = EVENT_ID.exec(lastEventId) as unknown as [string, string, string];
      return new ChannelTail(broker, `${prefix}${sessionId}:${streamId}`, streamId, after);
    },
    forSession(sessionId) {
      const channelOf = (streamId: string) => `${prefix}${sessionId}:${streamId}`;
      const parse = (eventId: string) => {
        const match = EVENT_ID.exec(eventId);
        return match === null ? undefined : { streamId: match[1]!, channel: channelOf(match[1]!), after: match[2]! };
      };
      return {
        async storeEvent(streamId, message) {
          const channel = channelOf(streamId);
          let known = channelsOf.get(sessionId);
          if (known === undefined) channelsOf.set(sessionId, (known = new Set()));
          if (!known.has(channel)) {
            known.add(channel);
            broker.configure(channel, { history, ttlMs: 0 });
          }
          const id = await broker.publish(channel, { data: JSON.stringify(message) });
          if (streamId !== STANDALONE_STREAM && "id" in message && ("result" in message || "error" in message)) finished(sessionId, channel);
          // The SDK writes a stored message to the stream registered for it when this resolves. During
          // a replay the resumed stream is not registered yet, and the replay may have read past
          // this id already: hold the message until the SDK has registered the stream (it does so
          // in the microtasks after the replay), then it goes out live, or is skipped as replayed.
          const pending = replaying.get(channel);
          if (pending !== undefined) await pending;
          return `${streamId}:${id}`;
        },
        async replayEventsAfter(lastEventId, { send }) {
          const parsed = parse(lastEventId);
          if (parsed === undefined) throw new CelloError("CELLO_INVALID_OPTION", "Last-Event-ID is not an event of this session");
          let replayed!: () => void;
          const done = new Promise<void>((resolve) => (replayed = resolve));
          replaying.set(parsed.channel, done);
          try {
            let after = parsed.after;
            for (;;) {
              const page = await broker.replay(parsed.channel, after, { limit: REPLAY_PAGE });
              if (page.reset) throw new CelloError("CELLO_INVALID_OPTION", "Last-Event-ID is older than the stream's history");
              for (const event of page.events) {
                const message = JSON.parse(event.data) as Partial<JSONRPCMessage>;
                // The SDK stores an empty priming event ({}) to hand out a first id: nothing to resend.
                if (message.jsonrpc !== undefined) await send(`${parsed.streamId}:${event.id}`, message as JSONRPCMessage);
                after = event.id;
              }
              if (page.events.length < REPLAY_PAGE) return parsed.streamId;
            }
          } finally {
            // A macrotask later: the SDK registers the resumed stream in the microtasks after this returns.
            setImmediate(() => {
              if (replaying.get(parsed.channel) === done) replaying.delete(parsed.channel);
              replayed();
            });
          }
        },
      };
    },
    async dropSession(sessionId) {
      const channels = channelsOf.get(sessionId) ?? new Set();
      channelsOf.delete(sessionId);
      channels.add(recordOf(sessionId));
      if (broker.delete === undefined) return;
      await Promise.all([...channels].map((channel) => broker.delete!(channel)));
    },
  };
}
