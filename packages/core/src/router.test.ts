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
