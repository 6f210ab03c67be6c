/**
 * Content negotiation for a route that can answer in one way only (a stream-only
 * route): its `requireAccept` option. The check wraps the route's handler once, at
 * registration, so routes without the option pay nothing and the pipeline knows
 * nothing of it; it runs after the guards and before validation and the handler.
 */
import Negotiator from "negotiator";
import { describeValue } from "./describe.js";
import { CelloError, ERROR_CODES } from "./errors.js";
import { appendVary } from "./plugins/vary.js";
import type { Request } from "./request.js";
import { toResponse } from "./respond.js";
import { Response } from "./response.js";
import type { Handler } from "./routes.js";

/**
 * The body of a 406 (RFC 9457 problem details, `application/problem+json`).
 * @example
 * // { "type": "about:blank", "title": "Not Acceptable", "status": 406, "code": "CELLO_NOT_ACCEPTABLE",
 * //   "detail": "This route answers with text/event-stream; the request's Accept header admits none of it", "accept": ["text/event-stream"] }
 */
export interface NotAcceptableProblem {
  type: "about:blank";
  title: "Not Acceptable";
  status: 406;
  code: "CELLO_NOT_ACCEPTABLE";
  detail: string;
  /** The media types the route answers with. */
  accept: string[];
}

// type "/" subtype, each an RFC 9110 token; no parameters, no wildcards: what a route produces is concrete.
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/i;

/** Check a `requireAccept` option at registration: the media types, lower-cased. Throws `CELLO_INVALID_OPTION`. */
export function checkRequireAccept(value: unknown, where: string): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((type) => typeof type === "string" && MEDIA_TYPE.test(type) && !type.includes("*"))) {
    throw new CelloError(
      "CELLO_INVALID_OPTION",
      `${where}: requireAccept must be a media type or a non-empty array of them, each type/subtype without wildcards or parameters (e.g. "text/event-stream"), got ${describeValue(value)}`,
    );
  }
  return list.map((type) => type.toLowerCase());
}

/**
 * `handler`, answering 406 instead of running it when the request's `Accept` admits none
 * of `types`. `Accept` is read as RFC 9110 12.5.1 says (by the `negotiator` package):
 * wildcards (`*\/*`, `text/*`) admit, `q=0` excludes (the most specific range wins:
 * `*\/*, text/event-stream;q=0` refuses), and a request without `Accept` admits anything.
 * A header that parses to nothing admits nothing.
 */
export function requireAcceptable(handler: Handler, types: string[] | undefined): Handler {
  if (types === undefined) return handler;
  const detail = `This route answers with ${types.join(", ")}; the request's Accept header admits none of ${types.length === 1 ? "it" : "them"}`;
  return (request: Request) => {
    if (!acceptable(request.headers.accept, types)) return notAcceptable(detail, types);
    const result = handler(request);
    return result instanceof Promise ? result.then(varyOnAccept) : varyOnAccept(result);
  };
}

/** The answer depends on Accept (another would have been a 406): say so to caches. */
function varyOnAccept(value: unknown): Response {
  const response = toResponse(value);
  appendVary(response, "Accept");
  return response;
}

function acceptable(accept: string | undefined, types: string[]): boolean {
  // Without Accept the client takes anything (negotiator reads it as */*).
  if (accept === undefined) return true;
  return new Negotiator({ headers: { accept } }).mediaTypes(types).length > 0;
}

function notAcceptable(detail: string, types: string[]): Response {
  const { status, message } = ERROR_CODES.CELLO_NOT_ACCEPTABLE;
  const problem: NotAcceptableProblem = { type: "about:blank", title: message, status, code: "CELLO_NOT_ACCEPTABLE", detail, accept: types };
  // The answer depends on Accept: a cache must not serve it to a request with another.
  return Response.json(problem, { status, headers: { "Content-Type": "application/problem+json", Vary: "Accept" } });
}
