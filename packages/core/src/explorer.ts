/**
 * The explorer reads route metadata from classes into plain route definitions.
 * It does not register anything: that is the app's job.
 */
import { classOfSite, declaredControllers, readControllerGuards, readControllerPrefix, readRouteMetadata, rememberClass, unboundRoutes, type DecoratedSite, type RouteMetadata } from "./decorators.js";
import { CelloError } from "./errors.js";
import { joinPaths } from "./router.js";
import type { Handler, RouteDefinition } from "./routes.js";

// Classes an app instantiated (registered directly, through a blueprint, or with `@app.get`),
// across every app of the process: a @controller class missing here at startup was never registered.
const instantiatedClasses = new WeakSet<Function>();
// A class is reported once per process, not once per app.
const reportedControllers = new WeakSet<Function>();

/**
 * The routes of `instance`'s class: those written by `@get`/`@post`/... (when
 * `owner` is undefined) or by one App's or Blueprint's `@app.get(...)` (when it is that owner).
 * Handlers are bound to `instance`, so `this` works inside them.
 */
export function exploreRoutes(ctor: Function, instance: object, owner?: object): RouteDefinition[] {
  rememberClass(ctor);
  const prefix = readControllerPrefix(ctor);
  const guards = readControllerGuards(ctor);
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
      // The controller's guards run before the route's own.
      options: guards.length > 0 ? { ...entry.options, guards: [...guards, ...(entry.options.guards ?? [])] } : entry.options,
    });
  }
  return definitions;
}

/**
 * The routes `owner`'s own decorators (`@app.get(...)`) wrote, in the order
 * they were applied: each class once, bound to its one instance from `instantiate`.
 *
 * A standard (TC39) method decorator never sees its class. The class becomes
 * known when it is registered (`app.register`), decorated with `@controller`,
 * or has a decorated static method; until then its instance methods are
 * routed with a `this` that explains, on first use, how to get an instance.
 */
export function exploreDecorated(owner: object, sites: Iterable<DecoratedSite>, instantiate: (ctor: Function) => object): RouteDefinition[] {
  const definitions: RouteDefinition[] = [];
  const explored = new Set<Function>();
  for (const site of sites) {
    const ctor = classOfSite(site);
    if (ctor !== undefined) {
      if (explored.has(ctor)) continue;
      explored.add(ctor);
      definitions.push(...exploreRoutes(ctor, instantiate(ctor), owner));
      continue;
    }
    for (const { entry, method } of unboundRoutes(site)) {
      if (entry.owner !== owner) continue;
      definitions.push({ methods: entry.methods, path: entry.path, handler: method.bind(missingInstance(entry)) as Handler, options: entry.options });
    }
  }
  return definitions;
}

/**
 * Check what `register()` was given: a class with routes `registrar` may use
 * (written by the free decorators, or by its own `@app.get`).
 * @param call - how the call reads in an error, e.g. `app.register`
 */
export function checkController(value: unknown, registrar: object, call: string): boolean {
  if (typeof value !== "function" || value.prototype === undefined) {
    throw new CelloError("CELLO_INVALID_DECORATOR", `${call}() takes a class whose methods carry @get, @post, ...; got ${describe(value)}`);
  }
  rememberClass(value);
  const entries = readRouteMetadata(value);
  if (entries.some((entry) => entry.owner === undefined || entry.owner === registrar)) return true;
  if (entries.length > 0) {
    throw new CelloError(
      "CELLO_INVALID_DECORATOR",
      `${call}(${value.name}): its routes were written by another App's or Blueprint's decorators (@app.get of a different app); register the class there, or use the free decorators @get, @post, ... that any app can register`,
    );
  }
  // No route at all: not an error (a placeholder controller), but its registrar warns, naming it.
  return false;
}

/**
 * Create the one instance of a decorated class. Its constructor gets no arguments.
 */
export function instantiate(ctor: Function): object {
  let instance: object;
  try {
    instance = new (ctor as new () => object)();
  } catch (err) {
    throw new CelloError(
      "CELLO_INVALID_DECORATOR",
      `could not create ${ctor.name || "the class"}: the app makes one instance of each decorated class, with no arguments (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
  instantiatedClasses.add(ctor);
  return instance;
}

function describe(value: unknown): string {
  if (typeof value === "function") return `the function ${value.name || "(anonymous)"}, which is not a class`;
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * The `this` of a standard-decorated method whose class the app never saw: any
 * use throws a CelloError saying how to give the method an instance.
 */
function missingInstance(entry: RouteMetadata): object {
  const fail = (): never => {
    throw new CelloError(
      "CELLO_INVALID_DECORATOR",
      `${String(entry.propertyKey)}() (${entry.methods.join("|")} ${entry.path}) used \`this\`, but under standard decorators (TypeScript's default) a method decorator cannot see its class, so the app has no instance to bind. Pass the class to app.register(YourClass) as well, make the method static, or set "experimentalDecorators": true`,
    );
  };
  return new Proxy(Object.create(null) as object, {
    get: fail,
    set: fail,
    has: fail,
    deleteProperty: fail,
    defineProperty: fail,
    ownKeys: fail,
    getOwnPropertyDescriptor: fail,
  });
}

/**
 * One warning for each `@controller` class that no app or blueprint has
 * instantiated (its routes are not served), each class once per process: an
 * app reports them at startup.
 */
export function unregisteredControllerWarnings(): string[] {
  const warnings: string[] = [];
  for (const ctor of declaredControllers) {
    if (instantiatedClasses.has(ctor) || reportedControllers.has(ctor)) continue;
    reportedControllers.add(ctor);
    const name = className(ctor);
    const routes = readRouteMetadata(ctor).flatMap((entry) => entry.methods.map((method) => `${method} ${joinPaths(readControllerPrefix(ctor), entry.path)}`));
    const served = routes.length === 0 ? "" : `, so ${routes.length === 1 ? "its route" : `its ${routes.length} routes`} (${listSome(routes)}) ${routes.length === 1 ? "is" : "are"} not served`;
    warnings.push(`@controller class ${name} was never passed to app.register()${served}. Add app.register(${name}) (or blueprint.register(${name})) before the app starts.`);
  }
  return warnings;
}

function className(ctor: Function): string {
  return ctor.name || "(anonymous class)";
}

/** The first three items, then how many more. */
function listSome(items: string[]): string {
  return items.length <= 3 ? items.join(", ") : `${items.slice(0, 3).join(", ")} and ${items.length - 3} more`;
}

/** The warning for a class registered with no route decorator: its routes would silently 404. */
export function noRoutesWarning(call: string, ctor: Function): string {
  const name = className(ctor);
  return `${call}(${name}): no method of ${name} carries a route decorator (@get, @post, ... from @cellojs/core), so it adds no route.`;
}
