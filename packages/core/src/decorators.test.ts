import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { Blueprint } from "./blueprint.js";
import { controller, del, get, post, readControllerPrefix, readRouteMetadata, route } from "./decorators.js";
import { CelloError } from "./errors.js";
import { exploreRoutes } from "./explorer.js";
import type { Request } from "./request.js";
import { celloErrorOf, recordingLogger, startWithCleanup } from "./testing.js";

const start = startWithCleanup();

@controller("/users")
class Users {
  greeting = "hello";

  @get("/{id}")
  show(request: Request) {
    return { id: request.params.id, greeting: this.greeting };
  }

  @post("/", { bodyLimit: 10 })
  create() {
    return "created";
  }

  @del("/{id}")
  remove() {}

  @route("/bulk", { methods: ["PUT", "PATCH"] })
  bulk() {}
}

describe("decorators write metadata only", () => {
  it("records routes and the prefix on the class, readable without a server", () => {
    expect(readControllerPrefix(Users)).toBe("/users");
    expect(readRouteMetadata(Users).map((m) => [m.methods, m.path, m.propertyKey, m.options])).toEqual([
      [["GET"], "/{id}", "show", {}],
      [["POST"], "/", "create", { bodyLimit: 10 }],
      [["DELETE"], "/{id}", "remove", {}],
      [["PUT", "PATCH"], "/bulk", "bulk", {}],
    ]);
  });

  it("the explorer turns metadata into route definitions bound to one instance", async () => {
    const instance = new Users();
    const definitions = exploreRoutes(Users, instance);
    expect(definitions.map((d) => `${d.methods.join("|")} ${d.path}`)).toEqual([
      "GET /users/{id}",
      "POST /users",
      "DELETE /users/{id}",
      "PUT|PATCH /users/bulk",
    ]);
    instance.greeting = "bound";
    expect(definitions[0]!.handler({ params: { id: "9" } } as unknown as Request)).toEqual({ id: "9", greeting: "bound" });
  });

  it("@app.get entries belong to that app only", () => {
    const app = new App();
    const other = new App();
    class Mixed {
      @app.get("/mine")
      mine() {}
      @other.get("/theirs")
      theirs() {}
    }
    expect(exploreRoutes(Mixed, new Mixed(), app).map((d) => d.path)).toEqual(["/mine"]);
    expect(exploreRoutes(Mixed, new Mixed(), other).map((d) => d.path)).toEqual(["/theirs"]);
    expect(exploreRoutes(Mixed, new Mixed()).map((d) => d.path)).toEqual([]);
  });
});

/**
 * Apply decorators the way a compiler emitting standard (TC39) decorators does
 * (TypeScript without experimentalDecorators, esbuild/tsx): each method decorator
 * gets `(method, context)` with one shared `context.metadata`, static initializers
 * run once the class exists, and the class then carries the metadata as
 * `Class[Symbol.metadata]`. vitest 4 cannot compile standard decorators itself;
 * decorators-tools.test.ts runs the real compilers.
 */
function applyStandard(ctor: Function, methods: Record<string, Array<(value: Function, context: ClassMethodDecoratorContext) => void>>, classDecorators: Array<(value: Function, context: ClassDecoratorContext) => void> = []) {
  const metadata: Record<PropertyKey, unknown> = Object.create(null);
  const staticInitializers: Array<() => void> = [];
  for (const [name, decorators] of Object.entries(methods)) {
    const isStatic = typeof (ctor as unknown as Record<string, unknown>)[name] === "function";
    const holder = (isStatic ? ctor : ctor.prototype) as Record<string, Function>;
    for (const decorator of [...decorators].reverse()) {
      const context = {
        kind: "method",
        name,
        static: isStatic,
        private: false,
        metadata,
        access: { has: (o: object) => name in o, get: (o: Record<string, unknown>) => o[name] },
        addInitializer: (fn: () => void) => {
          if (isStatic) staticInitializers.push(() => fn.call(ctor));
        },
      } as unknown as ClassMethodDecoratorContext;
      decorator(holder[name]!, context);
    }
  }
  for (const decorator of classDecorators) decorator(ctor, { kind: "class", name: ctor.name, metadata, addInitializer() {} } as unknown as ClassDecoratorContext);
  Object.defineProperty(ctor, Symbol.for("Symbol.metadata"), { value: metadata, enumerable: true, configurable: true, writable: true });
  for (const run of staticInitializers) run();
}

function contextOf(kind: string, name: string, extra: Record<string, unknown> = {}): DecoratorContext {
  return { kind, name, static: false, private: false, metadata: {}, addInitializer() {}, ...extra } as unknown as DecoratorContext;
}

describe("standard (TC39) decorators", () => {
  it("polyfill Symbol.metadata with the symbol esbuild falls back to, so tsc and tsx output agree", () => {
    expect((Symbol as unknown as { metadata: symbol }).metadata).toBe(Symbol.for("Symbol.metadata"));
  });

  it("record the same routes and prefix as legacy decorators", () => {
    class StandardUsers {
      greeting = "hello";
      show(request: Request) {
        return { id: request.params.id, greeting: this.greeting };
      }
      create() {}
      remove() {}
      bulk() {}
    }
    applyStandard(
      StandardUsers,
      { show: [get("/{id}")], create: [post("/", { bodyLimit: 10 })], remove: [del("/{id}")], bulk: [route("/bulk", { methods: ["PUT", "PATCH"] })] },
      [controller("/users")],
    );
    expect(readControllerPrefix(StandardUsers)).toBe("/users");
    const strip = (entries: ReturnType<typeof readRouteMetadata>) => entries.map((m) => [m.methods, m.path, m.propertyKey, m.options]);
    expect(strip(readRouteMetadata(StandardUsers))).toEqual(strip(readRouteMetadata(Users)));
    const instance = new StandardUsers();
    const definitions = exploreRoutes(StandardUsers, instance);
    expect(definitions.map((d) => `${d.methods.join("|")} ${d.path}`)).toEqual(["GET /users/{id}", "POST /users", "DELETE /users/{id}", "PUT|PATCH /users/bulk"]);
    expect(definitions[0]!.handler({ params: { id: "9" } } as unknown as Request)).toEqual({ id: "9", greeting: "hello" });
  });

  it("@app.get binds `this` to the instance of a registered class, and to the class for a static method", async () => {
    const app = new App();
    class Registered {
      greeting = "instance";
      hello() {
        return this.greeting;
      }
    }
    class WithStatic {
      static greeting = "static";
      static hello() {
        return this.greeting;
      }
    }
    applyStandard(Registered, { hello: [app.get("/registered")] });
    applyStandard(WithStatic, { hello: [app.get("/static")] });
    app.register(Registered);
    const client = await start(app);
    expect((await client.get("/registered")).text).toBe("instance");
    expect((await client.get("/static")).text).toBe("static");
  });

  it("@app.get in a class the app never saw still routes; using `this` there fails with an error naming the fix", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    class Unseen {
      plain() {
        return "no this needed";
      }
      usesThis(this: { greeting: string }) {
        return this.greeting;
      }
    }
    applyStandard(Unseen, { plain: [app.get("/plain")], usesThis: [app.get("/uses-this")] });
    const client = await start(app);
    expect((await client.get("/plain")).text).toBe("no this needed");
    const failed = await client.get("/uses-this");
    expect(failed.status).toBe(500);
    expect(failed.json).toEqual({ error: "Internal Server Error", status: 500 });
    const [, err] = logger.errors.at(-1)!;
    expect(err).toBeInstanceOf(CelloError);
    expect((err as CelloError).code).toBe("CELLO_INVALID_DECORATOR");
    expect((err as CelloError).message).toMatch(/usesThis\(\) \(GET \/uses-this\) used `this`.*app\.register\(YourClass\)/);
  });

  it("refuse anything but a public method, naming the fix", () => {
    const cases: Array<[DecoratorContext, RegExp]> = [
      [contextOf("field", "name"), /@get\("\/x"\) decorates methods, not a field \(name\): write a method instead/],
      [contextOf("getter", "name"), /not a getter/],
      [contextOf("accessor", "name"), /not an accessor \(name\)/],
      [contextOf("class", "Users"), /not a class \(Users\): put it on a method, and give the class a path prefix with @controller\("\/x"\)/],
      [contextOf("method", "#secret", { private: true }), /cannot route the private method #secret: drop the "#"/],
      [contextOf("method", "noMetadata", { metadata: undefined }), /no context\.metadata; set "experimentalDecorators": true/],
    ];
    for (const [context, message] of cases) {
      expect(() => (get("/x") as (value: unknown, context: DecoratorContext) => void)(() => {}, context), context.kind).toThrow(message);
    }
    expect(() => (controller("/x") as (value: unknown, context: DecoratorContext) => void)(() => {}, contextOf("method", "show"))).toThrow(
      /@controller\("\/x"\) decorates classes, not the method show: use @get\/@post\/\.\.\. on methods/,
    );
  });

  it("a class with routes from both semantics is refused", () => {
    class Mixed {
      a() {}
      b() {}
    }
    applyStandard(Mixed, { a: [get("/a")] });
    get("/b")(Mixed.prototype, "b", Object.getOwnPropertyDescriptor(Mixed.prototype, "b")!);
    expect(() => new App().register(Mixed)).toThrow(/Mixed has routes from both legacy \(experimentalDecorators\) and standard decorators/);
  });
});

describe("decorator misuse fails at once with a CelloError naming the fix", () => {
  function misuse(fn: () => unknown): CelloError {
    const err = celloErrorOf(fn);
    expect(err.code).toBe("CELLO_INVALID_DECORATOR");
    return err;
  }

  it("a route decorator on a field, an accessor or a class (legacy)", () => {
    expect(
      misuse(() => {
        class Field {
          // @ts-expect-error a route decorator on a field does not type-check either
          @get("/x") handler = () => "x";
        }
        return Field;
      }).message,
    ).toMatch(/@get\("\/x"\) decorates methods, not the field Field\.handler: write a method instead, e.g\. @get\("\/x"\) handle\(request: Request\)/);
    expect(
      misuse(() => {
        class Accessor {
          @get("/x") get value() {
            return 1;
          }
        }
        return Accessor;
      }).message,
    ).toMatch(/not the accessor Accessor\.value/);
    expect(
      misuse(() => {
        // @ts-expect-error a route decorator on a class does not type-check either
        @post("/x")
        class OnClass {}
        return OnClass;
      }).message,
    ).toMatch(/@post\("\/x"\) decorates methods, not the class OnClass: .*@controller\("\/x"\)/);
  });

  it("a decorator used without its parentheses", () => {
    const app = new App();
    expect(
      misuse(() => {
        class Bare {
          // @ts-expect-error @get needs a path
          @get
          show() {}
        }
        return Bare;
      }).message,
    ).toMatch(/@get needs a path: write @get\("\/path"\), not @get alone/);
    expect(
      misuse(() => {
        class BareApp {
          // @ts-expect-error @app.get needs a path
          @app.get
          show() {}
        }
        return BareApp;
      }).message,
    ).toMatch(/get\(\) was called without its app: write @app\.get\("\/path"\) as a decorator/);
    expect(
      misuse(() => {
        // @ts-expect-error @controller needs its parentheses
        @controller
        class BareController {}
        return BareController;
      }).message,
    ).toMatch(/write @controller\(\) or @controller\("\/users"\), not @controller alone/);
    expect(misuse(() => route("/x", { methods: [] })).message).toMatch(/@route\("\/x"\) needs methods/);
  });

  it("@controller on a method", () => {
    expect(
      misuse(() => {
        class OnMethod {
          // @ts-expect-error @controller on a method does not type-check either
          @controller("/x")
          show() {}
        }
        return OnMethod;
      }).message,
    ).toMatch(/@controller\("\/x"\) decorates classes, not the member show/);
  });

  it("register() of something that is not a decorated class, or a class decorated for another app", () => {
    const app = new App();
    const other = new App();
    expect(misuse(() => app.register((() => {}) as unknown as Function)).message).toMatch(/app\.register\(\) takes a class .*got the function .*which is not a class/);
    expect(misuse(() => app.register({} as Function)).message).toMatch(/got an object/);
    class Plain {
      show() {}
    }
    // A class with no route decorator at all is registered with a warning (startup.test.ts), not an error.
    expect(() => new App({ logger: recordingLogger() }).register(Plain)).not.toThrow();
    class TheirRoutes {
      @other.get("/theirs")
      theirs() {}
    }
    expect(misuse(() => app.register(TheirRoutes)).message).toMatch(/its routes were written by another App's or Blueprint's decorators/);
    class OwnRoutes {
      @app.get("/own")
      own() {}
    }
    expect(() => app.register(OwnRoutes)).not.toThrow();
  });

  it("a decorated class whose constructor needs arguments", async () => {
    class NeedsArgs {
      readonly name: string;
      constructor(db: { name: string }) {
        this.name = db.name;
      }
      @get("/x")
      show() {
        return this.name;
      }
    }
    const err = misuse(() => new App().register(NeedsArgs));
    expect(err.message).toMatch(/^Invalid decorator use: could not create NeedsArgs: the app makes one instance of each decorated class, with no arguments \(Cannot read properties of undefined \(reading 'name'\)\)$/);
    expect(err.cause).toBeInstanceOf(TypeError);
  });
});
