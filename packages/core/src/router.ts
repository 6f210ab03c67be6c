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

/**
 * Turn Cello's `{name}` segments into find-my-way's `:name`; `:name` and a
 * trailing `*` pass through. Throws `CELLO_INVALID_ROUTE` for a path that does not start with `/`.
 *
 * @example toRouterPath("/deploy/{deploy_id}/progress") // "/deploy/:deploy_id/progress"
 */
export function toRouterPath(path: string): string {
  if (!path.startsWith("/")) throw new CelloError("CELLO_INVALID_ROUTE", `path must start with "/": ${JSON.stringify(path)}`);
  if (path.includes("*") && path.indexOf("*") !== path.length - 1) {
    throw new CelloError("CELLO_INVALID_ROUTE", `a wildcard "*" may only end a path: ${JSON.stringify(path)}`);
  }
  const converted = path.replace(CELLO_PARAM, ":$1");
  if (/[{}]/.test(converted)) throw new CelloError("CELLO_INVALID_ROUTE", `malformed parameter in ${JSON.stringify(path)}`);
  return converted;
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
      try {
        fmw.on(method, routerPath, noop, store);
      } catch (err) {
        const message = (err as Error).message;
        if (/already declared/i.test(message)) {
          throw new CelloError("CELLO_DUPLICATE_ROUTE", `${method} ${path} is already registered`, { cause: err });
        }
        throw new CelloError("CELLO_INVALID_ROUTE", `${method} ${path}: ${message}`, { cause: err });
      }
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

function noop(): void {}
