/**
 * Decorators only write metadata (reflect-metadata, keys below); the explorer
 * (explorer.ts) reads it into plain route definitions and the app registers them.
 * Nothing here reads `design:*` metadata, so tsc, tsx and vitest agree.
 */
import "reflect-metadata";
import type { HttpMethod } from "./router.js";
import type { RouteOptions } from "./routes.js";

/** Metadata key holding a class's {@link RouteMetadata} list. */
export const ROUTES_METADATA = "cello:routes";
/** Metadata key holding a controller's path prefix. */
export const CONTROLLER_METADATA = "cello:controller";

/** What a route decorator records on a class. */
export interface RouteMetadata {
  methods: HttpMethod[];
  path: string;
  propertyKey: string | symbol;
  options: RouteOptions;
  /** The App or Blueprint whose `@app.get(...)` wrote this entry; undefined for `@get(...)`. */
  owner?: object;
}

/** A legacy (experimentalDecorators) method decorator. */
export type RouteDecorator = (target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor) => void;

/** Append one route entry to the class that declares `target`'s method. */
export function writeRouteMetadata(target: object, entry: RouteMetadata): void {
  // Legacy decorators get the prototype for instance methods and the class for static ones.
  const ctor = typeof target === "function" ? target : target.constructor;
  const own = (Reflect.getOwnMetadata(ROUTES_METADATA, ctor) as RouteMetadata[] | undefined) ?? [];
  Reflect.defineMetadata(ROUTES_METADATA, [...own, entry], ctor);
}

/** The route entries written on a class (own, not inherited). */
export function readRouteMetadata(ctor: Function): RouteMetadata[] {
  return (Reflect.getOwnMetadata(ROUTES_METADATA, ctor) as RouteMetadata[] | undefined) ?? [];
}

/** A controller's prefix, `""` when it has none. */
export function readControllerPrefix(ctor: Function): string {
  return (Reflect.getOwnMetadata(CONTROLLER_METADATA, ctor) as string | undefined) ?? "";
}

/**
 * @internal Every class decorated with `@controller`, in declaration order: the
 * app warns at startup about one that no app or blueprint registered.
 */
export const declaredControllers = new Set<Function>();

/**
 * Mark a class as a controller whose routes live under `prefix`.
 * @example
 * @controller("/users")
 * class Users { @get("/{id}") show(req: Request) { return { id: req.params.id }; } }
 * app.register(Users);
 */
export function controller(prefix = ""): (target: Function) => void {
  return (target) => {
    Reflect.defineMetadata(CONTROLLER_METADATA, prefix, target);
    declaredControllers.add(target);
  };
}

/**
 * Route a method for several HTTP methods (Cello's `@app.route(path, methods=[...])`).
 * @example @route("/items", { methods: ["GET", "POST"] }) items(req: Request) { ... }
 */
export function route(path: string, options: RouteOptions & { methods: HttpMethod[] }): RouteDecorator {
  const { methods, ...rest } = options;
  return (target, propertyKey) => writeRouteMetadata(target, { methods: [...methods], path, propertyKey, options: rest });
}

function methodDecorator(method: HttpMethod) {
  return (path: string, options: RouteOptions = {}): RouteDecorator =>
    (target, propertyKey) => writeRouteMetadata(target, { methods: [method], path, propertyKey, options });
}

/** Route a method for GET (HEAD is answered from it). Use with `app.register(Controller)`. */
export const get = methodDecorator("GET");
/** Route a method for POST. */
export const post = methodDecorator("POST");
/** Route a method for PUT. */
export const put = methodDecorator("PUT");
/** Route a method for PATCH. */
export const patch = methodDecorator("PATCH");
/** Route a method for DELETE (`delete` is a reserved word, hence `del`). */
export const del = methodDecorator("DELETE");
/** Route a method for OPTIONS. */
export const options = methodDecorator("OPTIONS");
/** Route a method for HEAD. */
export const head = methodDecorator("HEAD");
