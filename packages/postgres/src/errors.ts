/**
 * What a failed broker call means to its caller: PostgreSQL unreachable
 * (nothing was sent), the connection lost mid-statement (it may have been
 * applied), or an answer from PostgreSQL itself (passed through unchanged).
 */
import { CelloError } from "@cellojs/core";

/**
 * A publish, replay, lastId or delete that PostgreSQL did not answer: a CelloError
 * with code `CELLO_BROKER_UNAVAILABLE` whose message names the database URL (password masked).
 *
 * @example
 * try {
 *   await stocks.publish(tick);
 * } catch (err) {
 *   if (err instanceof BrokerUnavailableError && !err.mayHaveApplied) retryLater(tick); // never sent: safe to retry
 *   else throw err;
 * }
 */
export class BrokerUnavailableError extends CelloError {
  /**
   * True when the statement may have reached PostgreSQL before the connection
   * failed: a publish may then have been stored. False when it was never sent
   * (no connection could be had). Retry a publish only after checking, or accept a duplicate.
   */
  readonly mayHaveApplied: boolean;

  /**
   * Made by the broker; a test may build one to stand in for an outage.
   * @param detail - what failed, e.g. `PostgreSQL at postgres://127.0.0.1:5432/test is unreachable (ECONNREFUSED)`
   * @param mayHaveApplied - see {@link BrokerUnavailableError.mayHaveApplied}
   * @param cause - the underlying error
   */
  constructor(detail: string, mayHaveApplied: boolean, cause: unknown) {
    super("CELLO_BROKER_UNAVAILABLE", detail, { cause });
    this.name = "BrokerUnavailableError";
    this.mayHaveApplied = mayHaveApplied;
  }
}

/**
 * True for an error that says the connection, not the statement, failed: no
 * SQLSTATE (a socket error, a timeout), or class 08 (connection exception),
 * 57 (operator intervention: shutdown, pg_terminate_backend) or 53 (too many connections).
 */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof CelloError) return false;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith("08") || code.startsWith("57") || code.startsWith("53");
}

/**
 * The error a caller sees for `err`: a CelloError or an answer from PostgreSQL
 * about the statement passes through; a connection failure becomes a
 * {@link BrokerUnavailableError} saying whether the statement may have applied.
 */
export function toBrokerError(err: unknown, what: string, safeUrl: string, sent: boolean): unknown {
  if (!isConnectionError(err)) return err;
  const reason = describe(err);
  if (!sent) return new BrokerUnavailableError(`PostgreSQL at ${safeUrl} is unreachable (${reason}); ${what} was not sent`, false, err);
  return new BrokerUnavailableError(`the connection to PostgreSQL at ${safeUrl} failed before it answered (${reason}); ${what} may or may not have been applied`, true, err);
}

/** `postgres://user:secret@host:5432/db` without the secret, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(unparsable PostgreSQL URL)";
  }
}

/** `ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432`, or the message alone. */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  // AggregateError (both 127.0.0.1 and ::1 refused) has an empty message.
  const message = err.message || (err instanceof AggregateError ? err.errors.map((e: Error) => e.message).join("; ") : "");
  return typeof code === "string" ? `${code}: ${message}` : message;
}

/** Exponential backoff with jitter: spreads the reconnects of many instances after one outage. */
export function backoff(attempt: number, minMs: number, maxMs: number): number {
  const target = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(target * (0.5 + 0.5 * Math.random()));
}
