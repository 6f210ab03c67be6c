// And, Or, Not: truth tables over real requests, what they attach, which
// refusal answers, and the OpenAPI requirements they add up to.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { HttpError } from "../errors.js";
import type { Request } from "../request.js";
import { recordingLogger, startWithCleanup } from "../testing.js";
import { Authenticated } from "./authenticated.js";
import { PermissionGuard, RoleGuard } from "./claims.js";
import { And, Not, Or, crossProduct } from "./combinators.js";
import type { Guard } from "./guard.js";

const start = startWithCleanup();

const allow: Guard = () => true;
const allowAsync: Guard = async () => true;
const forbid: Guard = () => false;
const unauthorized: Guard = async () => {
  throw HttpError.fromCode("CELLO_UNAUTHORIZED", "who are you", { headers: { "WWW-Authenticate": "Bearer" } });
};
const as = (id: string): Guard => () => ({ principal: { id } });

/** Status of GET /t on an app whose one route is guarded by `guard`; the body names the principal. */
async function verdicts(cases: Array<[Guard, number]>): Promise<Array<[number, number]>> {
  const app = new App({ logger: recordingLogger() });
  cases.forEach(([guard], i) => app.get(`/t/${i}`, (r) => ({ principal: r.principal ?? null }), { guards: [guard] }));
  const client = await start(app);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < cases.length; i++) out.push([(await client.get(`/t/${i}`)).status, cases[i]![1]]);
  return out;
}

describe("truth tables (sync and async members alike)", () => {
  it("And: admits only when every member admits", async () => {
    const table = await verdicts([
      [And([allow, allow]), 200],
      [And([allow, allowAsync]), 200],
      [And([allow, forbid]), 403],
      [And([forbid, allow]), 403],
      [And([forbid, forbid]), 403],
      [And([unauthorized, forbid]), 401],
    ]);
    expect(table.map(([got]) => got)).toEqual(table.map(([, want]) => want));
  });

  it("Or: admits when any member admits; refused, a 403 wins over a 401, and a 401 only when all were 401s", async () => {
    const table = await verdicts([
      [Or([allow, allow]), 200],
      [Or([forbid, allowAsync]), 200],
      [Or([allow, forbid]), 200],
      [Or([forbid, forbid]), 403],
      [Or([unauthorized, forbid]), 403],
      [Or([unauthorized, unauthorized]), 401],
    ]);
    expect(table.map(([got]) => got)).toEqual(table.map(([, want]) => want));
  });

  it("Not: admits what its member refuses (false or an HttpError), refuses (403) what it admits", async () => {
    const table = await verdicts([
      [Not(allow), 403],
      [Not(allowAsync), 403],
      [Not(forbid), 200],
      [Not(unauthorized), 200],
      [Not(Not(allow)), 200],
    ]);
    expect(table.map(([got]) => got)).toEqual(table.map(([, want]) => want));
  });

  it("Not never turns a guard's crash into a pass: it is a logged 500", async () => {
    const crash: Guard = () => {
      throw new Error("db down");
    };
    const table = await verdicts([[Not(crash), 500], [Or([crash, allow]), 500], [And([allow, crash]), 500]]);
    expect(table.map(([got]) => got)).toEqual([500, 500, 500]);
  });
});

describe("what combinators attach", () => {
  it("And passes each principal to the next member and keeps the last; Or keeps the winner's; Not keeps none", async () => {
    const app = new App()
      .get("/and", (r) => r.principal ?? null, { guards: [And([as("first"), RoleGuard(["x"], { roleKey: "id" }), as("second")])] })
      .get("/and-roles", (r) => r.principal ?? null, { guards: [And([() => ({ principal: { id: "ann", roles: ["admin"] } }), RoleGuard(["admin"])])] })
      .get("/or", (r) => r.principal ?? null, { guards: [Or([And([as("loser"), forbid]), as("winner")])] })
      .get("/or-anonymous", (r) => r.principal ?? null, { guards: [Or([And([as("loser"), forbid]), allowAsync])] })
      .get("/not", (r) => r.principal ?? null, { guards: [Not(And([as("inner"), forbid]))] });
    const client = await start(app);
    // RoleGuard reads `id` as the role list: "first" is no list, so And stops there.
    expect((await client.get("/and")).status).toBe(403);
    expect((await client.get("/and-roles")).json).toEqual({ id: "ann", roles: ["admin"] });
    expect((await client.get("/or")).json).toEqual({ id: "winner" });
    // The refused branch's principal is undone: the anonymous branch admits no one in particular.
    expect((await client.get("/or-anonymous")).status).toBe(204);
    expect((await client.get("/not")).status).toBe(204);
  });

  it("And keeps the earliest expiry of its members", async () => {
    const soon = Date.now() + 60_000;
    let seen: unknown;
    const spy: Guard = (request) => {
      seen = request.principal;
      return true;
    };
    const app = new App().get("/x", () => "ok", { guards: [And([() => ({ expiresAt: soon + 5000 }), () => ({ principal: { id: "a" }, expiresAt: soon }), spy])] });
    const combined = And([() => ({ expiresAt: soon + 5000 }), () => ({ principal: { id: "a" }, expiresAt: new Date(soon) })]);
    // The combination's own result: the earliest expiry, the last principal.
    expect(await combined({} as Request)).toEqual({ principal: { id: "a" }, expiresAt: soon });
    const client = await start(app);
    expect((await client.get("/x")).text).toBe("ok");
    expect(seen).toEqual({ id: "a" });
  });
});

describe("OpenAPI security of built-ins and combinations", () => {
  const bearer = Authenticated({ verify: () => undefined });
  it("built-ins describe themselves", () => {
    expect(bearer.security).toEqual({ schemes: { bearer: { type: "http", scheme: "bearer" } }, requirements: [{ bearer: [] }] });
    expect(Authenticated({ scheme: "jwt", bearerFormat: "JWT", cookie: "token", query: "access_token" }).security).toEqual({
      schemes: {
        jwt: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        jwtCookie: { type: "apiKey", in: "cookie", name: "token" },
        jwtQuery: { type: "apiKey", in: "query", name: "access_token" },
      },
      requirements: [{ jwt: [] }, { jwtCookie: [] }, { jwtQuery: [] }],
    });
    expect(RoleGuard(["admin", "editor"]).security).toEqual({ schemes: {}, requirements: [{ bearer: ["admin"] }, { bearer: ["editor"] }] });
    expect(RoleGuard(["admin", "editor"], { requireAll: true }).security!.requirements).toEqual([{ bearer: ["admin", "editor"] }]);
    expect(PermissionGuard(["a:read", "a:write"]).security!.requirements).toEqual([{ bearer: ["a:read", "a:write"] }]);
  });

  it("And is the cross product of requirement maps; Or their concatenation; a member with no security needs no credential", () => {
    expect(And([bearer, RoleGuard(["admin", "editor"])]).security).toEqual({
      schemes: { bearer: { type: "http", scheme: "bearer" } },
      requirements: [{ bearer: ["admin"] }, { bearer: ["editor"] }],
    });
    expect(crossProduct([{ a: [] }, { b: ["x"] }], [{ c: [] }, { b: ["y"] }])).toEqual([{ a: [], c: [] }, { a: [], b: ["y"] }, { b: ["x"], c: [] }, { b: ["x", "y"] }]);
    expect(Or([RoleGuard(["a"]), RoleGuard(["b"]), RoleGuard(["a"])]).security!.requirements).toEqual([{ bearer: ["a"] }, { bearer: ["b"] }]);
    expect(Or([bearer, allow]).security!.requirements).toEqual([{ bearer: [] }, {}]);
    expect(And([allow, forbid]).security).toBeUndefined();
    expect(Not(bearer).security).toBeUndefined();
  });

  it("an empty or non-guard list is refused where it is written", () => {
    expect(() => And([])).toThrow(/And\(\) takes a non-empty array of guards/);
    expect(() => Or("x" as never)).toThrow(/Or\(\) takes a non-empty array/);
    expect(() => Not(undefined as never)).toThrow(/guards\[0\] is undefined/);
    expect(() => RoleGuard([])).toThrow(/RoleGuard\(\) takes a non-empty array of strings/);
    expect(() => PermissionGuard([1] as never)).toThrow(/PermissionGuard\(\) takes a non-empty array of strings/);
  });
});
