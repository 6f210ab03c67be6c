/**
 * CORS plugin (`app.enableCors()`), built on the public hook API only:
 * an onRequest hook answers preflights, an onResponse hook adds the headers
 * to every response, SSE streams included.
 */
import type { Plugin } from "../app.js";
import { CelloError, assertHeaderSafe } from "../errors.js";
import type { Request } from "../request.js";
import { Response } from "../response.js";
import { appendVary } from "./vary.js";

/** Options of `app.enableCors(options)`. */
export interface CorsOptions {
  /**
   * Which origins may read responses: `"*"` (default: any, without credentials), a
   * list of exact origins (`"https://app.example.com"`: scheme, host and port only), a
   * RegExp that must match the whole origin, or a function. An accepted origin is echoed
   * with `Vary: Origin`; any other origin gets no CORS headers (still with `Vary: Origin`).
   * The `null` origin (sandboxed frames, `file:` pages, some redirects) is never accepted.
   */
  origins?: "*" | string[] | RegExp | ((origin: string) => boolean);
  /** Methods allowed in preflights. Default GET, HEAD, PUT, PATCH, POST, DELETE. */
  methods?: string[];
  /** Request headers allowed in preflights. Default: echo `Access-Control-Request-Headers` (with `Vary`). */
  allowHeaders?: string[];
  /** Response headers scripts may read (`Access-Control-Expose-Headers`). */
  exposeHeaders?: string[];
  /**
   * Allow cookies and auth (`Access-Control-Allow-Credentials: true`). Requires `origins`
   * to be a list, a RegExp or a function: with `"*"` any site could read what a signed-in
   * user sees, so `cors()` throws `CELLO_INVALID_OPTION`. Default false.
   */
  credentials?: boolean;
  /** How long (seconds) a browser may cache a preflight (`Access-Control-Max-Age`). */
  maxAge?: number;
}

const DEFAULT_METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"];
// A serialized origin (RFC 6454 6.2): scheme "://" host [":" port], no path, no trailing slash.
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\s@]+$/i;

/**
 * The CORS plugin. `app.enableCors(options)` is `app.use(cors(options))`.
 * Misconfigurations throw `CELLO_INVALID_OPTION` here, at setup.
 * @example
 * app.enableCors({ origins: ["https://app.example.com"], credentials: true, maxAge: 600 });
 */
export function cors(options: CorsOptions = {}): Plugin {
  const origins = options.origins ?? "*";
  const credentials = options.credentials === true;
  const methods = (options.methods ?? DEFAULT_METHODS).join(", ");
  const allowHeaders = options.allowHeaders?.join(", ");
  const exposeHeaders = options.exposeHeaders?.join(", ");
  const isAllowed = originMatcher(origins, credentials);
  for (const [name, value] of [["Access-Control-Allow-Methods", methods], ["Access-Control-Allow-Headers", allowHeaders], ["Access-Control-Expose-Headers", exposeHeaders]] as const) {
    if (value !== undefined) assertHeaderSafe(name, value);
  }
  if (options.maxAge !== undefined && (!Number.isInteger(options.maxAge) || options.maxAge < 0)) {
    throw new CelloError("CELLO_INVALID_OPTION", `cors maxAge must be a whole number of seconds >= 0, got ${options.maxAge}`);
  }
  // With "*" and no credentials the answer is the same for every Origin; otherwise it depends on
  // it, and every response (refusals and requests without Origin included) says so to caches.
  const echoes = isAllowed !== undefined;

  /** The Access-Control-Allow-Origin value for this request, or undefined for none. */
  function allowOrigin(request: Request): string | undefined {
    if (!echoes) return "*";
    const origin = request.getHeader("origin");
    // `null` is what any sandboxed iframe sends: echoing it would let any site in.
    if (origin === undefined || origin === "null" || !isAllowed(origin)) return undefined;
    return origin;
  }

  function applyCommon(response: Response, allowed: string): void {
    response.setHeader("Access-Control-Allow-Origin", allowed);
    if (credentials) response.setHeader("Access-Control-Allow-Credentials", "true");
  }

  return (app) => {
    app.addHook("onRequest", (request) => {
      if (request.method !== "OPTIONS" || request.getHeader("access-control-request-method") === undefined) return;
      const response = Response.noContent();
      if (echoes) appendVary(response, "Origin");
      const allowed = allowOrigin(request);
      if (allowed === undefined) return response;
      applyCommon(response, allowed);
      response.setHeader("Access-Control-Allow-Methods", methods);
      if (allowHeaders !== undefined) response.setHeader("Access-Control-Allow-Headers", allowHeaders);
      else {
        // Echoed: the answer depends on the request's header list, even when it has none.
        appendVary(response, "Access-Control-Request-Headers");
        const requested = request.getHeader("access-control-request-headers");
        if (requested) response.setHeader("Access-Control-Allow-Headers", requested);
      }
      if (options.maxAge !== undefined) response.setHeader("Access-Control-Max-Age", String(options.maxAge));
      return response;
    });
    app.addHook("onResponse", (request, response) => {
      if (response.getHeader("access-control-allow-origin") !== undefined) return; // a preflight, already done
      if (echoes) appendVary(response, "Origin");
      const allowed = allowOrigin(request);
      if (allowed === undefined) return;
      applyCommon(response, allowed);
      if (exposeHeaders) response.setHeader("Access-Control-Expose-Headers", exposeHeaders);
    });
  };
}

/**
 * The test an Origin must pass, or undefined when every origin gets `*`.
 * Throws `CELLO_INVALID_OPTION` for a configuration that would expose users.
 */
function originMatcher(origins: NonNullable<CorsOptions["origins"]>, credentials: boolean): ((origin: string) => boolean) | undefined {
  if (origins === "*") {
    if (credentials) {
      throw new CelloError(
        "CELLO_INVALID_OPTION",
        'cors credentials need an explicit origins list, RegExp or function: with "*" any site could read what a signed-in user sees',
      );
    }
    return undefined;
  }
  if (typeof origins === "function") return origins;
  if (origins instanceof RegExp) {
    // Anchored on both ends, so /https:\/\/app\.example\.com/ does not accept https://app.example.com.evil.test.
    const whole = new RegExp(`^(?:${origins.source})$`, origins.flags.replace(/[gy]/g, ""));
    return (origin) => whole.test(origin);
  }
  if (!Array.isArray(origins)) throw new CelloError("CELLO_INVALID_OPTION", 'cors origins must be "*", a list of origins, a RegExp or a function');
  for (const origin of origins) {
    if (typeof origin !== "string" || !ORIGIN.test(origin)) {
      throw new CelloError(
        "CELLO_INVALID_OPTION",
        `cors origin ${JSON.stringify(origin)} is not an origin: write scheme://host[:port], with no path or trailing slash ("null" and "*" are not allowed in a list)`,
      );
    }
  }
  // Browsers send scheme and host in lower case: a configured "https://App.example.com" must still match.
  const allowed = new Set(origins.map((origin) => origin.toLowerCase()));
  return (origin) => allowed.has(origin);
}
