// End to end: a Cello.ts app with every kind of contract (guards, zod / valibot / arktype
// schemas, shared and recursive zod schemas, SSE events, blueprint and decorator routes)
// serves /openapi.json over a real socket, and generateClientTypes() types all of it.
// The client package does not depend on @cellojs/core: its tests import core's source.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toStandardJsonSchema } from "@valibot/to-json-schema";
import { type } from "arktype";
import ts from "typescript";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { App, And, Authenticated, Blueprint, PermissionGuard, RoleGuard, SseStream, controller, get, silentLogger } from "../../../core/src/index.js";
import { generateClientTypes } from "./index.js";

const Author = z.object({ id: z.string(), name: z.string() }).meta({ id: "Author" });
const Post = z.object({ id: z.number().int(), title: z.string(), author: Author, coAuthors: z.array(Author) }).meta({ id: "Post" });
type Comment = { text: string; replies: Comment[] };
const CommentSchema: z.ZodType<Comment> = z.object({ text: z.string(), get replies() { return z.array(CommentSchema); } }).meta({ id: "Comment" });
// Shared by two routes without an id: zod writes it into each schema's $defs when it repeats inside one.
const Tag = z.object({ label: z.string() });
const Tagged = z.object({ primary: Tag, secondary: Tag });

const SAMPLE: z.infer<typeof Post> = { id: 1, title: "Hello", author: { id: "a", name: "Ann" }, coAuthors: [] };
const signedIn = Authenticated({ verify: (token) => (token === "admin" ? { principal: { id: "a", roles: ["admin"], permissions: ["posts:write"] } } : undefined) });

@controller("/admin", { guards: [RoleGuard(["admin"])] })
class AdminController {
  @get("/stats", { schema: { response: type({ streams: "number", "uptime?": "number" }) }, openapi: { summary: "Server statistics" } })
  stats() {
    return { streams: 0 };
  }
}

function richApp(): App {
  const app = new App({ logger: silentLogger });
  app.get("/posts/{id}", () => SAMPLE, { schema: { params: z.object({ id: z.coerce.number().int() }), query: z.object({ expand: z.enum(["author", "comments"]).optional() }), response: Post } });
  app.post("/posts", () => SAMPLE, {
    guards: [signedIn, PermissionGuard(["posts:write"])],
    schema: { body: toStandardJsonSchema(v.object({ title: v.pipe(v.string(), v.minLength(1)), tags: v.array(v.string()) })), headers: type({ "x-request-id": "string" }), response: { 201: Post, 409: z.object({ error: z.string() }) } },
  });
  app.get("/comments", () => [], { schema: { response: z.array(CommentSchema) } });
  app.get("/tagged", () => ({ primary: { label: "a" }, secondary: { label: "b" } }), { schema: { response: Tagged } });
  app.get("/posts/{id}/live", () => new SseStream(), {
    guards: [signedIn],
    schema: {
      params: z.object({ id: z.string() }),
      events: {
        post: Post,
        comment: CommentSchema,
        typing: toStandardJsonSchema(v.object({ who: v.string() })),
        presence: type({ online: "number" }),
        ping: z.string(),
      },
    },
  });
  const v2 = new Blueprint("/v2", { guards: [And([signedIn, RoleGuard(["admin"])])] });
  v2.get("/feed", () => new SseStream(), { schema: { events: { tagged: Tagged, tick: z.object({ n: z.number() }) } } });
  v2.put("/posts/{id}", () => SAMPLE, { schema: { params: z.object({ id: z.string() }), body: Post.omit({ id: true }), response: Post } });
  app.registerBlueprint(v2);
  app.register(AdminController);
  app.enableOpenapi({ title: "Rich" });
  return app;
}

let app: App;
let document: Record<string, any>;
let scratch: string;
beforeAll(async () => {
  app = richApp();
  const { url } = await app.listen({ port: 0 });
  document = await (await fetch(`${url}/openapi.json`)).json();
  scratch = mkdtempSync(join(tmpdir(), "cello-client-core-"));
});
afterAll(async () => {
  await app.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe("a real app's /openapi.json through generateClientTypes()", () => {
  test("the document keeps no $defs: shared zod schemas are components, every $ref points into components", () => {
    const text = JSON.stringify(document);
    expect(text).not.toContain("$defs");
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((match) => match[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas[ref.slice("#/components/schemas/".length)], ref).toBeDefined();
    }
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(["Author", "Post", "Comment", "Error", "ValidationProblem"]));
  });

  test("generates a module that type-checks, with every route, event and security-guarded error", async () => {
    const text = await generateClientTypes(document);
    expect(await generateClientTypes(document)).toBe(text); // deterministic
    const file = join(scratch, "api.gen.ts");
    const check = join(scratch, "check.ts");
    writeFileSync(file, text);
    writeFileSync(check, `import type { Api, Post } from "./api.gen.js";
type Live = Api["/posts/{id}/live"]["get"]["events"];
const post: Live["post"] = { id: 1, title: "t", author: { id: "a", name: "A" }, coAuthors: [] };
const ping: Live["ping"] = "text";
const typing: Live["typing"] = { who: "ann" };
const presence: Live["presence"] = { online: 2 };
const reply: Live["comment"] = { text: "a", replies: [{ text: "b", replies: [] }] };
const feed: Api["/v2/feed"]["get"]["events"]["tagged"] = { primary: { label: "a" }, secondary: { label: "b" } };
const stats: Api["/admin/stats"]["get"]["response"] = { streams: 1 };
const body: Api["/posts"]["post"]["body"] = { title: "t", tags: [] };
const put: Api["/v2/posts/{id}"]["put"]["body"] = { title: "t", author: { id: "a", name: "A" }, coAuthors: [] };
const created: Api["/posts"]["post"]["response"] = post as Post;
// @ts-expect-error: no event named "posts"
const wrong: Live["posts"] = post;
export { post, ping, typing, presence, reply, feed, stats, body, put, created, wrong };
`);
    const program = ts.createProgram([check], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"], skipLibCheck: true });
    expect(ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([]);

    expect(text).toContain('"/posts/{id}/live": {\n    "get": {\n      "post": "json",\n      "comment": "json",\n      "typing": "json",\n      "presence": "json",\n      "ping": "text"');
    expect(text).toContain('"/v2/feed": {\n    "get": {\n      "tagged": "json",\n      "tick": "json"');
    for (const path of ["/posts/{id}", "/posts", "/comments", "/tagged", "/posts/{id}/live", "/v2/feed", "/v2/posts/{id}", "/admin/stats"]) expect(text).toContain(`  "${path}": {`);
  });

  test("guards become security requirements the generated client sees as 401/403 errors", () => {
    expect(document.paths["/v2/feed"].get.security).toEqual([{ bearer: ["admin"] }]); // RoleGuard adds its roles as scopes
    expect(document.paths["/posts"].post.security).toEqual([{ bearer: ["posts:write"] }]);
    expect(Object.keys(document.paths["/admin/stats"].get.responses)).toEqual(expect.arrayContaining(["401", "403"]));
    expect(document.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
  });
});
