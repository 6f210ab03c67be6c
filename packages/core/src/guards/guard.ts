/**
 * What a guard is: a function of the Request that lets it through to the
 * handler or refuses it, before any byte of the response (an SSE head included)
 * is written. Cello's `Guard`, as a plain function with optional metadata.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import type { Request } from "../request.js";

/**
 * Who a request is, once a guard authenticated it: `request.principal`. Empty
 * until your app says what it holds, by declaration merging (as Fastify types
 * its request decorations), so every handler, guard and channel reads it typed:
 *
 * @example
 * declare module "@cellojs/core" {
 *   interface Principal { id: string; roles?: string[]; permissions?: string[] }
 * }
 * app.get("/me", (req) => ({ id: req.principal?.id }), { guards: [Authenticated({ verify })] });
 */
export interface Principal {}

/**
 * What a guard returns. Allow: `true`, nothing, or an object, which may carry
 * the authenticated `principal` (set on `request.principal` before the next
 * guard runs) and the time the credential `expiresAt` (a `Date`, or ms since
 * the epoch: an SSE stream of the request then ends at that time, see
 * {@link Request.endStreamAt}). Refuse: `false` (403 `CELLO_FORBIDDEN`), or
 * throw an {@link HttpError} (401 `CELLO_UNAUTHORIZED` with `WWW-Authenticate`,
 * 403, or any status). Anything else (`null`, a string, a number) is a
 * programmer error: a logged 500, never a pass.
 */
export type GuardResult = boolean | void | { principal?: Principal; expiresAt?: number | Date };

/**
 * A route guard: gets the Request before the handler, may be async, allows or
 * refuses (see {@link GuardResult}). A guard that throws anything but an
 * HttpError is a 500 logged with its route; the next request is served as usual.
 *
 * @example
 * const weekdaysOnly: Guard = () => new Date().getDay() % 6 !== 0; // false: 403
 * app.get("/reports", handler, { guards: [weekdaysOnly] });
 */
export interface Guard {
  (request: Request): GuardResult | Promise<GuardResult>;
  /** How OpenAPI documents this guard (optional): the built-ins and combinators set it. */
  security?: GuardSecurity;
}

/**
 * How a guard appears in an OpenAPI document: the security schemes it uses
 * (`components.securitySchemes`) and its requirements, an OR-list of AND-maps
 * from a scheme's name to scopes (for schemes other than OAuth, role names).
 * `[{}]` is "no credential needed".
 * @example
 * { schemes: { bearer: { type: "http", scheme: "bearer" } }, requirements: [{ bearer: [] }] }
 */
export interface GuardSecurity {
  schemes: Record<string, Record<string, unknown>>;
  requirements: Array<Record<string, string[]>>;
}

/**
 * @internal Check a `guards` option where it is written (a route, a blueprint,
 * a controller, the app): an array of functions. Returns a copy, so a later push
 * to the caller's array does not change what was registered.
 */
export function checkGuards(guards: unknown, where: string): Guard[] {
  if (!Array.isArray(guards)) {
    throw new CelloError("CELLO_INVALID_OPTION", `${where}: guards must be an array of guard functions, e.g. { guards: [Authenticated({ verify })] }; got ${describeValue(guards)}`);
  }
  guards.forEach((guard, index) => {
    if (typeof guard !== "function") {
      throw new CelloError("CELLO_INVALID_OPTION", `${where}: guards[${index}] is ${describeValue(guard)}, not a guard function (request) => boolean | { principal, expiresAt }`);
    }
  });
  return [...guards] as Guard[];
}
