/**
 * Subscription: one client's view of one or more channels. It replays what the
 * client missed, buffers live events that arrive meanwhile, then goes live,
 * dropping anything already sent (no gap, no duplicate).
 *
 * History is read a page at a time, and the next page is fetched only once the
 * client has taken the previous one (the sink is writable again): a resume far
 * back holds about a page in memory and goes as fast as the client reads. Live
 * events buffered meanwhile are bounded too: past LIVE_BUFFER_BYTES, those of
 * channels still being paged are dropped, and paging reads them from the
 * history instead (it does not stop before a page that had nothing dropped).
 *
 * What the client may see is decided in one place, {@link Subscription#send}, which
 * every event passes on its way out, live, buffered or replayed: an event
 * published with `to` goes out only when the subscriber's audience names one of
 * its tags, then the `filter` has its say. An event it skips still moves the
 * client's position past it (an id-only frame), so a resume neither reads it
 * again nor loses what follows.
 *
 * It knows its channels only as {@link ChannelPort}s: it reads their history
 * and joins and leaves them; who else is subscribed is the hubs' business.
 */
import { CelloError } from "../errors.js";
import { channels as diagnostics } from "../diagnostics.js";
import type { Logger } from "../logger.js";
import type { Request } from "../request.js";
import { Response } from "../response.js";
import type { SseOptions } from "../sse/options.js";
import { formatSseError, formatSseFrame, formatSseIdFrame } from "../sse/event.js";
import { kAttach, kDetach, type AttachableSource, type SseSink } from "../sse/source.js";
import type { ChannelMessage, ReplayResult } from "./broker.js";
import type { ChannelHub, ChannelMember } from "./hub.js";

/** Options of `channel.subscribe(request, options)`. */
export interface SubscribeOptions {
  /**
   * Send only the events for which this returns true. It runs after the
   * audience check (`to`/`audience`), live and on replay alike; an event it
   * refuses still moves the client's position past it.
   */
  filter?: (message: ChannelEvent) => boolean;
  /**
   * This subscriber's audience tags (`["user:1", "role:admin"]`): it sees the
   * events published with a `to` naming one of them, and every event without
   * `to`. Added to the tags of each channel's `audience` option. Default: none.
   * Derive them from what the request proved (its authenticated identity), never
   * from what it asks for: a tag taken from a query would let anyone read that audience.
   * Anything but an array of strings throws a CelloError `CELLO_INVALID_OPTION`.
   */
  audience?: readonly string[];
  /** Resume after this id instead of the request's `Last-Event-ID` / `?lastEventId=`. */
  lastEventId?: string;
}

/** A message as a subscriber's filter sees it: with the name of its channel. */
export type ChannelEvent = ChannelMessage & { channel: string };

/**
 * What a subscription may do with one of its channels, and nothing more: read
 * its history and join its live events. Each channel's hub is one.
 */
export interface ChannelPort {
  readonly name: string;
  /** The channel's own audience tags of `request` (`ChannelOptions.audience`), if it has the option. */
  audience(request: Request): readonly string[] | undefined;
  /** The app the channel belongs to, named in diagnostics messages. */
  readonly scope: object;
  /** At most `limit` events after `afterId`, oldest first, or a reset (`ChannelBroker.replay`'s contract). */
  replay(afterId: string, limit: number): Promise<ReplayResult>;
  /** The channel's newest id, or undefined when it has none. */
  lastId(): Promise<string | undefined>;
  /** Order two ids of this channel: negative, zero or positive. */
  compareIds(a: string, b: string): number;
  /** Start handing `member` the channel's live events (its onJoin callbacks run). */
  join(member: ChannelMember): void;
  /**
   * Stop them (onLeave runs); for a member that never joined (its response never
   * streamed), give up the hold its response had on the channel. Once per member.
   */
  leave(member: ChannelMember): void;
}

/** The `event: reset` payload: the client asked to resume from a point no longer held. */
export interface ResetPayload {
  channel: string;
  /** The id the client asked to resume after. */
  lastEventId: string;
  /** The earliest id still held, or null when the history is empty. */
  earliestId: string | null;
}

// Pages aim at this many bytes, and at most half the connection's bufferLimit: a
// page still draining when the channel goes live must leave room for live events.
// The first asks for FIRST_PAGE events, the next ones as many as fit at the average
// size seen so far (1 to MAX_PAGE).
const PAGE_BYTES = 256 * 1024;
const FIRST_PAGE = 16;
const MAX_PAGE = 1000;
const LIVE_BUFFER_BYTES = 1024 * 1024;

interface Pending {
  port: ChannelPort;
  message: ChannelEvent;
  frame: string;
  bytes: number;
}

/** @internal */
export class Subscription implements AttachableSource, ChannelMember {
  readonly request: Request;
  readonly #ports: readonly ChannelPort[];
  readonly #filter: SubscribeOptions["filter"];
  /** Per channel, the audience tags of this subscriber; none when it has no tag at all. */
  readonly #audiences: Map<ChannelPort, ReadonlySet<string>> | undefined;
  readonly #multi: boolean;
  /**
   * Set when the last event of a channel was skipped (not visible) and the client
   * was not told its position moved: the id (single channel) or "" (the composite
   * position, several). Paid with an id-only frame at the end of the batch.
   */
  #owed: string | undefined;
  /** True while a batch (a replay page, the buffered events going live) is sent: skips are paid once at its end. */
  #batching = false;
  /** Last id sent per channel (the composite position for multi-channel subscriptions). */
  // Created only when needed (several channels, or catching up): a plain live
  // subscriber is the common case and keeps no per-channel state.
  #positionMap: Map<string, string> | undefined;
  readonly #resumeFrom: Map<string, string> | undefined;
  #sink: SseSink | undefined;
  /** Live events held while catching up (undefined once live). */
  #buffer: Pending[] | undefined;
  #bufferBytes = 0;
  /** Channels whose history is still being paged: their buffered events may be dropped. */
  #paging: Set<string> | undefined;
  /** Per paged channel, the last id read from its history (buffered events up to it are duplicates). */
  #readUpTo: Map<string, string> | undefined;
  /** Paged channels that had buffered events dropped since their current page was requested. */
  #shed: Set<string> | undefined;
  /** Channels that went live while others still catch up: their events bypass the buffer. */
  #live: Set<string> | undefined;
  #closed = false;
  /** Where a failed catch-up is logged (a logger, not a closure: nothing of its own per subscriber). */
  readonly #logger: Logger;

  constructor(request: Request, ports: readonly ChannelPort[], options: SubscribeOptions, logger: Logger) {
    this.request = request;
    this.#logger = logger;
    this.#ports = ports;
    this.#filter = options.filter;
    this.#audiences = audiencesOf(request, ports, options.audience);
    this.#multi = ports.length > 1;
    // The query is parsed only when there is one: parsing keeps a URLSearchParams and an object per request.
    const lastEventId = options.lastEventId ?? request.getHeader("last-event-id") ?? (request.url.includes("?") ? request.query.lastEventId : undefined);
    this.#resumeFrom = lastEventId ? parsePosition(lastEventId, ports, this.#multi) : undefined;
  }

  #positions(): Map<string, string> {
    return (this.#positionMap ??= new Map());
  }

  [kAttach](sink: SseSink): void {
    this.#sink = sink;
    // Live events that arrive while we look up history wait here.
    const needsLookup = this.#resumeFrom !== undefined || this.#multi;
    if (needsLookup) this.#buffer = [];
    // With several channels, every id names each channel's position, so a channel
    // with nothing to replay starts at its head as it was before it delivers here:
    // every later event reaches this subscription, and no id claims one it has not
    // sent yet. (A head looked up after joining may already count events still
    // buffered, and an id sent before them would skip them on resume.)
    const heads = this.#multi ? this.#ports.map(headOf) : undefined;
    // Unused for channels that replay; a failure of one that is used ends the stream in #catchUp.
    for (const head of heads ?? []) head.catch(() => {});
    for (const port of this.#ports) port.join(this);
    if (needsLookup) void this.#catchUp(heads);
  }

  [kDetach](onError: (err: unknown) => void): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const port of this.#ports) {
      try {
        port.leave(this);
      } catch (err) {
        onError(err);
      }
    }
  }

  /** End this client's stream (a channel of it was deleted). The client reconnects as after any end. */
  end(): void {
    if (!this.#closed) this.#sink?.end("end");
  }

  /** A live event of the channel behind `port`. */
  deliver(port: ChannelPort, message: ChannelEvent, frame: string, bytes: number): void {
    if (this.#closed) return;
    if (this.#buffer && !this.#live?.has(port.name)) {
      this.#buffer.push({ port, message, frame, bytes });
      this.#bufferBytes += bytes;
      if (this.#bufferBytes > LIVE_BUFFER_BYTES && this.#paging !== undefined && this.#paging.size > 0) this.#shedPaged();
      return;
    }
    this.#send(port, message, frame, bytes);
  }

  /** Drop the buffered events of channels still being paged: paging reads them from the history. */
  #shedPaged(): void {
    const paging = this.#paging!;
    const kept: Pending[] = [];
    let bytes = 0;
    for (const pending of this.#buffer!) {
      if (paging.has(pending.port.name)) (this.#shed ??= new Set()).add(pending.port.name);
      else {
        kept.push(pending);
        bytes += pending.bytes;
      }
    }
    this.#buffer = kept;
    this.#bufferBytes = bytes;
  }

  /**
   * The one place an event leaves for this client, live, buffered or replayed, and
   * so the one visibility check: nothing reaches the sink as an event but through here.
   */
  #send(port: ChannelPort, message: ChannelEvent, frame: string | undefined, bytes: number | undefined): void {
    if (!this.#visible(port, message)) {
      this.#skip(port, message.id);
      return;
    }
    this.#owed = undefined;
    // Positions matter for composite ids and while catching up; a live single-channel
    // subscription (the fan-out hot path) needs none.
    if (this.#multi || this.#buffer !== undefined) this.#positions().set(port.name, message.id);
    const sink = this.#sink!;
    if (!this.#multi) {
      sink.send(frame ?? messageFrame(message), bytes);
      return;
    }
    // One id for several channels: every channel's position, so a reconnect resumes each of them.
    sink.send(messageFrame(message, formatPosition(this.#positions())));
  }

  /** Whether this client may see `message`: its audience first (`to`), then the filter. */
  #visible(port: ChannelPort, message: ChannelEvent): boolean {
    const to = message.to;
    if (to !== undefined && !sharesTag(to, this.#audiences?.get(port))) return false;
    return this.#filter === undefined || this.#filter(message);
  }

  /** An event this client may not see: its position moves past it all the same (now, or at the end of the batch). */
  #skip(port: ChannelPort, id: string): void {
    if (this.#multi || this.#buffer !== undefined) this.#positions().set(port.name, id);
    this.#owed = this.#multi ? "" : id;
    if (!this.#batching) this.#payPosition();
  }

  /** Tell the client its position moved past skipped events: an id-only frame, which dispatches no event. */
  #payPosition(): void {
    const owed = this.#owed;
    if (owed === undefined) return;
    this.#owed = undefined;
    this.#sink!.send(formatSseIdFrame(this.#multi ? formatPosition(this.#positions()) : owed));
  }

  /** Send a batch of events through {@link Subscription#send}, paying skipped positions once at its end. */
  #sendBatch(send: () => void): void {
    this.#batching = true;
    try {
      send();
    } finally {
      this.#batching = false;
    }
    this.#payPosition();
  }

  async #catchUp(heads: Array<Promise<string | undefined>> | undefined): Promise<void> {
    // Channels with no history to read (no resume point, or a reset): every buffered event (after the head) is new to the client.
    const liveOnly: string[] = [];
    const firstPages: Array<{ port: ChannelPort; events: ChannelMessage[] }> = [];
    try {
      // 1. Settle every channel's position before anything is sent, so that with several
      //    channels each composite id names all of them (a reconnect resumes each one).
      for (const [index, port] of this.#ports.entries()) {
        const from = this.#resumeFrom?.get(port.name);
        if (from !== undefined) {
          const replay = await port.replay(from, FIRST_PAGE);
          if (this.#closed) return;
          if (!replay.reset) {
            this.#positions().set(port.name, from);
            (this.#readUpTo ??= new Map()).set(port.name, from);
            (this.#paging ??= new Set()).add(port.name);
            firstPages.push({ port, events: replay.events });
            continue;
          }
          this.#sendReset(port.name, from, replay.earliestId);
        }
        liveOnly.push(port.name);
        if (this.#multi) {
          const head = await heads![index];
          if (this.#closed) return;
          // "" = before the first event: a channel that has none yet resumes from its start.
          this.#positions().set(port.name, head ?? "");
          // Buffered events up to the head came before this subscription (the reader of a remote broker may lag).
          if (head !== undefined) (this.#readUpTo ??= new Map()).set(port.name, head);
        }
      }
      // 2. Channels with nothing to replay go live: what they buffered, then straight through.
      this.#goLive(liveOnly);
      // 3. What the client missed, channel by channel, a page at a time; each channel then goes live.
      for (const { port, events } of firstPages) {
        if (!(await this.#pageThrough(port, events))) return;
      }
      // 4. Every channel is live: from now on events go straight to the client.
      this.#buffer = undefined;
      this.#bufferBytes = 0;
      this.#paging = this.#readUpTo = this.#shed = this.#live = undefined;
    } catch (err) {
      this.#buffer = undefined;
      this.#paging = this.#readUpTo = this.#shed = this.#live = undefined;
      this.#logger.error(`Channel replay failed for ${this.#ports.map((port) => port.name).join(", ")}`, err);
      const sink = this.#sink;
      if (sink && !this.#closed) {
        // Whatever the broker threw (it may name hosts), the client is told the history is unavailable.
        sink.send(formatSseError(new CelloError("CELLO_SERVICE_UNAVAILABLE")));
        sink.end("error");
      }
    }
  }

  /**
   * Send `events` (the first page of the history of `port`'s channel), then the
   * rest of it a page at a time, each once the client took the previous one; then
   * the channel goes live. False when the client left meanwhile.
   */
  async #pageThrough(port: ChannelPort, events: ChannelMessage[]): Promise<boolean> {
    const name = port.name;
    const readUpTo = this.#readUpTo!;
    const pageBytes = Math.max(1, Math.min(PAGE_BYTES, Math.floor(this.#sink!.bufferLimit / 2)));
    let limit = FIRST_PAGE;
    let replayed = 0;
    for (;;) {
      replayed += events.length;
      let sentBytes = 0;
      this.#sendBatch(() => {
        for (const message of events) {
          this.#send(port, { ...message, channel: name }, undefined, undefined);
          sentBytes += message.data.length + message.id.length + (message.event?.length ?? 0) + 16;
        }
      });
      if (events.length > 0) readUpTo.set(name, events[events.length - 1]!.id);
      // A short page reached the end of the history, unless live events were dropped while
      // it was fetched: those may be newer than its end, so read on.
      const dropped = this.#shed?.delete(name) === true;
      if (events.length < limit && !dropped) break;
      if (events.length > 0) limit = Math.min(MAX_PAGE, Math.max(1, Math.floor((pageBytes * events.length) / sentBytes)));
      await this.#sink!.writable();
      if (this.#closed) return false;
      // From here, a drop is of an event this request may not cover.
      this.#shed?.delete(name);
      const after = readUpTo.get(name)!;
      const page = await port.replay(after, limit);
      if (this.#closed) return false;
      if (page.reset) {
        // Trimmed while the client was reading: it missed what came after `after`.
        this.#sendReset(name, after, page.earliestId);
        break;
      }
      events = page.events;
    }
    this.#paging!.delete(name);
    this.#goLive([name]);
    if (diagnostics.channelReplay.hasSubscribers) diagnostics.channelReplay.publish({ app: port.scope, request: this.request, channel: name, events: replayed });
    return true;
  }

  /** Send the buffered events of `names` (minus those their history already gave), then let theirs through. */
  #goLive(names: string[]): void {
    if (names.length === 0) return;
    const going = new Set(names);
    const buffered = this.#buffer!;
    const kept: Pending[] = [];
    const due: Pending[] = [];
    let bytes = 0;
    for (const pending of buffered) {
      if (going.has(pending.port.name)) due.push(pending);
      else {
        kept.push(pending);
        bytes += pending.bytes;
      }
    }
    this.#buffer = kept;
    this.#bufferBytes = bytes;
    const live = (this.#live ??= new Set());
    for (const name of going) live.add(name);
    this.#sendBatch(() => {
      for (const pending of due) {
        const read = this.#readUpTo?.get(pending.port.name);
        if (read !== undefined && read !== "" && pending.port.compareIds(pending.message.id, read) <= 0) continue;
        this.#send(pending.port, pending.message, pending.frame, pending.bytes);
      }
    });
  }

  #sendReset(channel: string, lastEventId: string, earliestId: string | undefined): void {
    const payload: ResetPayload = { channel, lastEventId, earliestId: earliestId ?? null };
    this.#sink!.send(formatSseFrame(JSON.stringify(payload), { event: "reset" }));
    if (diagnostics.channelReset.hasSubscribers) diagnostics.channelReset.publish({ app: this.#ports[0]!.scope, request: this.request, channel });
  }
}

/**
 * @internal The frame of a channel message: its data and event type, under `id`
 * (its own id, or a multi-channel subscription's composite position). A hub frames
 * each live event with it once for all its members; a subscription, what it replays.
 */
export function messageFrame(message: ChannelMessage, id: string = message.id): string {
  return formatSseFrame(message.data, { id, event: message.event });
}

/** @internal Build the SSE response of a subscription to one or more channels, which it holds until it streams and leaves. */
export function subscribeResponse(request: Request, hubs: readonly ChannelHub[], options: SubscribeOptions & { sse?: SseOptions }, logger: Logger): Response {
  const subscription = new Subscription(request, hubs, options, logger);
  const response = Response.sse(subscription, options.sse ?? {});
  for (const hub of hubs) hub.reserve(subscription);
  return response;
}

/** Each channel's audience tags of `request`: its own option's, plus the subscription's. Undefined when there are none at all. */
function audiencesOf(request: Request, ports: readonly ChannelPort[], given: readonly string[] | undefined): Map<ChannelPort, ReadonlySet<string>> | undefined {
  if (given !== undefined) assertTags(given, "subscribe(): audience");
  let audiences: Map<ChannelPort, ReadonlySet<string>> | undefined;
  for (const port of ports) {
    const own = port.audience(request);
    if (own !== undefined) assertTags(own, `the audience option of channel ${JSON.stringify(port.name)}`);
    if (own === undefined && given === undefined) continue;
    (audiences ??= new Map()).set(port, new Set([...(own ?? []), ...(given ?? [])]));
  }
  return audiences;
}

/** Whether one of an event's `to` tags is one of the subscriber's (none: never). A loop, not `some()`: no closure per event. */
function sharesTag(to: readonly string[], tags: ReadonlySet<string> | undefined): boolean {
  if (tags === undefined) return false;
  for (const tag of to) if (tags.has(tag)) return true;
  return false;
}

function assertTags(tags: unknown, what: string): void {
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string")) throw new CelloError("CELLO_INVALID_OPTION", `${what} must be an array of audience tags (strings)`);
}

/** `port`'s newest id, asked now; a broker that throws instead of rejecting rejects here too. */
function headOf(port: ChannelPort): Promise<string | undefined> {
  try {
    return port.lastId();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** `stocks=12&news=4`: the position of a multi-channel subscription, as its SSE id. */
function formatPosition(positions: Map<string, string>): string {
  return new URLSearchParams([...positions]).toString();
}

function parsePosition(lastEventId: string, ports: readonly ChannelPort[], multi: boolean): Map<string, string> {
  if (!multi) return new Map([[ports[0]!.name, lastEventId]]);
  const position = new Map<string, string>();
  const names = new Set(ports.map((port) => port.name));
  for (const [name, id] of new URLSearchParams(lastEventId)) if (names.has(name)) position.set(name, id);
  return position;
}
