/**
 * SSE connection governance for the rate-limit plugin: caps on the streams
 * open at once, per client IP, per key and in all. This file is the one
 * owner of those counts. It learns of streams from the public hooks only: a
 * stream is admitted in onResponse (before its head is written), counted in
 * onStreamOpen (the same synchronous turn, so no other stream can slip in
 * between) and released in onStreamClose, which the engine reports exactly
 * once for every stream that opened.
 */
import { addressKey } from "../client-ip.js";
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import type { Response } from "../response.js";
import type { RouteInfo } from "../routes.js";

/**
 * Caps on concurrent SSE streams. Each cap is a whole number >= 1; leave one out for no cap.
 * A stream past `perIp` or `perKey` is refused with 429 `CELLO_TOO_MANY_STREAMS`, past `total`
 * with 503 `CELLO_STREAMS_FULL`, both with `Retry-After`, before any byte of the stream is
 * written (its source is cancelled: a channel subscription never joins).
 */
export interface StreamCaps {
  /** Streams one client IP (`request.ip`; an IPv6 client by its /64 network) may hold open at once. */
  perIp?: number;
  /** Streams one key (the plugin's `key(request)`, e.g. the signed-in user) may hold open at once. Only counted when `key` returns a string. */
  perKey?: number;
  /** Streams open at once in all (the app's or the route's). */
  total?: number;
  /** `Retry-After` of a refusal, in seconds. Default 5. */
  retryAfter?: number;
}

/** How many streams are counted right now; every figure is 0 when none is open. */
export interface StreamCounts {
  /** Streams counted (in the app-wide scope, plus each route with caps of its own). */
  streams: number;
  /** Distinct client IPs holding a counted stream. */
  ips: number;
  /** Distinct keys holding a counted stream. */
  keys: number;
}

/** One scope's counts: the app's, or one route's. */
class Scope {
  total = 0;
  readonly perIp = new Map<string, number>();
  readonly perKey = new Map<string, number>();

  constructor(readonly caps: Required<Pick<StreamCaps, "retryAfter">> & StreamCaps) {}

  /** The refusal for one more stream of `ip`/`key`, or undefined when it fits. */
  refusal(ip: string, key: string | undefined): HttpError | undefined {
    const { perIp, perKey, total, retryAfter } = this.caps;
    const headers = { "Retry-After": String(retryAfter) };
    if (total !== undefined && this.total >= total) return HttpError.fromCode("CELLO_STREAMS_FULL", undefined, { headers, expose: true });
    if (perIp !== undefined && (this.perIp.get(ip) ?? 0) >= perIp) return HttpError.fromCode("CELLO_TOO_MANY_STREAMS", undefined, { headers });
    if (perKey !== undefined && key !== undefined && (this.perKey.get(key) ?? 0) >= perKey) {
      return HttpError.fromCode("CELLO_TOO_MANY_STREAMS", undefined, { headers });
    }
    return undefined;
  }

  add(ip: string, key: string | undefined): void {
    this.total++;
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    if (key !== undefined) this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
  }

  remove(ip: string, key: string | undefined): void {
    this.total--;
    decrement(this.perIp, ip);
    if (key !== undefined) decrement(this.perKey, key);
  }
}

function decrement(map: Map<string, number>, name: string): void {
  const count = map.get(name)! - 1;
  // Deleted at zero, so the maps hold only clients with an open stream (no growth with churn).
  if (count === 0) map.delete(name);
  else map.set(name, count);
}

/** A stream admitted in onResponse: which scopes it counts in, under which IP and key. */
interface Admission {
  scopes: Scope[];
  ip: string;
  key: string | undefined;
  counted: boolean;
}

/** Checks and resolves {@link StreamCaps} at setup. @throws CelloError `CELLO_INVALID_OPTION`. */
export function checkStreamCaps(caps: StreamCaps, where: string): Required<Pick<StreamCaps, "retryAfter">> & StreamCaps {
  if (typeof caps !== "object" || caps === null) throw new CelloError("CELLO_INVALID_OPTION", `${where}.streams must be an object of caps`);
  for (const name of ["perIp", "perKey", "total", "retryAfter"] as const) {
    const value = caps[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new CelloError("CELLO_INVALID_OPTION", `${where}.streams.${name} must be a whole number >= 1, got ${String(value)}`);
    }
  }
  return { ...caps, retryAfter: caps.retryAfter ?? 5 };
}

/**
 * The stream counts of one rate-limit plugin: the app-wide scope and one per
 * route that sets caps of its own.
 */
export class StreamGovernor {
  readonly #app: Scope | undefined;
  readonly #routes = new Map<RouteInfo, Scope | undefined>();
  readonly #admitted = new WeakMap<Request, Admission>();
  readonly #key: (request: Request) => string | undefined;

  constructor(appCaps: StreamCaps | undefined, key: (request: Request) => string | undefined) {
    this.#app = appCaps === undefined ? undefined : new Scope(checkStreamCaps(appCaps, "rateLimit"));
    this.#key = key;
  }

  /** onResponse: refuse an SSE response past a cap (throws the 429 or 503), else admit it. */
  admit(request: Request, response: Response): void {
    if (response.body.kind !== "sse" || request.method === "HEAD") return;
    const route = request.route;
    const routeLimit = route?.options.rateLimit;
    if (routeLimit === false) return;
    const scopes: Scope[] = [];
    if (this.#app !== undefined) scopes.push(this.#app);
    const own = route === undefined ? undefined : this.#routeScope(route);
    if (own !== undefined) scopes.push(own);
    if (scopes.length === 0) return;
    const ip = addressKey(request.ip);
    const key = this.#key(request);
    for (const scope of scopes) {
      const refusal = scope.refusal(ip, key);
      if (refusal !== undefined) throw refusal;
    }
    this.#admitted.set(request, { scopes, ip, key, counted: false });
  }

  /** onStreamOpen: count the admitted stream. */
  opened(request: Request): void {
    const admission = this.#admitted.get(request);
    if (admission === undefined || admission.counted) return;
    admission.counted = true;
    for (const scope of admission.scopes) scope.add(admission.ip, admission.key);
  }

  /** onStreamClose: release it. */
  closed(request: Request): void {
    const admission = this.#admitted.get(request);
    if (admission === undefined) return;
    this.#admitted.delete(request);
    if (admission.counted) for (const scope of admission.scopes) scope.remove(admission.ip, admission.key);
  }

  /** What is counted now, summed over the scopes. */
  counts(): StreamCounts {
    const counts: StreamCounts = { streams: 0, ips: 0, keys: 0 };
    for (const scope of [this.#app, ...this.#routes.values()]) {
      if (scope === undefined) continue;
      counts.streams += scope.total;
      counts.ips += scope.perIp.size;
      counts.keys += scope.perKey.size;
    }
    return counts;
  }

  /** The route's own scope (made on its first stream; caps checked then, once), or undefined when it sets none. */
  #routeScope(route: RouteInfo): Scope | undefined {
    if (this.#routes.has(route)) return this.#routes.get(route);
    const limit = route.options.rateLimit;
    const scope = limit && limit.streams !== undefined ? new Scope(checkStreamCaps(limit.streams, `${route.method} ${route.path} rateLimit`)) : undefined;
    this.#routes.set(route, scope);
    return scope;
  }
}
