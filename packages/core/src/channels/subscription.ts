/**
 * Subscription: one client's view of one or more channels. It replays what the
 * client missed, buffers live events that arrive meanwhile, then goes live,
 * dropping anything already sent (no gap, no duplicate).
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
  #buffer: Pending[] | undefined;
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
    for (const channel of this.#channels) channel.addSubscriber(this);
    if (needsLookup) void this.#catchUp();
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
    if (this.#buffer) {
      this.#buffer.push({ channel, message, frame, bytes });
      return;
    }
    this.#send(channel, message, frame, bytes);
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

  async #catchUp(): Promise<void> {
    // Channels whose buffered events are all new to this client (no resume point, or a reset).
    const liveOnly = new Set<string>();
    const replays: Array<{ channel: Channel; from: string; events: ChannelMessage[] }> = [];
    try {
      // 1. Settle every channel's position before anything is sent, so that with several
      //    channels each composite id names all of them (a reconnect resumes each one).
      for (const channel of this.#channels) {
        const broker = channel.broker;
        const from = this.#resumeFrom?.get(channel.name);
        if (from !== undefined) {
          const replay = await broker.replay(channel.name, from);
          if (this.#closed) return;
          if (!replay.reset) {
            this.#positions().set(channel.name, from);
            replays.push({ channel, from, events: replay.events });
            continue;
          }
          const payload: ResetPayload = { channel: channel.name, lastEventId: from, earliestId: replay.earliestId ?? null };
          this.#sink!.send(formatSseFrame(JSON.stringify(payload), { event: "reset" }));
        }
        liveOnly.add(channel.name);
        if (this.#multi) {
          const head = await broker.lastId(channel.name);
          if (this.#closed) return;
          // "" = before the first event: a channel that has none yet resumes from its start.
          this.#positions().set(channel.name, head ?? "");
        }
      }
      // 2. What the client missed.
      for (const { channel, events } of replays) {
        for (const message of events) this.#send(channel, { ...message, channel: channel.name }, undefined, undefined);
      }
      // 3. Live events that arrived meanwhile, minus those the replay already sent.
      const buffered = this.#buffer ?? [];
      this.#buffer = undefined;
      this.#direct = !this.#multi && this.#filter === undefined;
      for (const pending of buffered) {
        const name = pending.channel.name;
        if (!liveOnly.has(name)) {
          const sent = this.#positions().get(name);
          if (sent !== undefined && sent !== "" && pending.channel.broker.compareIds(pending.message.id, sent) <= 0) continue;
        }
        this.#send(pending.channel, pending.message, pending.frame, pending.bytes);
      }
    } catch (err) {
      this.#buffer = undefined;
      this.#onError(err);
      const sink = this.#sink;
      if (sink && !this.#closed) {
        const { status, message } = ERROR_CODES.CELLO_SERVICE_UNAVAILABLE;
        sink.send(formatSseFrame(JSON.stringify({ error: message, status }), { event: "error" }));
        sink.end("error");
      }
    }
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
