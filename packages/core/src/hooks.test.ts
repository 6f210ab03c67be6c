import { describe, expect, test } from "vitest";
import { App } from "./app.js";
import { CelloError } from "./errors.js";
import type { HookName } from "./hooks.js";
import { silentLogger } from "./logger.js";
import { Response } from "./response.js";
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

describe("onRequest and onRouted hooks, sync and async mixed", () => {
  test("run in order; a sync throw, a rejection and an early Response (also from a thenable) each answer the request", async () => {
    const app = new App({ logger: silentLogger });
    const seen: string[] = [];
    app.addHook("onRequest", (request) => void seen.push(`req-sync ${request.path}`));
    app.addHook("onRequest", async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      seen.push(`req-async ${request.path}`);
    });
    app.addHook("onRouted", (request) => {
      seen.push(`routed-sync ${request.path}`);
      if (request.path === "/throw") throw new Error("sync hook failed");
    });
    app.addHook("onRouted", (request) => {
      if (request.path === "/reject") return Promise.reject(new Error("async hook failed"));
      // A thenable that is not a Promise is waited for, as `await` would.
      if (request.path === "/thenable") return { then: (resolve: (value: unknown) => void) => resolve(Response.text("early", { status: 202 })) } as never;
      if (request.path === "/early") return Response.text("sync early", { status: 203 });
      // A promise that resolves to nothing: the hooks after it still run.
      if (request.path === "/ok") return Promise.resolve();
    });
    app.addHook("onRouted", (request) => void seen.push(`routed-last ${request.path}`));
    for (const path of ["/ok", "/throw", "/reject", "/thenable", "/early"]) app.get(path, (request) => `handler ${request.path}`);
    const server = await app.listen({ port: 0 });
    try {
      const answers: Array<[string, number, string]> = [];
      for (const path of ["/ok", "/throw", "/reject", "/thenable", "/early", "/missing"]) {
        const response = await fetch(`${server.url}${path}`);
        answers.push([path, response.status, await response.text()]);
      }
      expect(answers.map(([path, status]) => [path, status])).toEqual([
        ["/ok", 200],
        ["/throw", 500],
        ["/reject", 500],
        ["/thenable", 202],
        ["/early", 203],
        ["/missing", 404],
      ]);
      expect(answers[0]![2]).toBe("handler /ok");
      expect(answers[3]![2]).toBe("early");
      expect(answers[4]![2]).toBe("sync early");
      expect(seen).toEqual([
        "req-sync /ok", "req-async /ok", "routed-sync /ok", "routed-last /ok",
        "req-sync /throw", "req-async /throw", "routed-sync /throw",
        "req-sync /reject", "req-async /reject", "routed-sync /reject",
        "req-sync /thenable", "req-async /thenable", "routed-sync /thenable",
        "req-sync /early", "req-async /early", "routed-sync /early",
        "req-sync /missing", "req-async /missing",
      ]);
    } finally {
      await app.close();
    }
  });
});
