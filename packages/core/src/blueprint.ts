/**
 * Blueprint: a group of routes under a prefix (Flask's and Cello's Blueprint),
 * registered on an app with `app.registerBlueprint(bp)`. Blueprints nest.
 */
import { CelloError } from "./errors.js";
import { checkGuards, type Guard } from "./guards/guard.js";
import { checkController, exploreDecorated, exploreRoutes, noRoutesWarning } from "./explorer.js";
import { joinPaths } from "./router.js";
import { RouteCollector, type RouteDefinition } from "./routes.js";

/** Options of `new Blueprint(prefix, options)`. */
export interface BlueprintOptions {
  /**
   * Guards of every route of the blueprint, its controllers' and its nested
   * blueprints' included: after the app's and the enclosing blueprints', before
   * the controller's and the route's own.
   */
  guards?: Guard[];
}

/**
 * @example
 * const api = new Blueprint("/api");
 * api.get("/users/{id}", (req) => ({ id: req.params.id }));
 * const v1 = new Blueprint("/v1");
 * v1.registerBlueprint(api); // /v1/api/users/{id}
 * app.registerBlueprint(v1);
 * const admin = new Blueprint("/admin", { guards: [Authenticated({ verify }), RoleGuard(["admin"])] });
 */
export class Blueprint extends RouteCollector {
  /** The prefix every route of this blueprint gets. */
  readonly prefix: string;
  readonly #routes: RouteDefinition[] = [];
  readonly #children: Blueprint[] = [];
  readonly #controllers: Function[] = [];
  /** Controllers registered with no route decorator, reported when the blueprint is registered on an app. */
  readonly #withoutRoutes: Function[] = [];

  readonly #guards: readonly Guard[];

  /**
   * @param prefix - The path prefix of every route; default `""`.
   * @param options - `guards` for every route (see {@link BlueprintOptions}); default none.
   */
  constructor(prefix = "", options: BlueprintOptions = {}) {
    super();
    this.prefix = prefix;
    this.#guards = options.guards === undefined ? [] : checkGuards(options.guards, `Blueprint "${prefix}"`);
  }

  #registered = false;

  /** @internal Keep one definition, to be prefixed and handed to the app by `collectRoutes`. */
  protected addRoute(definition: RouteDefinition): void {
    this.#assertOpen(`${definition.methods.join("|")} ${definition.path}`);
    this.#routes.push(definition);
  }

  #assertOpen(what: string): void {
    // Routes are copied into the app at registration: a later one would be silently lost.
    if (this.#registered) throw new CelloError("CELLO_INVALID_ROUTE", `${what} was added to Blueprint "${this.prefix}" after it was registered; add routes first`);
  }

  /** Nest another blueprint under this one's prefix. */
  registerBlueprint(child: Blueprint): this {
    this.#assertOpen(`Blueprint "${child.prefix}"`);
    this.#children.push(child);
    return this;
  }

  /** Add a controller class (decorated with `@get`, `@post`, ...) to this blueprint. */
  register(controllerClass: Function): this {
    this.#assertOpen(`controller ${controllerClass.name}`);
    if (!checkController(controllerClass, this, "blueprint.register")) this.#withoutRoutes.push(controllerClass);
    this.#controllers.push(controllerClass);
    return this;
  }

  /**
   * @internal Every route of this blueprint and its children, prefixed.
   * Decorated classes are instantiated here, once, so call it when they are defined.
   */
  collectRoutes(instantiate: (ctor: Function) => object, warn: (message: string) => void): RouteDefinition[] {
    this.#registered = true;
    // The blueprint has no logger: the app it is registered on warns about classes that add no route.
    for (const ctor of this.#withoutRoutes) warn(noRoutesWarning("blueprint.register", ctor));
    const own: RouteDefinition[] = [...this.#routes];
    own.push(...exploreDecorated(this, this.decoratedSites, instantiate));
    for (const ctor of this.#controllers) own.push(...exploreRoutes(ctor, instantiate(ctor)));
    for (const child of this.#children) own.push(...child.collectRoutes(instantiate, warn));
    const guards = this.#guards;
    return own.map((definition) => ({
      ...definition,
      path: joinPaths(this.prefix, definition.path),
      // Outer first: this blueprint's guards before those of what it contains.
      options: guards.length > 0 ? { ...definition.options, guards: [...guards, ...(definition.options.guards ?? [])] } : definition.options,
    }));
  }
}
