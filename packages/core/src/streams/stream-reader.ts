/**
 * One client's read of a resumable stream: its history after a position, then
 * its live events, up to the `end` event, with no gap and no duplicate.
 *
 * It listens before it reads the history (the broker's ordering contract: a
 * replay resolves only once every event up to what it returns was delivered
 * live), so an event published in between is in one or the other, and the
 * live ones at or before the last id sent are dropped. Live events wait in a
 * queue while the client is slow; past MAX_QUEUED the queue is dropped and the
 * history read again from the last id sent, so a stalled client holds a
 * bounded amount here.
 */
import type { ChannelBroker, ChannelMessage } from "../channels/broker.js";
import { HttpError } from "../errors.js";
import { SseEvent } from "../sse/event.js";

/** The type of a resumable stream's final event. */
export const END_EVENT = "end";

/** The broker channels of one stream. */
export interface StreamNames {
  /** The events, ending with the `end` event. */
  data: string;
  /** The owner record, then the time the stream ended. */
  meta: string;
  /** Control messages to the producer's instance: `attach`, `detach`, `stop`. */
  ctl: string;
}

const PAGE = 256;
const MAX_QUEUED = 1024;

/**
 * The events of stream `streamId` after broker id `after` ("" for all) as SseEvents
 * whose ids are `<streamId>.<broker id>`. Ends after the `end` event, or when `signal`
 * aborts (the client left). `tell` hears when it starts and stops reading.
 */
export async function* readStream(
  broker: ChannelBroker,
  streamId: string,
  names: StreamNames,
  after: string,
  signal: AbortSignal,
  tell: (what: "attach" | "detach") => void,
): AsyncGenerator<SseEvent> {
  const queue: ChannelMessage[] = [];
  let overflowed = false;
  let wake: (() => void) | undefined;
  const onMessage = (message: ChannelMessage) => {
    // Once over, nothing is queued until the history was read again: a later event sent
    // before that read would move the position past the dropped ones.
    if (overflowed) return;
    if (queue.length >= MAX_QUEUED) {
      queue.length = 0;
      overflowed = true;
    } else queue.push(message);
    wake?.();
  };
  // A client gone while this waits for the producer: wake up and end (the engine's return() would wait for the next event).
  const onAbort = () => wake?.();
  signal.addEventListener("abort", onAbort, { once: true });
  const unsubscribe = broker.subscribe(names.data, onMessage);
  tell("attach");
  const frame = (message: ChannelMessage) => new SseEvent(message.data, message.event === undefined ? { id: `${streamId}.${message.id}` } : { id: `${streamId}.${message.id}`, event: message.event });
  try {
    let last = after;
    let catchUp = true;
    while (!signal.aborted) {
      if (catchUp) {
        catchUp = false;
        overflowed = false;
        queue.length = 0;
        for (;;) {
          const page = await broker.replay(names.data, last, { limit: PAGE });
          // Events after `last` (or, from the start, the first ones) were trimmed (a stream longer than its
          // history): the client cannot have them all. The broker answers a reset with no events.
          if (page.reset) throw HttpError.fromCode("CELLO_STREAM_GONE");
          for (const message of page.events) {
            yield frame(message);
            last = message.id;
            if (message.event === END_EVENT) return;
          }
          if (page.events.length < PAGE || signal.aborted) break;
        }
      }
      while (queue.length > 0 && !overflowed && !signal.aborted) {
        const message = queue.shift()!;
        if (last !== "" && broker.compareIds(message.id, last) <= 0) continue;
        yield frame(message);
        last = message.id;
        if (message.event === END_EVENT) return;
      }
      if (overflowed) {
        catchUp = true;
        continue;
      }
      if (queue.length === 0 && !signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    unsubscribe();
    tell("detach");
  }
}
