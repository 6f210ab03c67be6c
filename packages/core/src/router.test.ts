import { describe, expect, it } from "vitest";
import { CelloError } from "./errors.js";
import { createRouter, joinPaths, toRouterPath } from "./router.js";

describe("router", () => {
  it("accepts Cello's {name} and find-my-way's :name, params as strings", () => {
    const router = createRouter<string>();
    router.add("GET", "/deploy/{deploy_id}/progress", "a");
    router.add("GET", "/users/:id/posts/:postId", "b");
    const deploy = router.find("GET", "/deploy/42/progress");
    expect([deploy?.store, deploy?.params]).toEqual(["a", { deploy_id: "42" }]);
    const post = router.find("GET", "/users/7/posts/x%20y");
    expect([post?.store, post?.params]).toEqual(["b", { id: "7", postId: "x y" }]);
  });

  it("matches a trailing wildcard", () => {
    const router = createRouter<string>();
    router.add("GET", "/static/*", "files");
    expect(router.find("GET", "/static/css/site.css")?.params).toEqual({ "*": "css/site.css" });
  });

  it("rejects a duplicate route with a clear error naming it", () => {
    const router = createRouter<string>();
    router.add("GET", "/a/{id}", "x");
    expect(() => router.add("GET", "/a/{id}", "y")).toThrow(CelloError);
    expect(() => router.add("GET", "/a/:id", "y")).toThrow("Duplicate route: GET /a/:id is already registered");
    router.add("POST", "/a/{id}", "z"); // another method is fine
  });

  it("names both the new and the existing pattern in a duplicate-route error", () => {
    const router = createRouter<string>();
    router.add("GET", "/users/{id}", "x");
    router.add("GET", "/users/{id}/posts", "y");
    expect(() => router.add("GET", "/users/{user_id}", "z")).toThrow(
      new CelloError("CELLO_DUPLICATE_ROUTE", "GET /users/{user_id} is already registered (the existing route is GET /users/{id})"),
    );
    expect(() => router.add("GET", "/users/:name/posts", "z")).toThrow(
      "Duplicate route: GET /users/:name/posts is already registered (the existing route is GET /users/{id}/posts)",
    );
  });

  it.each([
    ["/a/{bad-name}", 'malformed parameter {bad-name} in "/a/{bad-name}": "-" is not allowed in a parameter name (use letters, digits, _ or $, e.g. {bad_name})'],
    ["/a/{user id.x}", 'malformed parameter {user id.x} in "/a/{user id.x}": " ", "." are not allowed in a parameter name (use letters, digits, _ or $, e.g. {user_id_x})'],
    ["/a/{1st}", 'malformed parameter {1st} in "/a/{1st}": a parameter name must not start with a digit'],
    ["/a/{}", 'malformed parameter {} in "/a/{}": the parameter has no name'],
    ["/a/{id", 'malformed parameter in "/a/{id": the "{" at position 3 is never closed (write {name})'],
    ["/a/{id/b/{x}", 'malformed parameter in "/a/{id/b/{x}": the "{" at position 3 is never closed (write {name})'],
    ["/a/{ok}/id}", 'malformed parameter in "/a/{ok}/id}": a "}" without its "{" at position 10'],
  ])("names what is wrong in the malformed parameter of %s", (path, message) => {
    expect(() => toRouterPath(path)).toThrow(new CelloError("CELLO_INVALID_ROUTE", message));
  });

  it("refuses a parameter name used twice in one path, in either syntax", () => {
    expect(() => toRouterPath("/users/{id}/posts/{id}")).toThrow(
      new CelloError(
        "CELLO_INVALID_ROUTE",
        'parameter {id} appears twice in "/users/{id}/posts/{id}": request.params holds one value per name; rename one (e.g. {id_2})',
      ),
    );
    expect(() => toRouterPath("/users/{id}/posts/:id")).toThrow(/parameter \{id\} appears twice/);
    expect(toRouterPath("/users/{id}/posts/{post_id}")).toBe("/users/:id/posts/:post_id");
    expect(toRouterPath("/time/12::30/{id}")).toBe("/time/12::30/:id"); // `::` is an escaped colon, not a parameter
  });

  it("answers HEAD from GET and lists allowed methods", () => {
    const router = createRouter<string>();
    router.add("GET", "/x", "get");
    router.add("POST", "/x", "post");
    expect(router.find("HEAD", "/x")?.store).toBe("get");
    expect(router.allowedMethods("/x")).toEqual(["GET", "POST", "HEAD"]);
    expect(router.allowedMethods("/nothing")).toEqual([]);
  });

  it("refuses malformed paths", () => {
    expect(() => toRouterPath("no-slash")).toThrow(/must start with/);
    expect(() => toRouterPath("/a/*/b")).toThrow(/wildcard/);
    expect(() => toRouterPath("/a/{bad-name}")).toThrow(/malformed/);
  });

  it("joins prefixes", () => {
    expect(joinPaths("/api", "/users")).toBe("/api/users");
    expect(joinPaths("/api/", "/")).toBe("/api");
    expect(joinPaths("", "/")).toBe("/");
  });
});
