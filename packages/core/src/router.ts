/**
 * The only module that knows find-my-way. It is built once per app with a
 * whitelisted set of options, stores each route's precomputed context as the
 * router's store, and rethrows find-my-way's errors as Cello errors.
 */
import FindMyWay from "find-my-way";
import { CelloError } from "./errors.js";

/** The methods Cello.ts routes. */
export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"] as const;
/** One of {@link HTTP_METHODS}. */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** A successful lookup. */
export interface RouteMatch<T> {
  store: T;
  params: Record<string, string>;
}

/** The router's small closure API. */
export interface Router<T> {
  /** Register `store` for `method` and `path` (Cello's `{name}` or `:name`, trailing `*`). */
  add(method: HttpMethod, path: string, store: T): void;
  /** Find the route for a method and a path without query; HEAD falls back to GET. */
  find(method: string, path: string): RouteMatch<T> | null;
  /** The methods a path answers to (for 405's `Allow`), HEAD included wherever GET is. */
  allowedMethods(path: string): HttpMethod[];
  /** Compile the route trees once every route is registered (faster lookups). */
  compile(): void;
}

const CELLO_PARAM = /\{([A-Za-z_$][\w$]*)\}/g;
// find-my-way's `:name` (after conversion every parameter has this form); `::` is an escaped colon.
const ROUTER_PARAM = /(?<!:):(?!:)([A-Za-z_$][\w$]*)/g;

/**
 * Turn Cello's `{name}` segments into find-my-way's `:name`; `:name` and a
 * trailing `*` pass through. Throws `CELLO_INVALID_ROUTE` for a path that does
 * not start with `/`, a misplaced `*`, a malformed `{...}` (the message names
 * the offending characters) or a parameter name used twice.
 *
 * @example toRouterPath("/deploy/{deploy_id}/progress") // "/deploy/:deploy_id/progress"
 */
export function toRouterPath(path: string): string {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new CelloError("CELLO_INVALID_ROUTE", `path must start with "/": ${typeof path === "string" ? JSON.stringify(path) : String(path)}`);
  }
  if (path.includes("*") && path.indexOf("*") !== path.length - 1) {
    throw new CelloError("CELLO_INVALID_ROUTE", `a wildcard "*" may only end a path: ${JSON.stringify(path)}`);
  }
  const converted = path.replace(CELLO_PARAM, ":$1");
  if (/[{}]/.test(converted)) throw new CelloError("CELLO_INVALID_ROUTE", malformedParameter(path));
  const seen = new Set<string>();
  for (const [, name] of converted.matchAll(ROUTER_PARAM)) {
    if (seen.has(name!)) {
      throw new CelloError(
        "CELLO_INVALID_ROUTE",
        `parameter {${name}} appears twice in ${JSON.stringify(path)}: request.params holds one value per name; rename one (e.g. {${name}_2})`,
      );
    }
    seen.add(name!);
  }
  return converted;
}

/** What is wrong with the first `{...}` of `path` that is not a valid `{name}`. */
function malformedParameter(path: string): string {
  const where = `in ${JSON.stringify(path)}`;
  // Blank out the valid parameters (same length, so indices still point into `path`).
  const at = path.replace(CELLO_PARAM, (match) => " ".repeat(match.length)).search(/[{}]/);
  if (path[at] === "}") return `malformed parameter ${where}: a "}" without its "{" at position ${at}`;
  const close = path.indexOf("}", at);
  const nextOpen = path.indexOf("{", at + 1);
  if (close === -1 || (nextOpen !== -1 && nextOpen < close)) {
    return `malformed parameter ${where}: the "{" at position ${at} is never closed (write {name})`;
  }
  const group = path.slice(at, close + 1);
  const name = group.slice(1, -1);
  if (name === "") return `malformed parameter {} ${where}: the parameter has no name`;
  const offending = [...new Set(name.replace(/[\w$]/g, ""))];
  if (offending.length === 0) return `malformed parameter ${group} ${where}: a parameter name must not start with a digit`;
  const list = offending.map((char) => JSON.stringify(char)).join(", ");
  const suggestion = name.replace(/[^\w$]/g, "_").replace(/^(\d)/, "_$1");
  return `malformed parameter ${group} ${where}: ${list} ${offending.length === 1 ? "is" : "are"} not allowed in a parameter name ` +
    `(use letters, digits, _ or $, e.g. {${suggestion}})`;
}

/** Join a prefix and a path: `("/api", "/users")` -> `/api/users`, `("/api", "/")` -> `/api`. */
export function joinPaths(prefix: string, path: string): string {
  const head = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  if (path === "/" || path === "") return head === "" ? "/" : head;
  return `${head}${path.startsWith("/") ? path : `/${path}`}`;
}

/** Build a router. Called once per app. */
export function createRouter<T>(): Router<T> {
  const fmw = FindMyWay({
    ignoreTrailingSlash: false,
    ignoreDuplicateSlashes: false,
    caseSensitive: true,
    maxParamLength: 500,
  });
  /** The pattern each route was registered with, by its handler tag. */
  const patterns = new Map<Function, string>();

  function lookup(method: string, path: string): RouteMatch<T> | null {
    let found;
    try {
      found = fmw.find(method as FindMyWay.HTTPMethod, path);
    } catch {
      return null; // a malformed percent-encoding matches no route
    }
    // find-my-way's result already has the { store, params } shape: hand it on as is.
    return found as unknown as RouteMatch<T> | null;
  }

  return {
    add(method, path, store) {
      const routerPath = toRouterPath(path);
      // A handler of its own per route, so a duplicate can name the route it collides with.
      const tag = (): void => {};
      try {
        fmw.on(method, routerPath, tag, store);
      } catch (err) {
        const message = (err as Error).message;
        if (/already declared/i.test(message)) {
          const existing = patterns.get(fmw.findRoute(method as FindMyWay.HTTPMethod, routerPath)?.handler as Function);
          const detail = existing === undefined ? "" : ` (the existing route is ${method} ${existing})`;
          throw new CelloError("CELLO_DUPLICATE_ROUTE", `${method} ${path} is already registered${detail}`, { cause: err });
        }
        throw new CelloError("CELLO_INVALID_ROUTE", `${method} ${path}: ${message}`, { cause: err });
      }
      patterns.set(tag, path);
    },
    find(method, path) {
      const match = lookup(method, path);
      if (match || method !== "HEAD") return match;
      return lookup("GET", path);
    },
    allowedMethods(path) {
      const allowed = HTTP_METHODS.filter((method) => lookup(method, path) !== null);
      if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
      return allowed;
    },
    compile() {
      fmw.compile();
    },
  };
}
