import { describe, expect, it } from "vitest";
import { App } from "./app.js";
import { controller, del, get, post, readControllerPrefix, readRouteMetadata, route } from "./decorators.js";
import { exploreRoutes } from "./explorer.js";
import type { Request } from "./request.js";

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
