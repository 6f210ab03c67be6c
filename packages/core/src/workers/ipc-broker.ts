/**
 * Channels across the workers of one machine: the cluster primary holds the
 * single in-memory broker and serves it over Node's IPC channel
 * ({@link serveBroker}); each worker's app talks to it through {@link ipcBroker}.
 *
 * Ordering: an IPC channel delivers messages in the order they were sent, and
 * the primary sends a subscriber's events from inside the memory broker's
 * `publish` (synchronously), before it answers any later request of that
 * worker. So a worker's `replay()`/`lastId()` answer arrives only after every
 * event it reports was delivered to that worker: the contract of `ChannelBroker`.
 */
import { CelloError } from "../errors.js";
import type { ChannelBroker, ChannelHistoryOptions, ChannelMessage, PublishedMessage } from "../channels/broker.js";

/** One end of an IPC channel: `process` in a child, a `ChildProcess` or cluster `Worker` in its parent. */
export interface IpcPort {
  /** False once the channel closed (the other process is gone). */
  readonly connected?: boolean;
  send(message: unknown, callback: (error: Error | null) => void): unknown;
  on(event: "message", listener: (message: unknown) => void): unknown;
  off(event: "message", listener: (message: unknown) => void): unknown;
}

/** Marks Cello's broker messages among whatever else the app sends over IPC. */
const TAG = "cello:broker";

type Request =
  | { op: "configure"; channel: string; options: ChannelHistoryOptions }
  | { op: "subscribe"; channel: string; sub: number }
  | { op: "unsubscribe"; sub: number }
  | { op: "close" }
  | { op: "publish"; r: number; channel: string; message: PublishedMessage }
  | { op: "replay"; r: number; channel: string; afterId: string; limit?: number }
  | { op: "lastId"; r: number; channel: string }
  | { op: "delete"; r: number; channel: string };

/** What a worker sends: a request of broker instance `b` (one per ipcBroker() call). */
type RequestMessage = Request & { tag: typeof TAG; b: string };

/** What the primary sends back: an event of subscription `sub`, or the answer to request `r`. */
type ReplyMessage = { tag: typeof TAG; b: string } & ({ t: "event"; sub: number; m: ChannelMessage } | { t: "reply"; r: number; value?: unknown; error?: string });

const isTagged = (message: unknown): message is { tag: string; b: string } =>
  typeof message === "object" && message !== null && (message as { tag?: unknown }).tag === TAG && typeof (message as { b?: unknown }).b === "string";

/** A send whose failure (the other end is gone) is reported, never thrown or emitted as an `error` event. */
function post(port: IpcPort, message: object, failed?: (error: Error) => void): void {
  try {
    port.send(message, (error) => {
      if (error) failed?.(error);
    });
  } catch (error) {
    failed?.(error as Error);
  }
}

/**
 * Messages to `port`, sent in order and batched per turn: what is posted in one
 * turn (a tick's ten events to one worker, say) goes out as one IPC message, so the
 * other end handles it in one turn too, and its SSE engine writes those events to
 * each client in one write, as in one process. Order is kept: one queue per port.
 */
function outbox(port: IpcPort): (message: object, failed?: (error: Error) => void) => void {
  let queue: object[] = [];
  let failures: Array<(error: Error) => void> = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const [batch, failed] = [queue, failures];
    queue = [];
    failures = [];
    post(port, batch.length === 1 ? batch[0]! : { tag: TAG, b: "", batch }, (error) => {
      for (const fail of failed) fail(error);
    });
  };
  return (message, failed) => {
    queue.push(message);
    if (failed) failures.push(failed);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flush);
    }
  };
}

/** Hand each message of a batch (or the one message) to `handle`. */
function unbatch(raw: unknown, handle: (message: unknown) => void): void {
  const batch = (raw as { batch?: unknown }).batch;
  if (Array.isArray(batch)) for (const message of batch) handle(message);
  else handle(raw);
}

/** This process's end of the IPC channel to its parent (a cluster worker's to its primary). */
export function parentPort(): IpcPort {
  return {
    get connected() {
      return process.connected === true;
    },
    send: (message, callback) => {
      if (!process.send) return callback(new Error("this process has no IPC channel to a parent"));
      process.send(message, callback);
    },
    on: (event, listener) => process.on(event, listener),
    off: (event, listener) => process.off(event, listener),
  };
}

let instances = 0;

/**
 * A broker that forwards every call to the broker {@link serveBroker} serves at
 * the other end of `port`. The default broker of an app in a worker that
 * `app.run({ workers })` started. Ids are the served broker's; `compareIds`
 * is the memory broker's (numeric), which is what the primary serves.
 */
export function ipcBroker(port: IpcPort): ChannelBroker {
  const b = `${process.pid}.${++instances}`;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  /** One subscription at the primary per channel, however many local subscribers. */
  const channels = new Map<string, { sub: number; listeners: Set<(message: ChannelMessage) => void> }>();
  const bySub = new Map<number, Set<(message: ChannelMessage) => void>>();
  let nextRequest = 0;
  let nextSub = 0;
  let closed = false;

  const gone = (cause?: Error) => new CelloError("CELLO_BROKER_UNAVAILABLE", "the cluster primary that holds the channels is unreachable", cause ? { cause } : undefined);
  const onMessage = (raw: unknown) => {
    if (isTagged(raw)) unbatch(raw, onReply);
  };
  const onReply = (raw: unknown) => {
    if (!isTagged(raw) || raw.b !== b) return;
    const message = raw as ReplyMessage;
    if (message.t === "event") {
      // A subscription this broker dropped (or replaced) may still have events in flight: they are not its.
      const listeners = bySub.get(message.sub);
      if (listeners) for (const listener of listeners) listener(message.m);
      return;
    }
    const waiting = pending.get(message.r);
    if (!waiting) return;
    pending.delete(message.r);
    if (message.error !== undefined) waiting.reject(new CelloError("CELLO_BROKER_UNAVAILABLE", `the cluster primary's broker failed: ${message.error}`));
    else waiting.resolve(message.value);
  };
  port.on("message", onMessage);
  const queue = outbox(port);
  const send = (request: Request, failed?: (error: Error) => void) => queue({ ...request, tag: TAG, b }, failed);
  const ask = <T>(request: Request & { r: number }): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (closed) return reject(gone());
      pending.set(request.r, { resolve: resolve as (value: unknown) => void, reject });
      send(request, (error) => {
        pending.delete(request.r);
        reject(gone(error));
      });
    });

  return {
    configure(channel, options) {
      send({ op: "configure", channel, options: { history: options.history, ttlMs: options.ttlMs } });
    },
    publish(channel, message) {
      // The audience (`to`) travels with the event: the primary's broker stores it and gives it back, live and on replay.
      const sent: PublishedMessage = { data: message.data };
      if (message.event !== undefined) sent.event = message.event;
      if (message.to !== undefined) sent.to = message.to;
      return ask<string>({ op: "publish", r: ++nextRequest, channel, message: sent });
    },
    async replay(channel, afterId, options = {}) {
      const request: Request & { r: number } = { op: "replay", r: ++nextRequest, channel, afterId };
      if (options.limit !== undefined) request.limit = options.limit;
      return ask({ ...request });
    },
    async lastId(channel) {
      const id = await ask<string | null>({ op: "lastId", r: ++nextRequest, channel });
      return id ?? undefined;
    },
    subscribe(channel, deliver) {
      let entry = channels.get(channel);
      if (!entry) {
        entry = { sub: ++nextSub, listeners: new Set() };
        channels.set(channel, entry);
        bySub.set(entry.sub, entry.listeners);
        send({ op: "subscribe", channel, sub: entry.sub });
      }
      const mine = entry;
      // A function of its own per call, so the same callback subscribed twice is two subscribers.
      const listener = (message: ChannelMessage) => deliver(message);
      mine.listeners.add(listener);
      return () => {
        if (!mine.listeners.delete(listener) || mine.listeners.size > 0) return;
        channels.delete(channel);
        bySub.delete(mine.sub);
        if (!closed) send({ op: "unsubscribe", sub: mine.sub });
      };
    },
    compareIds(a, b) {
      const parse = (id: string) => (/^\d+$/.test(id) ? Number(id) : Number.NaN);
      return parse(a) - parse(b);
    },
    async delete(channel) {
      await ask<null>({ op: "delete", r: ++nextRequest, channel });
    },
    status() {
      return { connected: !closed && port.connected !== false };
    },
    async close() {
      if (closed) return;
      closed = true;
      send({ op: "close" });
      for (const listeners of bySub.values()) listeners.clear();
      channels.clear();
      bySub.clear();
      port.off("message", onMessage);
      for (const waiting of pending.values()) waiting.reject(gone());
      pending.clear();
    },
  };
}

/**
 * Serve `broker` to the {@link ipcBroker}s at the other end of `port` (a
 * cluster worker). Returns a function that stops serving and drops that
 * worker's subscriptions (call it when the worker exits).
 */
export function serveBroker(broker: ChannelBroker, port: IpcPort): () => void {
  /** Subscriptions by broker instance, then by subscription number. */
  const subscriptions = new Map<string, Map<number, () => void>>();
  const send = outbox(port);
  const dropAll = (b: string) => {
    for (const stop of subscriptions.get(b)?.values() ?? []) stop();
    subscriptions.delete(b);
  };
  const reply = (b: string, r: number, work: Promise<unknown>) => {
    work.then(
      (value) => send({ tag: TAG, b, t: "reply", r, value: value ?? null }),
      (error: unknown) => send({ tag: TAG, b, t: "reply", r, error: error instanceof Error ? error.message : String(error) }),
    );
  };
  const onMessage = (raw: unknown) => {
    if (isTagged(raw)) unbatch(raw, onRequest);
  };
  const onRequest = (raw: unknown) => {
    if (!isTagged(raw)) return;
    const message = raw as RequestMessage;
    const { b } = message;
    switch (message.op) {
      case "configure":
        broker.configure(message.channel, message.options);
        return;
      case "subscribe": {
        let mine = subscriptions.get(b);
        if (!mine) subscriptions.set(b, (mine = new Map()));
        const sub = message.sub;
        mine.set(sub, broker.subscribe(message.channel, (m) => send({ tag: TAG, b, t: "event", sub, m })));
        return;
      }
      case "unsubscribe": {
        const mine = subscriptions.get(b);
        mine?.get(message.sub)?.();
        mine?.delete(message.sub);
        return;
      }
      case "close":
        dropAll(b);
        return;
      case "publish":
        return reply(b, message.r, broker.publish(message.channel, message.message));
      case "replay":
        return reply(b, message.r, broker.replay(message.channel, message.afterId, message.limit === undefined ? {} : { limit: message.limit }));
      case "lastId":
        return reply(b, message.r, broker.lastId(message.channel));
      case "delete":
        return reply(b, message.r, broker.delete ? broker.delete(message.channel) : Promise.resolve());
    }
  };
  port.on("message", onMessage);
  return () => {
    port.off("message", onMessage);
    for (const b of [...subscriptions.keys()]) dropAll(b);
  };
}
