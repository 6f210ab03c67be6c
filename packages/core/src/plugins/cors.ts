/**
 * CORS plugin (`app.enableCors()`), built on the public hook API only:
 * an onRequest hook answers preflights, an onResponse hook adds the headers
 * to every response, SSE streams included.
 */
import type { Plugin } from "../app.js";
import type { Request } from "../request.js";
import { Response } from "../response.js";

/** Options of `app.enableCors(options)`. */
export interface CorsOptions {
  /**
   * Which origins may read responses: `"*"` (default), a list of origins, or a
   * function. A listed or accepted origin is echoed with `Vary: Origin`; any
   * other origin gets no CORS headers at all.
   */
  origins?: "*" | string[] | ((origin: string) => boolean);
  /** Methods allowed in preflights. Default GET, HEAD, PUT, PATCH, POST, DELETE. */
  methods?: string[];
  /** Request headers allowed in preflights. Default: echo `Access-Control-Request-Headers`. */
  allowHeaders?: string[];
  /** Response headers scripts may read (`Access-Control-Expose-Headers`). */
  exposeHeaders?: string[];
  /** Allow cookies and auth. The origin is then always echoed, never `*`. */
  credentials?: boolean;
  /** How long (seconds) a browser may cache a preflight (`Access-Control-Max-Age`). */
  maxAge?: number;
}

const DEFAULT_METHODS = ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"];

/**
 * The CORS plugin. `app.enableCors(options)` is `app.use(cors(options))`.
 * @example
 * app.enableCors({ origins: ["https://app.example.com"], credentials: true, maxAge: 600 });
 */
export function cors(options: CorsOptions = {}): Plugin {
  const origins = options.origins ?? "*";
  const methods = (options.methods ?? DEFAULT_METHODS).join(", ");
  const allowHeaders = options.allowHeaders?.join(", ");
  const exposeHeaders = options.exposeHeaders?.join(", ");
  const credentials = options.credentials === true;
  const isAllowed =
    origins === "*" ? () => true : typeof origins === "function" ? origins : (origin: string) => origins.includes(origin);
  const echoes = origins !== "*" || credentials;

  /** The Access-Control-Allow-Origin value for this request, or undefined for none. */
  function allowOrigin(request: Request): string | undefined {
    const origin = request.getHeader("origin");
    if (!echoes) return "*";
    if (origin === undefined || !isAllowed(origin)) return undefined;
    return origin;
  }

  function applyCommon(response: Response, allowed: string): void {
    response.setHeader("Access-Control-Allow-Origin", allowed);
    if (echoes) appendVary(response, "Origin");
    if (credentials) response.setHeader("Access-Control-Allow-Credentials", "true");
  }

  return (app) => {
    app.addHook("onRequest", (request) => {
      if (request.method !== "OPTIONS" || request.getHeader("access-control-request-method") === undefined) return;
      const response = Response.noContent();
      const allowed = allowOrigin(request);
      if (allowed === undefined) {
        if (echoes) appendVary(response, "Origin");
        return response;
      }
      applyCommon(response, allowed);
      response.setHeader("Access-Control-Allow-Methods", methods);
      const requested = request.getHeader("access-control-request-headers");
      const headers = allowHeaders ?? requested;
      if (headers) response.setHeader("Access-Control-Allow-Headers", headers);
      if (allowHeaders === undefined && requested) appendVary(response, "Access-Control-Request-Headers");
      if (options.maxAge !== undefined) response.setHeader("Access-Control-Max-Age", String(options.maxAge));
      return response;
    });
    app.addHook("onResponse", (request, response) => {
      if (response.getHeader("access-control-allow-origin") !== undefined) return; // a preflight, already done
      const allowed = allowOrigin(request);
      if (allowed === undefined) {
        if (echoes) appendVary(response, "Origin");
        return;
      }
      applyCommon(response, allowed);
      if (exposeHeaders) response.setHeader("Access-Control-Expose-Headers", exposeHeaders);
    });
  };
}

function appendVary(response: Response, field: string): void {
  const current = response.getHeader("vary");
  const list = current === undefined ? [] : String(current).split(",").map((s) => s.trim()).filter(Boolean);
  if (!list.some((f) => f.toLowerCase() === field.toLowerCase())) list.push(field);
  response.setHeader("Vary", list.join(", "));
}
