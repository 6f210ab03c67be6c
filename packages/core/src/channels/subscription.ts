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
 */
import { ERROR_CODES } from "../errors.js";
import type { Request } from "../request.js";
import { formatSseFrame } from "../sse/event.js";
import { kAttach, kDetach, type AttachableSource, type SseSink } from "../sse/source.js";
import type { ChannelMessage } from "./broker.js";
import type { Channel } from "./channel.js";

/** Options of `channel.subscribe(request, options)`. */
export interface SubscribeOptions {
  /** Send only the events for which this returns true (e.g. per-user filtering). */
  filter?: (message: ChannelEvent) => boolean;
  /** Resume after this id instead of the request's `Last-Event-ID` / `?lastEventId=`. */
  lastEventId?: string;
}

/** A message as a subscriber's filter sees it: with the name of its channel. */
export type ChannelEvent = ChannelMessage & { channel: string };

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
  channel: Channel;
  message: ChannelEvent;
  frame: string;
  bytes: number;
}

/** @internal */
export class Subscription implements AttachableSource {
  readonly request: Request;
  readonly #channels: readonly Channel[];
  readonly #filter: SubscribeOptions["filter"];
  readonly #multi: boolean;
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
  /** True once live frames can go straight to the sink. */
  #direct = false;
  #closed = false;
  readonly #onError: (err: unknown) => void;

  constructor(request: Request, channels: readonly Channel[], options: SubscribeOptions, onError: (err: unknown) => void) {
    this.request = request;
    this.#onError = onError;
    this.#channels = channels;
    this.#filter = options.filter;
    this.#multi = channels.length > 1;
    const lastEventId = options.lastEventId ?? request.getHeader("last-event-id") ?? request.query.lastEventId;
    this.#resumeFrom = lastEventId ? parsePosition(lastEventId, channels, this.#multi) : undefined;
  }

  #positions(): Map<string, string> {
    return (this.#positionMap ??= new Map());
  }

  [kAttach](sink: SseSink): void {
    this.#sink = sink;
    // Live events that arrive while we look up history wait here.
    const needsLookup = this.#resumeFrom !== undefined || this.#multi;
    if (needsLookup) this.#buffer = [];
    this.#direct = !needsLookup && !this.#multi && this.#filter === undefined;
    // With several channels, every id names each channel's position, so a channel
    // with nothing to replay starts at its head as it was before it delivers here:
    // every later event reaches this subscription, and no id claims one it has not
    // sent yet. (A head looked up after subscribing may already count events still
    // buffered, and an id sent before them would skip them on resume.)
    const heads = this.#multi ? this.#channels.map(headOf) : undefined;
    // Unused for channels that replay; a failure of one that is used ends the stream in #catchUp.
    for (const head of heads ?? []) head.catch(() => {});
    for (const channel of this.#channels) channel.addSubscriber(this);
    if (needsLookup) void this.#catchUp(heads);
  }

  [kDetach](onError: (err: unknown) => void): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#channels) {
      try {
        channel.removeSubscriber(this);
      } catch (err) {
        onError(err);
      }
    }
  }

  /** @internal End this client's stream (a channel of it was deleted). The client reconnects as after any end. */
  end(): void {
    if (!this.#closed) this.#sink?.end("end");
  }

  /** @internal A live event from `channel`. */
  deliver(channel: Channel, message: ChannelEvent, frame: string, bytes: number): void {
    if (this.#closed) return;
    if (this.#direct) {
      // The fan-out hot path: one channel, no filter, not catching up.
      this.#sink!.send(frame, bytes);
      return;
    }
    if (this.#buffer && !this.#live?.has(channel.name)) {
      this.#buffer.push({ channel, message, frame, bytes });
      this.#bufferBytes += bytes;
      if (this.#bufferBytes > LIVE_BUFFER_BYTES && this.#paging !== undefined && this.#paging.size > 0) this.#shedPaged();
      return;
    }
    this.#send(channel, message, frame, bytes);
  }

  /** Drop the buffered events of channels still being paged: paging reads them from the history. */
  #shedPaged(): void {
    const paging = this.#paging!;
    const kept: Pending[] = [];
    let bytes = 0;
    for (const pending of this.#buffer!) {
      if (paging.has(pending.channel.name)) (this.#shed ??= new Set()).add(pending.channel.name);
      else {
        kept.push(pending);
        bytes += pending.bytes;
      }
    }
    this.#buffer = kept;
    this.#bufferBytes = bytes;
  }

  #send(channel: Channel, message: ChannelEvent, frame: string | undefined, bytes: number | undefined): void {
    if (this.#filter && !this.#filter(message)) return;
    // Positions matter for composite ids and while catching up; a live single-channel
    // subscription (the fan-out hot path) needs none.
    if (this.#multi || this.#buffer !== undefined) this.#positions().set(channel.name, message.id);
    const sink = this.#sink!;
    if (!this.#multi) {
      sink.send(frame ?? frameOf(message, message.id), bytes);
      return;
    }
    // One id for several channels: every channel's position, so a reconnect resumes each of them.
    sink.send(frameOf(message, formatPosition(this.#positions())));
  }

  async #catchUp(heads: Array<Promise<string | undefined>> | undefined): Promise<void> {
    // Channels with no history to read (no resume point, or a reset): every buffered event (after the head) is new to the client.
    const liveOnly: string[] = [];
    const firstPages: Array<{ channel: Channel; events: ChannelMessage[] }> = [];
    try {
      // 1. Settle every channel's position before anything is sent, so that with several
      //    channels each composite id names all of them (a reconnect resumes each one).
      for (const [index, channel] of this.#channels.entries()) {
        const broker = channel.broker;
        const from = this.#resumeFrom?.get(channel.name);
        if (from !== undefined) {
          const replay = await broker.replay(channel.name, from, { limit: FIRST_PAGE });
          if (this.#closed) return;
          if (!replay.reset) {
            this.#positions().set(channel.name, from);
            (this.#readUpTo ??= new Map()).set(channel.name, from);
            (this.#paging ??= new Set()).add(channel.name);
            firstPages.push({ channel, events: replay.events });
            continue;
          }
          this.#sendReset(channel.name, from, replay.earliestId);
        }
        liveOnly.push(channel.name);
        if (this.#multi) {
          const head = await heads![index];
          if (this.#closed) return;
          // "" = before the first event: a channel that has none yet resumes from its start.
          this.#positions().set(channel.name, head ?? "");
          // Buffered events up to the head came before this subscription (the reader of a remote broker may lag).
          if (head !== undefined) (this.#readUpTo ??= new Map()).set(channel.name, head);
        }
      }
      // 2. Channels with nothing to replay go live: what they buffered, then straight through.
      this.#goLive(liveOnly);
      // 3. What the client missed, channel by channel, a page at a time; each channel then goes live.
      for (const { channel, events } of firstPages) {
        if (!(await this.#pageThrough(channel, events))) return;
      }
      // 4. Every channel is live: from now on events go straight to the client.
      this.#buffer = undefined;
      this.#bufferBytes = 0;
      this.#paging = this.#readUpTo = this.#shed = this.#live = undefined;
      this.#direct = !this.#multi && this.#filter === undefined;
    } catch (err) {
      this.#buffer = undefined;
      this.#paging = this.#readUpTo = this.#shed = this.#live = undefined;
      this.#onError(err);
      const sink = this.#sink;
      if (sink && !this.#closed) {
        const { status, message } = ERROR_CODES.CELLO_SERVICE_UNAVAILABLE;
        sink.send(formatSseFrame(JSON.stringify({ error: message, status }), { event: "error" }));
        sink.end("error");
      }
    }
  }

  /**
   * Send `events` (the first page of `channel`'s history), then the rest of it a
   * page at a time, each once the client took the previous one; then the channel
   * goes live. False when the client left meanwhile.
   */
  async #pageThrough(channel: Channel, events: ChannelMessage[]): Promise<boolean> {
    const name = channel.name;
    const readUpTo = this.#readUpTo!;
    const pageBytes = Math.max(1, Math.min(PAGE_BYTES, Math.floor(this.#sink!.bufferLimit / 2)));
    let limit = FIRST_PAGE;
    for (;;) {
      let sentBytes = 0;
      for (const message of events) {
        this.#send(channel, { ...message, channel: name }, undefined, undefined);
        sentBytes += message.data.length + message.id.length + (message.event?.length ?? 0) + 16;
      }
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
      const page = await channel.broker.replay(name, after, { limit });
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
      if (going.has(pending.channel.name)) due.push(pending);
      else {
        kept.push(pending);
        bytes += pending.bytes;
      }
    }
    this.#buffer = kept;
    this.#bufferBytes = bytes;
    const live = (this.#live ??= new Set());
    for (const name of going) live.add(name);
    for (const pending of due) {
      const read = this.#readUpTo?.get(pending.channel.name);
      if (read !== undefined && read !== "" && pending.channel.broker.compareIds(pending.message.id, read) <= 0) continue;
      this.#send(pending.channel, pending.message, pending.frame, pending.bytes);
    }
  }

  #sendReset(channel: string, lastEventId: string, earliestId: string | undefined): void {
    const payload: ResetPayload = { channel, lastEventId, earliestId: earliestId ?? null };
    this.#sink!.send(formatSseFrame(JSON.stringify(payload), { event: "reset" }));
  }
}

/** `channel`'s newest id, asked now; a broker that throws instead of rejecting rejects here too. */
function headOf(channel: Channel): Promise<string | undefined> {
  try {
    return channel.broker.lastId(channel.name);
  } catch (err) {
    return Promise.reject(err);
  }
}

function frameOf(message: ChannelMessage, id: string): string {
  return formatSseFrame(message.data, message.event === undefined ? { id } : { id, event: message.event });
}

/** `stocks=12&news=4`: the position of a multi-channel subscription, as its SSE id. */
function formatPosition(positions: Map<string, string>): string {
  return new URLSearchParams([...positions]).toString();
}

function parsePosition(lastEventId: string, channels: readonly Channel[], multi: boolean): Map<string, string> {
  if (!multi) return new Map([[channels[0]!.name, lastEventId]]);
  const position = new Map<string, string>();
  const names = new Set(channels.map((c) => c.name));
  for (const [name, id] of new URLSearchParams(lastEventId)) if (names.has(name)) position.set(name, id);
  return position;
}
