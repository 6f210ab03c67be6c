/**
 * The explorer reads route metadata from a class into plain route definitions.
 * It does not register anything: that is the app's job.
 */
import { readControllerPrefix, readRouteMetadata } from "./decorators.js";
import { CelloError } from "./errors.js";
import { joinPaths } from "./router.js";
import type { Handler, RouteDefinition } from "./routes.js";

/**
 * The routes of `instance`'s class: those written by `@get`/`@post`/... (when
 * `owner` is undefined) or by one App's or Blueprint's `@app.get(...)` (when it is that owner).
 * Handlers are bound to `instance`, so `this` works inside them.
 */
export function exploreRoutes(ctor: Function, instance: object, owner?: object): RouteDefinition[] {
  const prefix = readControllerPrefix(ctor);
  const definitions: RouteDefinition[] = [];
  for (const entry of readRouteMetadata(ctor)) {
    if (entry.owner !== owner) continue;
    const target = (typeof (instance as Record<string | symbol, unknown>)[entry.propertyKey] === "function" ? instance : ctor) as Record<string | symbol, unknown>;
    const method = target[entry.propertyKey];
    if (typeof method !== "function") {
      throw new CelloError("CELLO_INVALID_ROUTE", `${ctor.name}.${String(entry.propertyKey)} is not a method`);
    }
    definitions.push({
      methods: entry.methods,
      path: prefix ? joinPaths(prefix, entry.path) : entry.path,
      handler: (method as Handler).bind(target),
      options: entry.options,
    });
  }
  return definitions;
}
