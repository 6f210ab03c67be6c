/**
 * Authenticated: Cello's guard that lets through only an authenticated caller.
 * With `verify`, it authenticates the request itself from a bearer token (the
 * Authorization header, or a cookie or query parameter for browsers' EventSource,
 * which sends no headers) and attaches the principal; without, it checks that an
 * earlier guard did.
 */
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import type { Guard, GuardSecurity, Principal } from "./guard.js";
import { isThenable } from "./run.js";

/** What `verify` returns for a token it accepts: whom it names, and (optionally) when the token expires. */
export interface VerifiedCredential {
  /** Becomes `request.principal`. */
  principal: Principal;
  /** When the token expires (a Date, or ms since the epoch): a stream it opened ends then, with `event: reauthenticate`. */
  expiresAt?: number | Date;
}

/** Options of {@link Authenticated}. */
export interface AuthenticatedOptions {
  /**
   * Check a token; return whom it names (`{ principal, expiresAt? }`), or
   * undefined/null/false to refuse it (401). A `verify` that throws an
   * HttpError answers with that error; one that throws anything else refuses
   * the token (401): token libraries throw on bad tokens (jose's `jwtVerify`),
   * and a token the client chose must never become a 500. Throw
   * `new HttpError(503)` when the store you check against is down.
   * Without `verify`, the guard only checks that an earlier guard attached a principal.
   */
  verify?: (token: string, request: Request) => VerifiedCredential | undefined | null | false | PromiseLike<VerifiedCredential | undefined | null | false>;
  /** Also read the token from this cookie (a browser's EventSource sends cookies, not headers). Default: none. */
  cookie?: string;
  /** Also read the token from this query parameter. It ends up in access logs: prefer `cookie`. Default: none. */
  query?: string;
  /** The `realm` of the `WWW-Authenticate: Bearer` challenge. Default: none. */
  realm?: string;
  /** The security scheme's name in OpenAPI (`components.securitySchemes`). Default `"bearer"`. */
  scheme?: string;
  /** OpenAPI's `bearerFormat`, e.g. `"JWT"`. Default: none. */
  bearerFormat?: string;
  /** Longest token accepted, in characters; a longer one is refused (401) before `verify` sees it. Default 4096. */
  maxTokenLength?: number;
}

// RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
// RFC 9110 11.6.2 / 11.4: the scheme is case-insensitive, followed by one or more spaces.
const BEARER = /^bearer +/i;
// A realm goes inside a quoted-string: no quote, backslash or control character.
const QUOTABLE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

type Refusal = "missing" | "invalid" | "expired";

/**
 * A guard that admits only an authenticated caller (401 `CELLO_UNAUTHORIZED`
 * with `WWW-Authenticate: Bearer` otherwise). With `verify`, it reads a bearer
 * token (RFC 6750) from the `Authorization` header, else from `cookie`, else
 * from `query` (the first one present is the credential), checks its syntax
 * and length, asks `verify`, and attaches the principal to the request. A
 * missing token answers `WWW-Authenticate: Bearer` (with `realm`), a malformed,
 * unknown or expired one adds `error="invalid_token"`. An expiry from `verify`
 * ends the request's SSE stream at that time with `event: reauthenticate`.
 * Without `verify`, it admits a request to which an earlier guard attached a principal.
 *
 * @example
 * const auth = Authenticated({
 *   cookie: "token",
 *   verify: async (token) => {
 *     const session = await sessions.get(token);
 *     return session && { principal: session.user, expiresAt: session.expiresAt };
 *   },
 * });
 * app.get("/notifications", (req) => inbox.subscribe(req), { guards: [auth] });
 */
export function Authenticated(options: AuthenticatedOptions = {}): Guard {
  const { verify, cookie, query, realm, scheme = "bearer", bearerFormat, maxTokenLength = 4096 } = options;
  if (verify !== undefined && typeof verify !== "function") throw invalidOption("verify must be a function (token, request) => { principal, expiresAt }");
  if (realm !== undefined && (typeof realm !== "string" || !QUOTABLE.test(realm))) throw invalidOption("realm must be printable ASCII without quotes or backslashes");
  for (const [name, value] of [["cookie", cookie], ["query", query], ["scheme", scheme]] as const) {
    if (value !== undefined && (typeof value !== "string" || value === "")) throw invalidOption(`${name} must be a non-empty string`);
  }
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1) throw invalidOption("maxTokenLength must be a positive integer");

  const challenge = (refusal: Refusal): HttpError => {
    const params = [realm === undefined ? "" : `realm="${realm}"`, refusal === "missing" ? "" : 'error="invalid_token"'].filter(Boolean).join(", ");
    const detail = refusal === "missing" ? "missing credentials" : refusal === "expired" ? "token expired" : "invalid token";
    return HttpError.fromCode("CELLO_UNAUTHORIZED", detail, { headers: { "WWW-Authenticate": params ? `Bearer ${params}` : "Bearer" } });
  };

  const accept = (result: VerifiedCredential | undefined | null | false) => {
    if (typeof result !== "object" || result === null || result.principal === undefined || result.principal === null) throw challenge("invalid");
    const { principal, expiresAt } = result;
    if (expiresAt === undefined) return { principal };
    const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
    if (typeof at === "number" && at <= Date.now()) throw challenge("expired");
    return { principal, expiresAt };
  };
  const refuseUnlessHttp = (err: unknown): never => {
    throw err instanceof HttpError ? err : challenge("invalid");
  };

  const guard: Guard = (request) => {
    if (verify === undefined) {
      if (request.principal === undefined) throw challenge("missing");
      return true;
    }
    const token = credentialOf(request, cookie, query);
    if (token === undefined) throw challenge("missing");
    if (token.length > maxTokenLength || !B64TOKEN.test(token)) throw challenge("invalid");
    let result: ReturnType<NonNullable<AuthenticatedOptions["verify"]>>;
    try {
      result = verify(token, request);
    } catch (err) {
      return refuseUnlessHttp(err);
    }
    if (isThenable(result)) return Promise.resolve(result).then(accept, refuseUnlessHttp);
    return accept(result);
  };
  guard.security = securityOf(scheme, bearerFormat, cookie, query);
  return guard;
}

/** The token the request carries: `Authorization: Bearer`, else the cookie, else the query parameter. */
function credentialOf(request: Request, cookie: string | undefined, query: string | undefined): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined && BEARER.test(header)) return header.replace(BEARER, "").trimEnd();
  if (cookie !== undefined) {
    const value = cookieValue(request.headers.cookie, cookie);
    if (value !== undefined) return value;
  }
  if (query !== undefined) return request.query[query];
  return undefined;
}

/**
 * One cookie's value from a `Cookie` header (RFC 6265 5.4: `name=value` pairs
 * joined by `; `), percent-decoded; a value that does not decode is returned
 * as is (it then fails the token syntax check). Hand-written rather than a
 * dependency: core reads one name, and this is all of it. @internal
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}

function securityOf(scheme: string, bearerFormat: string | undefined, cookie: string | undefined, query: string | undefined): GuardSecurity {
  const schemes: GuardSecurity["schemes"] = { [scheme]: bearerFormat === undefined ? { type: "http", scheme: "bearer" } : { type: "http", scheme: "bearer", bearerFormat } };
  const requirements: GuardSecurity["requirements"] = [{ [scheme]: [] }];
  if (cookie !== undefined) {
    schemes[`${scheme}Cookie`] = { type: "apiKey", in: "cookie", name: cookie };
    requirements.push({ [`${scheme}Cookie`]: [] });
  }
  if (query !== undefined) {
    schemes[`${scheme}Query`] = { type: "apiKey", in: "query", name: query };
    requirements.push({ [`${scheme}Query`]: [] });
  }
  return { schemes, requirements };
}

function invalidOption(detail: string): CelloError {
  return new CelloError("CELLO_INVALID_OPTION", `Authenticated(): ${detail}`);
}
