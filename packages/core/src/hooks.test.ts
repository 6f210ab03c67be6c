import { describe, expect, test } from "vitest";
import { App } from "./app.js";
import { CelloError } from "./errors.js";
import type { HookName } from "./hooks.js";
import { celloErrorOf } from "./testing.js";

const thrown = (fn: () => unknown): [string, string] => {
  const err = celloErrorOf(fn);
  return [err.code, err.message];
};


describe("app.addHook checks its arguments", () => {
  const HOOKS = "the hooks are onRequest, onRouted, onResponse, onFinish, onStreamOpen, onStreamClose";

  test.each([
    ["a misspelt hook", "onReqest", `Invalid option: app.addHook("onReqest", fn): no such hook; ${HOOKS}`],
    ["a hook in the wrong case", "onrequest", `Invalid option: app.addHook("onrequest", fn): no such hook (did you mean "onRequest"?); ${HOOKS}`],
    ["a method of the registry, not a hook", "add", `Invalid option: app.addHook("add", fn): no such hook; ${HOOKS}`],
    ["an inherited property", "constructor", `Invalid option: app.addHook("constructor", fn): no such hook; ${HOOKS}`],
    ["a name that is not a string", 42, `Invalid option: app.addHook(42, fn): no such hook; ${HOOKS}`],
  ])("%s is CELLO_INVALID_OPTION naming the hooks", (_what, name, message) => {
    expect(thrown(() => new App().addHook(name as HookName, () => {}))).toEqual(["CELLO_INVALID_OPTION", message]);
  });

  test.each([
    ["undefined", undefined, "undefined"],
    ["a string", "log", '"log"'],
    ["an object", { onRequest() {} }, "an object"],
  ])("a hook that is %s is CELLO_INVALID_OPTION saying what it got", (_what, fn, described) => {
    expect(thrown(() => new App().addHook("onResponse", fn as never))).toEqual([
      "CELLO_INVALID_OPTION",
      `Invalid option: app.addHook("onResponse", fn): fn must be a function, got ${described}`,
    ]);
  });

  test("a refused hook is not added: the app answers as without it", async () => {
    const app = new App();
    app.get("/", () => "ok");
    expect(() => app.addHook("onResponse", "not a function" as never)).toThrow(CelloError);
    const seen: string[] = [];
    app.addHook("onResponse", (request) => void seen.push(request.path));
    const server = await app.listen({ port: 0 });
    try {
      const response = await fetch(`${server.url}/`);
      expect([response.status, await response.text()]).toEqual([200, "ok"]);
      expect(seen).toEqual(["/"]);
    } finally {
      await app.close();
    }
  });
});
