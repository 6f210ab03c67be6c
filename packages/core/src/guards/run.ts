/**
 * Running a route's guards: in order, each after the one before allowed (a
 * principal it attached is on the request for the next), stopping at the first
 * refusal. The pipeline runs them after routing, before the handler, so a
 * refusal is an ordinary error response and no SSE byte has gone out.
 */
import { describeValue } from "../describe.js";
import { CelloError, HttpError } from "../errors.js";
import { kPrincipal, type Request } from "../request.js";
import type { StreamEndOptions } from "../sse/deadline.js";
import type { Guard, GuardResult, Principal } from "./guard.js";

/** What an allowing guard said: whom it admitted, and until when. */
export interface Admission {
  principal: Principal | undefined;
  /** ms since the epoch; Infinity when the guard gave no expiry. */
  expiresAt: number;
}

/**
 * The last frame of a stream whose credential expired: an `event: reauthenticate`
 * (data `{"reason":"expired"}`) with `retry: 2000`, so a client that renews its
 * credential meanwhile (a refreshed cookie) reconnects and resumes on its own.
 */
export const REAUTHENTICATE: Readonly<StreamEndOptions> = Object.freeze({
  event: "reauthenticate",
  data: JSON.stringify({ reason: "expired" }),
  retry: 2000,
  reason: "expired",
});

/** True for a promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === "function";
}

/**
 * Read a guard's result: undefined when it allowed with nothing to say, an
 * {@link Admission} when it named a principal or an expiry. Throws the refusal:
 * `false` is a 403; an expiry already past is a 401; a value no guard should
 * return (null, a string, a bad time) is a CelloError, a logged 500.
 */
export function interpret(result: GuardResult): Admission | undefined {
  if (result === true || result === undefined) return undefined;
  if (result === false) throw HttpError.fromCode("CELLO_FORBIDDEN");
  if (typeof result !== "object" || result === null || Array.isArray(result)) {
    throw new CelloError("CELLO_INVALID_OPTION", `a guard returned ${describeValue(result)}: return true or nothing to allow, false to refuse (403), { principal, expiresAt } to allow as someone, or throw an HttpError`);
  }
  const { principal, expiresAt } = result;
  let at = Infinity;
  if (expiresAt !== undefined) {
    at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
    if (typeof at !== "number" || Number.isNaN(at)) {
      throw new CelloError("CELLO_INVALID_OPTION", `a guard returned expiresAt ${expiresAt instanceof Date ? "an invalid Date" : describeValue(expiresAt)}: give a Date or ms since the epoch`);
    }
    // A credential that has expired admits no one, whatever the guard concluded.
    if (at <= Date.now()) throw HttpError.fromCode("CELLO_UNAUTHORIZED", "credential expired");
  }
  if (principal === undefined && at === Infinity) return undefined;
  return { principal, expiresAt: at };
}

/** Record what a guard admitted on the request: its principal, and its expiry as the stream's deadline. */
export function admit(request: Request, admission: Admission | undefined): void {
  if (admission === undefined) return;
  if (admission.principal !== undefined) request[kPrincipal] = admission.principal;
  if (admission.expiresAt !== Infinity) request.endStreamAt(admission.expiresAt, REAUTHENTICATE);
}

/**
 * Run `guards` in order on `request`. Returns undefined when every guard
 * answered synchronously and allowed, a promise when one was async; throws (or
 * rejects with) the first refusal, or what a guard threw.
 */
export function runGuards(request: Request, guards: readonly Guard[], from = 0): void | Promise<void> {
  for (let i = from; i < guards.length; i++) {
    const result = guards[i]!(request);
    if (isThenable(result)) {
      return Promise.resolve(result).then((resolved) => {
        admit(request, interpret(resolved));
        return runGuards(request, guards, i + 1);
      });
    }
    admit(request, interpret(result));
  }
}
