/**
 * Route decorators. They only write metadata; the explorer (explorer.ts) reads it
 * into plain route definitions and the app registers them.
 *
 * Both decorator semantics work and record the same entries, told apart by the
 * decorator's second argument (a context object, or a property key):
 * - standard (TC39) decorators, TypeScript's default since 5.0 and what tsx runs
 *   when the tsconfig does not set `experimentalDecorators`. A method decorator
 *   gets `(method, context)` and never sees its class, so entries are kept under
 *   `context.metadata`, the object the class then carries as `Class[Symbol.metadata]`.
 * - legacy decorators (`experimentalDecorators: true`): a method decorator gets
 *   `(prototype or class, key, descriptor)`; entries are kept under the class.
 * Nothing reads `design:*` metadata, so tsc, tsx and vitest agree, and no
 * reflect-metadata is needed.
 */
import { CelloError } from "./errors.js";
import { checkGuards, type Guard } from "./guards/guard.js";
import type { HttpMethod } from "./router.js";
import type { RouteOptions } from "./routes.js";

// A standard decorator gets `context.metadata` only if `Symbol.metadata` exists when its
// class is defined (TypeScript's emitted helper checks); Node 20 and 24 do not have it yet.
// esbuild (tsx) then falls back to `Symbol.for("Symbol.metadata")`: define that same symbol,
// so both compilers attach the metadata object to the class under one key.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for("Symbol.metadata");
const SYMBOL_METADATA = (Symbol as unknown as { metadata: symbol }).metadata;

/** What a route decorator records on a class. */
export interface RouteMetadata {
  methods: HttpMethod[];
  path: string;
  propertyKey: string | symbol;
  options: RouteOptions;
  /** The App or Blueprint whose `@app.get(...)` wrote this entry; undefined for `@get(...)`. */
  owner?: object;
}

/**
 * A method decorator that works under both decorator semantics: standard (TC39)
 * decorators, TypeScript's default, and legacy ones (`experimentalDecorators: true`).
 * TypeScript rejects it on anything but a method.
 */
export interface RouteDecorator {
  /** Standard (TC39) decorator. */
  (method: Function, context: ClassMethodDecoratorContext): void;
  /** Legacy (`experimentalDecorators`) decorator. */
  (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
}

/** A class decorator that works under both decorator semantics (see {@link RouteDecorator}). */
export interface ControllerDecorator {
  /** Standard (TC39) decorator. */
  (target: Function, context: ClassDecoratorContext): void;
  /** Legacy (`experimentalDecorators`) decorator. */
  (target: Function): void;
}

/** Legacy entries, by class. */
const classRoutes = new WeakMap<Function, RouteMetadata[]>();
/** Standard entries, by the class's metadata object. */
const metadataRoutes = new WeakMap<object, RouteMetadata[]>();
/** The method each standard entry was written on, for a class that never becomes known. */
const standardMethods = new WeakMap<RouteMetadata, Function>();
/** A standard metadata object's class, once something showed it (see {@link rememberClass}). */
const metadataClasses = new WeakMap<object, Function>();
const controllerPrefixes = new WeakMap<Function, string>();
const controllerGuards = new WeakMap<Function, Guard[]>();

/**
 * Where a route decorator was applied, as far as it could see: the class
 * (legacy decorators, and standard ones on static methods) or the class's
 * metadata object (standard decorators on instance methods).
 */
export type DecoratedSite = Function | object;

function isDecoratorContext(value: unknown): value is DecoratorContext {
  return typeof value === "object" && value !== null && typeof (value as { kind?: unknown }).kind === "string";
}

function misuse(detail: string): CelloError {
  return new CelloError("CELLO_INVALID_DECORATOR", detail);
}

/**
 * @internal Build a route decorator recording `route` on the method it decorates,
 * under either semantics. `label` names the decorator in errors (`@get`, `@app.post`);
 * `onApplied` hears where it was applied (the class, or the class's metadata
 * object), so an App or Blueprint can find the class later.
 */
export function routeDecorator(label: string, route: Omit<RouteMetadata, "propertyKey">, onApplied?: (site: DecoratedSite) => void): RouteDecorator {
  if (typeof route.path !== "string") throw misuse(`${label} needs a path: write ${label}("/path"), not ${label} alone`);
  const name = `${label}(${JSON.stringify(route.path)})`;
  if (route.options?.guards !== undefined) route = { ...route, options: { ...route.options, guards: checkGuards(route.options.guards, name) } };
  const decorator = (target: unknown, keyOrContext?: unknown, descriptor?: unknown): void => {
    if (isDecoratorContext(keyOrContext)) {
      // Standard semantics: (method, context).
      const context = keyOrContext;
      if (context.kind !== "method") {
        const article = /^[aeiou]/.test(context.kind) ? "an" : "a";
        throw misuse(`${name} decorates methods, not ${article} ${context.kind}${context.name ? ` (${String(context.name)})` : ""}: ${fixFor(context.kind, name, route.path)}`);
      }
      const methodContext = context as ClassMethodDecoratorContext;
      if (methodContext.private) throw misuse(`${name} cannot route the private method ${String(methodContext.name)}: drop the "#" so the app can call it`);
      const metadata = methodContext.metadata as object | undefined;
      if (metadata === undefined) {
        throw misuse(`${name} on ${String(methodContext.name)}: this compiler gives decorators no context.metadata; set "experimentalDecorators": true in tsconfig.json`);
      }
      const entry: RouteMetadata = { ...route, propertyKey: methodContext.name };
      metadataRoutes.set(metadata, [...(metadataRoutes.get(metadata) ?? []), entry]);
      standardMethods.set(entry, target as Function);
      if (methodContext.static) {
        // A static method's initializer runs once the class is defined, with `this` = the class.
        methodContext.addInitializer(function (this: unknown) {
          metadataClasses.set(metadata, this as Function);
        });
      }
      onApplied?.(metadata);
      return;
    }
    // Legacy semantics: (prototype or class, key, descriptor).
    if (typeof target === "function" && keyOrContext === undefined) {
      throw misuse(`${name} decorates methods, not the class ${target.name}: ${fixFor("class", name, route.path)}`);
    }
    if (typeof target !== "object" && typeof target !== "function") throw misuse(`${name} was called as a function; apply it to a method with the @ syntax`);
    const owner = typeof target === "function" ? target : (target as object).constructor;
    const where = `${owner.name}.${String(keyOrContext)}`;
    if (typeof descriptor === "number") throw misuse(`${name} decorates methods, not a parameter of ${where}`);
    if (descriptor === undefined) throw misuse(`${name} decorates methods, not the field ${where}: ${fixFor("field", name, route.path)}`);
    if (typeof (descriptor as PropertyDescriptor).value !== "function") {
      throw misuse(`${name} decorates methods, not the accessor ${where}: ${fixFor("getter", name, route.path)}`);
    }
    const entry: RouteMetadata = { ...route, propertyKey: keyOrContext as string | symbol };
    classRoutes.set(owner, [...(classRoutes.get(owner) ?? []), entry]);
    onApplied?.(owner);
  };
  return decorator as RouteDecorator;
}

function fixFor(kind: string, name: string, path: string): string {
  if (kind === "class") return `put it on a method, and give the class a path prefix with @controller(${JSON.stringify(path)})`;
  return `write a method instead, e.g. ${name} handle(request: Request) { ... }`;
}

/**
 * The route entries written on a class (its own, not inherited), by either
 * decorator semantics.
 * @example
 * class Users { @get("/users") list() { return []; } }
 * readRouteMetadata(Users); // [{ methods: ["GET"], path: "/users", propertyKey: "list", options: {} }]
 */
export function readRouteMetadata(ctor: Function): RouteMetadata[] {
  const legacy = classRoutes.get(ctor) ?? [];
  const metadata = ownMetadata(ctor);
  const standard = (metadata && metadataRoutes.get(metadata)) ?? [];
  if (legacy.length > 0 && standard.length > 0) {
    throw misuse(`${ctor.name} has routes from both legacy (experimentalDecorators) and standard decorators; compile it with one setting`);
  }
  return legacy.length > 0 ? legacy : standard;
}

/**
 * A controller's path prefix (from {@link controller}), `""` when it has none.
 * @example
 * @controller("/users") class Users {}
 * readControllerPrefix(Users); // "/users"
 */
export function readControllerPrefix(ctor: Function): string {
  return controllerPrefixes.get(ctor) ?? "";
}

/**
 * A controller's guards (from `@controller(prefix, { guards })`), `[]` when it has none.
 * @example
 * @controller("/admin", { guards: [auth] }) class Admin {}
 * readControllerGuards(Admin); // [auth]
 */
export function readControllerGuards(ctor: Function): readonly Guard[] {
  return controllerGuards.get(ctor) ?? [];
}

function ownMetadata(ctor: Function): object | undefined {
  if (!Object.prototype.hasOwnProperty.call(ctor, SYMBOL_METADATA)) return undefined;
  const metadata = (ctor as unknown as Record<symbol, unknown>)[SYMBOL_METADATA];
  return typeof metadata === "object" && metadata !== null ? metadata : undefined;
}

/** @internal Note that `ctor` is a class the app knows, so its standard-decorated methods can be bound to its instance. */
export function rememberClass(ctor: Function): void {
  const metadata = ownMetadata(ctor);
  if (metadata) metadataClasses.set(metadata, ctor);
}

/** @internal The class of a {@link DecoratedSite}, when it is known. */
export function classOfSite(site: DecoratedSite): Function | undefined {
  return typeof site === "function" ? site : metadataClasses.get(site);
}

/** @internal The entries a standard decorator wrote under a metadata object whose class never became known, with their methods. */
export function unboundRoutes(site: DecoratedSite): Array<{ entry: RouteMetadata; method: Function }> {
  return (metadataRoutes.get(site) ?? []).map((entry) => ({ entry, method: standardMethods.get(entry)! }));
}

/**
 * @internal Every class decorated with `@controller`, in declaration order: the
 * app warns at startup about one that no app or blueprint registered.
 */
export const declaredControllers = new Set<Function>();

/** Options of {@link controller}. */
export interface ControllerOptions {
  /** Guards of every route of the controller: after the app's and its blueprints', before each route's own. */
  guards?: Guard[];
}

/**
 * Mark a class as a controller whose routes live under `prefix`.
 * @param prefix - path prefix of every route of the class; default `""`
 * @param options - `guards` for every route of the class (see {@link ControllerOptions}); default none
 * @example
 * @controller("/users", { guards: [Authenticated({ verify })] })
 * class Users { @get("/{id}") show(req: Request) { return { id: req.params.id }; } }
 * app.register(Users);
 */
export function controller(prefix = "", options: ControllerOptions = {}): ControllerDecorator {
  if (typeof prefix !== "string") throw misuse(`@controller takes a path prefix: write @controller() or @controller("/users"), not @controller alone`);
  const guards = options.guards === undefined ? undefined : checkGuards(options.guards, `@controller(${JSON.stringify(prefix)})`);
  const record = (target: Function): void => {
    controllerPrefixes.set(target, prefix);
    if (guards !== undefined && guards.length > 0) controllerGuards.set(target, guards);
  };
  const decorator = (target: unknown, context?: unknown): void => {
    if (isDecoratorContext(context)) {
      if (context.kind !== "class") throw misuse(`@controller(${JSON.stringify(prefix)}) decorates classes, not the ${context.kind} ${String(context.name)}: use @get/@post/... on methods`);
      record(target as Function);
      declaredControllers.add(target as Function);
      if (context.metadata) metadataClasses.set(context.metadata, target as Function);
      return;
    }
    if (typeof target !== "function" || context !== undefined) {
      throw misuse(`@controller(${JSON.stringify(prefix)}) decorates classes, not ${context === undefined ? "this value" : `the member ${String(context)}`}: use @get/@post/... on methods`);
    }
    record(target);
    declaredControllers.add(target);
  };
  return decorator as ControllerDecorator;
}

/**
 * Route a method for several HTTP methods (Cello's `@app.route(path, methods=[...])`).
 * @param path - the route's path, e.g. `"/items"` or `"/items/{id}"`
 * @param options - `methods` (required) and per-route {@link RouteOptions}
 * @example @route("/items", { methods: ["GET", "POST"] }) items(req: Request) { ... }
 */
export function route(path: string, options: RouteOptions & { methods: HttpMethod[] }): RouteDecorator {
  if (typeof path !== "string") throw misuse(`@route needs a path: write @route("/path", { methods: ["GET", "POST"] }), not @route alone`);
  const { methods, ...rest } = (options ?? {}) as Partial<RouteOptions & { methods: HttpMethod[] }>;
  if (!Array.isArray(methods) || methods.length === 0) throw misuse(`@route(${JSON.stringify(path)}) needs methods: write @route(${JSON.stringify(path)}, { methods: ["GET", "POST"] })`);
  return routeDecorator("@route", { methods: [...methods], path, options: rest });
}

function methodDecorator(method: HttpMethod, label: string) {
  return (path: string, options: RouteOptions = {}): RouteDecorator => routeDecorator(label, { methods: [method], path, options });
}

/**
 * Route a method for GET (HEAD is answered from it). Use with `app.register(Controller)`.
 * @param path - the route's path, e.g. `"/users/{id}"`
 * @param options - per-route {@link RouteOptions}; default `{}`
 * @example
 * class Users { @get("/users/{id}") show(req: Request) { return { id: req.params.id }; } }
 * app.register(Users);
 */
export const get = methodDecorator("GET", "@get");
/** Route a method for POST. */
export const post = methodDecorator("POST", "@post");
/** Route a method for PUT. */
export const put = methodDecorator("PUT", "@put");
/** Route a method for PATCH. */
export const patch = methodDecorator("PATCH", "@patch");
/** Route a method for DELETE (`delete` is a reserved word, hence `del`). */
export const del = methodDecorator("DELETE", "@del");
/** Route a method for OPTIONS. */
export const options = methodDecorator("OPTIONS", "@options");
/** Route a method for HEAD. */
export const head = methodDecorator("HEAD", "@head");
