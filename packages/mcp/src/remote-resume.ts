/**
 * A resumed stream served from the channel alone, on an instance that does not
 * hold the session: what the client missed from the history, then what the
 * session's own instance keeps publishing, live, until the stream's JSON-RPC
 * response went out. The SDK's transport cannot do it (its session lives in one
 * process's memory); the channel, in Redis, is the same on every instance.
 */
import { SseEvent, type ChannelBroker, type ChannelMessage } from "@cellojs/core";

const REPLAY_PAGE = 100;
/**
 * Most live events held for a client that reads slower than the session publishes: past it
 * they are dropped and the history read again from the last one sent (as core's resumable
 * stream reader does), so a stalled client holds a bounded amount on this instance.
 */
const MAX_LIVE = 1024;
/** The SDK's name for a session's standalone (GET) stream: it has no last message. */
const STANDALONE_STREAM = "_GET_stream";

/**
 * The events of `channel` after `after`, as SSE events with ids `<stream>:<id>`: the
 * history first, then live ones, with no gap and no duplicate (subscribed before the
 * history is read, live events up to the last replayed one dropped). A request stream
 * ends after its response; the standalone stream runs until the client leaves. Live events
 * wait in a queue of at most {@link MAX_LIVE}; past it the history is read again.
 */
export class ChannelTail implements AsyncIterable<SseEvent>, AsyncIterator<SseEvent> {
  readonly #broker: ChannelBroker;
  readonly #channel: string;
  readonly #streamId: string;
  #after: string;
  #live: ChannelMessage[] = [];
  #wake: (() => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  #replayed = false;
  #pending: ChannelMessage[] = [];
  #done = false;
  /** The live queue overflowed: nothing is queued until the history was read again. */
  #overflowed = false;

  constructor(broker: ChannelBroker, channel: string, streamId: string, after: string) {
    this.#broker = broker;
    this.#channel = channel;
    this.#streamId = streamId;
    this.#after = after;
    this.#unsubscribe = broker.subscribe(channel, (message) => {
      if (this.#overflowed) return;
      if (this.#live.length >= MAX_LIVE) {
        this.#live.length = 0;
        this.#overflowed = true;
      } else this.#live.push(message);
      this.#wake?.();
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<SseEvent>> {
    while (!this.#done) {
      const message = await this.#nextMessage();
      if (message === undefined) break;
      this.#after = message.id;
      const parsed = JSON.parse(message.data) as { jsonrpc?: string; id?: unknown; result?: unknown; error?: unknown };
      // The SDK's priming event ({}) holds a place in the ids and nothing to deliver.
      if (parsed.jsonrpc === undefined) continue;
      if (this.#streamId !== STANDALONE_STREAM && parsed.id !== undefined && ("result" in parsed || "error" in parsed)) this.#done = true;
      return { done: false, value: new SseEvent(message.data, { event: "message", id: `${this.#streamId}:${message.id}` }) };
    }
    return this.return();
  }

  async return(): Promise<IteratorResult<SseEvent>> {
    this.#done = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#wake?.();
    return { done: true, value: undefined };
  }

  /** The next message after `#after`: from the history until it is read to its end, then live. */
  async #nextMessage(): Promise<ChannelMessage | undefined> {
    if (this.#overflowed && this.#pending.length === 0) {
      // Live events were dropped: read them from the history, after the last one sent.
      this.#overflowed = false;
      this.#live.length = 0;
      this.#replayed = false;
    }
    while (this.#pending.length > 0 || !this.#replayed) {
      const next = this.#pending.shift();
      if (next !== undefined) return next;
      const page = await this.#broker.replay(this.#channel, this.#after, { limit: REPLAY_PAGE });
      // Trimmed while we read: what is gone cannot be resumed without a gap.
      if (page.reset) return undefined;
      this.#pending = page.events;
      if (page.events.length < REPLAY_PAGE) this.#replayed = true;
    }
    for (;;) {
      if (this.#done) return undefined;
      if (this.#overflowed) return this.#nextMessage();
      const live = this.#live.shift();
      if (live === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      // Already replayed (published while the history was read): skip it.
      if (this.#broker.compareIds(live.id, this.#after) > 0) return live;
    }
  }
}
