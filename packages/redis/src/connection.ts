/**
 * The two Redis connections of a broker and what their failures mean to a
 * caller. ioredis is set up to fail fast instead of queueing: a publish that
 * cannot reach Redis rejects at once, and a command whose connection dies
 * before the reply rejects at the close instead of being sent again.
 */
import { CelloError, type Logger } from "@cellojs/core";
import { Redis, ReplyError, type RedisOptions } from "ioredis";

/**
 * A publish, replay or lastId that got no answer from Redis: a CelloError with
 * code `CELLO_BROKER_UNAVAILABLE` whose message names the Redis URL (password masked).
 *
 * @example
 * try {
 *   await stocks.publish(tick);
 * } catch (err) {
 *   if (err instanceof BrokerUnavailableError && !err.mayHaveApplied) retryLater(tick); // never stored: safe to retry
 *   else throw err;
 * }
 */
export class BrokerUnavailableError extends CelloError {
  /**
   * True when the command may have reached Redis before the connection failed
   * (lost or timed-out reply): a publish may then have been stored. False when
   * it was never sent. Retry a publish only after checking, or accept a duplicate.
   */
  readonly mayHaveApplied: boolean;

  /**
   * Made by the broker; a test may build one to stand in for an outage.
   * (Not tagged internal: a stripped constructor would leave CelloError's, which takes a code.)
   * @param detail - what failed, e.g. `Redis at redis://127.0.0.1:6379 did not answer within 2000 ms`
   * @param mayHaveApplied - see {@link BrokerUnavailableError.mayHaveApplied}
   * @param cause - the underlying error
   */
  constructor(detail: string, mayHaveApplied: boolean, cause: unknown) {
    super("CELLO_BROKER_UNAVAILABLE", detail, { cause });
    this.name = "BrokerUnavailableError";
    this.mayHaveApplied = mayHaveApplied;
  }
}

/** The connection settings both connections share. */
export interface ConnectionSettings {
  url: string;
  /** The URL without its password, for messages. */
  safeUrl: string;
  commandTimeoutMs: number;
  blockMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  extra: RedisOptions;
  logger: Logger;
}

/** The last connection error of each connection, for the message of a failed command. */
const lastErrors = new WeakMap<Redis, string>();

/** Why the connection is down, e.g. `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6379`, if it has failed. */
export function lastConnectionError(connection: Redis): string | undefined {
  return lastErrors.get(connection);
}

// ioredis's own messages for a command that was never written to a socket.
const NOT_SENT = [/isn't writeable/i, /Connection is closed/i];

/** A command given up on while waiting for a connection: it was never sent. */
class NotConnectedError extends Error {
  constructor(waitedMs: number) {
    super(`no connection within ${waitedMs} ms`);
  }
}

/**
 * Send a command now if the connection is up, else wait for it to come back for
 * at most `waitMs` and send it then, or reject without ever sending it. This is
 * a short, bounded offline queue of our own: unlike ioredis's, a command it
 * rejects can never reach Redis later. A command sent at once is written in call
 * order, which the reader's starting point relies on.
 */
export function sendWhenConnected<T>(connection: Redis, waitMs: number, send: () => Promise<T>): Promise<T> {
  if (connection.status === "ready") return send();
  if (connection.status === "end") return send(); // rejects with ioredis's "Connection is closed"
  let waiters = pending.get(connection);
  if (!waiters) {
    const queue: Array<() => void> = [];
    waiters = queue;
    pending.set(connection, queue);
    // One listener per connection, however many commands wait: they go in call order.
    const flush = () => {
      for (const waiter of queue.splice(0)) waiter();
    };
    connection.on("ready", flush);
    connection.on("end", flush);
  }
  const queue = waiters;
  return new Promise<T>((resolve, reject) => {
    const waiter = () => {
      clearTimeout(timer);
      send().then(resolve, reject);
    };
    const timer = setTimeout(() => {
      const index = queue.indexOf(waiter);
      if (index >= 0) queue.splice(index, 1);
      reject(new NotConnectedError(waitMs));
    }, waitMs);
    queue.push(waiter);
  });
}

const pending = new WeakMap<Redis, Array<() => void>>();

/**
 * Open one connection. `role` names it in `CLIENT LIST` and in log lines.
 * Returns the client; it connects (and reconnects, with backoff) by itself.
 */
export function openConnection(role: "reader" | "publisher", name: string, settings: ConnectionSettings): Redis {
  const options: RedisOptions = {
    ...settings.extra,
    connectionName: name,
    // A command issued while disconnected rejects now rather than waiting in a
    // queue for a Redis that may not come back: the caller decides what to do.
    enableOfflineQueue: false,
    // A command in flight when its connection closes rejects at the close (0 retries),
    // and is never sent again on the next connection: an XADD written twice is a duplicate event.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => backoff(attempt, settings.backoffMinMs, settings.backoffMaxMs),
    // The reader's XREAD answers at least every blockMs, so a longer silence is a dead socket.
    socketTimeout: role === "reader" ? settings.blockMs + settings.commandTimeoutMs : 2 * settings.commandTimeoutMs,
    ...(role === "publisher" ? { commandTimeout: settings.commandTimeoutMs } : {}),
  };
  const connection = new Redis(settings.url, options);
  let down = false;
  connection.on("error", (err: Error) => lastErrors.set(connection, describe(err)));
  connection.on("ready", () => lastErrors.delete(connection));
  // ioredis prints "Unhandled error event" for every failed attempt without a listener:
  // report an outage once when it starts and once when it ends instead.
  connection.on("error", (err: Error) => {
    if (down) return;
    down = true;
    settings.logger.warn(`@cellojs/redis: the ${role} connection to ${settings.safeUrl} failed (${describe(err)}); reconnecting with backoff`);
  });
  connection.on("close", () => {
    if (down) return;
    down = true;
    settings.logger.warn(`@cellojs/redis: the ${role} connection to ${settings.safeUrl} closed; reconnecting with backoff`);
  });
  connection.on("ready", () => {
    if (!down) return;
    down = false;
    settings.logger.info(`@cellojs/redis: the ${role} connection to ${settings.safeUrl} is back`);
  });
  return connection;
}

/**
 * Translate a failed command into the error a caller sees. Answers from Redis
 * itself (WRONGTYPE, OOM...) pass through unchanged: Redis is there.
 */
export function toBrokerError(err: unknown, what: string, settings: ConnectionSettings, connection: Redis): unknown {
  if (err instanceof ReplyError || err instanceof BrokerUnavailableError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof NotConnectedError || NOT_SENT.some((pattern) => pattern.test(message))) {
    const reason = lastErrors.get(connection);
    return new BrokerUnavailableError(`Redis at ${settings.safeUrl} is unreachable${reason ? ` (${reason})` : ""}; ${what} was not sent`, false, err);
  }
  if (/timed out/i.test(message)) {
    return new BrokerUnavailableError(`Redis at ${settings.safeUrl} did not answer within ${settings.commandTimeoutMs} ms; ${what} may or may not have been applied`, true, err);
  }
  return new BrokerUnavailableError(`the connection to Redis at ${settings.safeUrl} was lost before it answered (${message}); ${what} may or may not have been applied`, true, err);
}

/** Exponential backoff with jitter: spreads the reconnects of many instances after one outage. */
export function backoff(attempt: number, minMs: number, maxMs: number): number {
  const target = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(target * (0.5 + 0.5 * Math.random()));
}

/** `redis://user:secret@host:6379/0` without the secret, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(unparsable Redis URL)";
  }
}

function describe(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? `${code}: ${err.message}` : err.message;
}
