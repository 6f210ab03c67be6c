/**
 * generateClientTypes(): the committed fixture module is exactly what the
 * generator makes of the fixture document (so it cannot drift), and every
 * document it cannot type is refused with an error naming the JSON Pointer.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, test } from "vitest";
import { main } from "./cli.js";
import { generateClientTypes, OpenApiDocumentError } from "./index.js";

const FIXTURE_DOCUMENT = fileURLToPath(new URL("../fixtures/notifications.openapi.json", import.meta.url));
const FIXTURE_MODULE = fileURLToPath(new URL("../fixtures/api.gen.ts", import.meta.url));
const fixture = (): Record<string, any> => JSON.parse(readFileSync(FIXTURE_DOCUMENT, "utf8"));
const scratch = mkdtempSync(join(tmpdir(), "cello-client-generate-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A minimal valid document with one GET route whose 200 JSON response has `schema`. */
function withSchema(schema: unknown, components: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    openapi: "3.2.0",
    info: { title: "t", version: "1" },
    paths: { "/x": { get: { responses: { "200": { description: "ok", content: { "application/json": { schema } } } } } } },
    components: { schemas: components },
  };
}

/** Type-checks a generated module with TypeScript (strict), returning the diagnostics' messages. */
function typeErrors(source: string): string[] {
  const file = join(scratch, `check-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, source);
  const program = ts.createProgram([file], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, lib: ["lib.es2022.d.ts", "lib.dom.d.ts"], skipLibCheck: true });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"));
}

async function rejection(document: unknown): Promise<OpenApiDocumentError> {
  const error = await generateClientTypes(document).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(OpenApiDocumentError);
  return error as OpenApiDocumentError;
}

describe("the fixture", () => {
  test("regenerating src/fixtures/api.gen.ts from the fixture document gives the committed file, byte for byte", async () => {
    expect(await generateClientTypes(fixture())).toBe(readFileSync(FIXTURE_MODULE, "utf8"));
  });

  test("the docs' examples compile against the same module (docs/snippet-modules/api.gen.ts)", () => {
    const docsCopy = fileURLToPath(new URL("../../../../docs/snippet-modules/api.gen.ts", import.meta.url));
    expect(readFileSync(docsCopy, "utf8")).toBe(readFileSync(FIXTURE_MODULE, "utf8"));
  });

  test("the generated module type-checks on its own", async () => {
    expect(typeErrors(await generateClientTypes(fixture()))).toEqual([]);
  });

  test("types every piece: components by name, params, query, headers, body, response, errors, events, and the run-time streams", async () => {
    const text = await generateClientTypes(fixture());
    expect(text).toContain("export interface User {");
    expect(text).toMatch(/"\/users\/\{id\}": \{\n\s+\/\*\*\n\s+\* One user\.\n\s+\*\/\n\s+get: \{\n\s+params: \{\n\s+id: number;\n\s+\};\n\s+query: \{\n\s+verbose\?: boolean;\n\s+\};\n\s+headers: \{\n\s+"x-tenant": string;\n\s+\};\n\s+body: never;\n\s+response: User;\n\s+errors: \{\n\s+"404": Problem;/);
    expect(text).toMatch(/events: \{\n\s+notice: Notice;\n\s+progress: \{\n\s+percent: number;\n\s+label\?: string \| null;\n\s+\};\n\s+ping: string;\n\s+status: "open" \| "closing";\n\s+\};/);
    expect(text).toContain('export const streams = {\n  "/notifications": {\n    "get": {\n      "notice": "json",\n      "progress": "json",\n      "ping": "text",\n      "status": "text"\n    }\n  },\n  "/chat": {\n    "post": {\n      "token": "json",\n      "done": "text"\n    }\n  }\n} as const;');
  });

  test("an OpenAPI 3.1 document works too; a stream without itemSchema takes any event as text", async () => {
    const document = fixture();
    document.openapi = "3.1.1";
    document.paths["/legacy"] = { get: { responses: { "200": { description: "s", content: { "text/event-stream": { schema: { type: "string" } } } } } } };
    const text = await generateClientTypes(document);
    expect(text).toContain("OpenAPI 3.1.1");
    expect(text).toMatch(/"\/legacy": \{\n\s+get: \{[\s\S]*?events: \{\n\s+\[k: string\]: string \| undefined;\n\s+\};/);
    expect(text).toContain('"/legacy": {\n    "get": "any"\n  }');
    expect(typeErrors(text)).toEqual([]);
  });
});

describe("documents it cannot type are refused with the JSON Pointer of the problem", () => {
  test("not a document, Swagger 2, OpenAPI 3.0", async () => {
    expect((await rejection("hello")).message).toBe('#: not an OpenAPI document: expected a JSON object, got the string "hello"');
    expect((await rejection([])).message).toBe("#: not an OpenAPI document: expected a JSON object, got an array");
    expect((await rejection({ swagger: "2.0", paths: {} })).message).toBe('#: not an OpenAPI document: no "openapi" version field (this is Swagger 2.0: convert it to OpenAPI 3.1 first)');
    expect((await rejection({ openapi: "3.0.3", paths: {} })).message).toBe(`#/openapi: OpenAPI "3.0.3" is not supported: expected 3.1.x or 3.2.x (3.0's schemas are not JSON Schema)`);
    expect((await rejection({ openapi: "3.2.0", paths: [] })).message).toBe("#/paths: expected an object, got an array");
  });

  test("an unknown $ref, in a schema or for a parameter", async () => {
    const error = await rejection(withSchema({ type: "object", properties: { owner: { $ref: "#/components/schemas/Nope" } } }));
    expect(error.pointer).toBe("#/paths/~1x/get/responses/200/content/application~1json/schema/properties/owner/$ref");
    expect(error.message).toBe(`${error.pointer}: unknown $ref "#/components/schemas/Nope": nothing at that location`);

    const document = fixture();
    document.paths["/users/{id}"].parameters = [{ $ref: "#/components/parameters/Missing" }];
    expect((await rejection(document)).message).toBe('#/paths/~1users~1{id}/parameters/0/$ref: unknown $ref "#/components/parameters/Missing": nothing at that location');
  });

  test("a $ref outside the document (a file or a URL is never read)", async () => {
    expect((await rejection(withSchema({ $ref: "https://example.com/user.json" }))).message).toBe(
      '#/paths/~1x/get/responses/200/content/application~1json/schema/$ref: unsupported $ref "https://example.com/user.json": only references inside this document (starting with "#/") are supported',
    );
    expect((await rejection(withSchema({ $ref: "/etc/passwd" }))).message).toContain('unsupported $ref "/etc/passwd"');
  });

  test("unsupported constructs: $dynamicRef, 3.0's nullable, an unknown type, draft-07 tuples, a non-schema", async () => {
    expect((await rejection(withSchema({ $dynamicRef: "#node" }))).message).toMatch(/schema\/\$dynamicRef: \$dynamicRef is not supported/);
    expect((await rejection(withSchema({}, { User: { type: "string", nullable: true } }))).message).toBe(
      '#/components/schemas/User/nullable: "nullable" is OpenAPI 3.0, not JSON Schema: write type: [..., "null"] (OpenAPI 3.1+)',
    );
    expect((await rejection(withSchema({ type: "int" }))).message).toMatch(/schema\/type: unknown type "int" \(expected one of string, number/);
    expect((await rejection(withSchema({ type: "array", items: [{ type: "string" }] }))).message).toMatch(/schema\/items: an array "items" is draft-07/);
    expect((await rejection(withSchema({ type: "object", properties: { a: "string" } }))).message).toMatch(/schema\/properties\/a: expected a schema \(an object or a boolean\), got the string "string"/);
  });

  test("a schema nested too deep (no stack overflow)", async () => {
    let schema: Record<string, unknown> = { type: "string" };
    for (let level = 0; level < 10_000; level += 1) schema = { type: "array", items: schema };
    expect((await rejection(withSchema(schema))).message).toMatch(/^#\/paths\/~1x\/get\/responses\/200\/content\/application~1json\/schema(\/items){100}: schemas nested more than 100 levels deep are not supported$/);
  });

  test("a recursive schema outside #/components/schemas", async () => {
    const document = withSchema({ $ref: "#/$defs/Node" });
    document.$defs = { Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } } } };
    expect((await rejection(document)).message).toMatch(/circular \$ref "#\/\$defs\/Node": a recursive schema must live in #\/components\/schemas\//);
  });

  test("SSE events without a const name, or twice the same name", async () => {
    const document = fixture();
    const variants = document.paths["/notifications"].get.responses["200"].content["text/event-stream"].itemSchema.oneOf;
    variants[2].properties.event = { type: "string" };
    const error = await rejection(document);
    expect(error.pointer).toBe("#/paths/~1notifications/get/responses/200/content/text~1event-stream/itemSchema/oneOf/2/properties/event");
    expect(error.message).toContain(`an event's "event" property must be a string "const" (its event name)`);

    variants[2].properties.event = { const: "notice" };
    expect((await rejection(document)).message).toMatch(/oneOf\/2: event "notice" is described twice/);
  });

  test("a path template parameter without its parameter", async () => {
    const document = fixture();
    delete document.paths["/users/{id}"].parameters;
    expect((await rejection(document)).message).toBe('#/paths/~1users~1{id}/get: path template parameter {id} of "/users/{id}" has no "in: path" parameter');
  });
});

describe("hostile documents cannot put code into the generated module", () => {
  test("tsType is ignored; names, descriptions, enum values and event names are quoted or escaped; the module still type-checks", async () => {
    const evil = "*/ export const pwned = 1; /*";
    const document = withSchema(
      {
        type: "object",
        description: evil,
        required: ['"; export const a = 1; //'],
        properties: {
          injected: { tsType: "any; export const b = 2" },
          '"; export const a = 1; //': { enum: ["'; export const c = 3; '", "\u2028"] },
        },
      },
      { "Evil*/ type": { description: evil, type: "string" } },
    );
    document.info = { title: `x\n${evil}`, version: "1\r\nexport const d = 4;" };
    (document.paths as any)["/x"].get.summary = evil;
    (document.paths as any)["/s"] = {
      get: {
        responses: {
          "200": {
            description: "s",
            content: { "text/event-stream": { itemSchema: { properties: { event: { const: "\"'`${x}\n*/" }, data: { type: "string" } } } } },
          },
        },
      },
    };
    const text = await generateClientTypes(document, { source: "http://x/\nexport const e = 5;" });
    expect(typeErrors(text)).toEqual([]);
    // The only value the module exports is `streams`.
    const transpiled = ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    expect([...transpiled.matchAll(/^export (?:const|let|var|function|class) (\w+)/gm)].map((match) => match[1])).toEqual(["streams"]);
    expect(text).toContain("injected?: unknown;");
    expect(text).toContain("export type EvilType = string;");
  });
});

describe("the cello-client command", () => {
  test("generate <file> --out writes the module; without --out it prints it", async () => {
    const out = join(scratch, "nested", "api.gen.ts");
    const io = { out: "", err: "" };
    const write = { stdout: (text: string) => void (io.out += text), stderr: (text: string) => void (io.err += text) };
    expect(await main(["generate", FIXTURE_DOCUMENT, "--out", out], write)).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(readFileSync(FIXTURE_MODULE, "utf8"));
    expect(io.err).toBe(`cello-client: wrote ${out}\n`);
    expect(await main(["generate", FIXTURE_DOCUMENT], write)).toBe(0);
    expect(io.out).toBe(readFileSync(FIXTURE_MODULE, "utf8"));
  });

  test("bad usage exits 2 with the usage; a bad document exits 1 naming the problem", async () => {
    const io = { out: "", err: "" };
    const write = { stdout: (text: string) => void (io.out += text), stderr: (text: string) => void (io.err += text) };
    expect(await main([], write)).toBe(2);
    expect(io.err).toMatch(/^cello-client: no command\n\nUsage: cello-client generate <url-or-file>/);
    expect(await main(["generate", "--bogus"], write)).toBe(2);
    io.err = "";
    expect(await main(["generate", join(scratch, "missing.json")], write)).toBe(1);
    expect(io.err).toMatch(/^cello-client: could not read .*missing\.json: ENOENT/);
    const yaml = join(scratch, "doc.yaml");
    writeFileSync(yaml, "openapi: 3.2.0\n");
    io.err = "";
    expect(await main(["generate", yaml], write)).toBe(1);
    expect(io.err).toContain("doc.yaml is not JSON");
    const swagger = join(scratch, "swagger.json");
    writeFileSync(swagger, JSON.stringify({ swagger: "2.0" }));
    io.err = "";
    expect(await main(["generate", swagger], write)).toBe(1);
    expect(io.err).toBe('cello-client: #: not an OpenAPI document: no "openapi" version field (this is Swagger 2.0: convert it to OpenAPI 3.1 first)\n');
  });

  test("the bin, run as a process, fetches the document from a URL", async () => {
    const server = createServer((request, response) => {
      if (request.url === "/openapi.json") response.writeHead(200, { "content-type": "application/json" }).end(readFileSync(FIXTURE_DOCUMENT));
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const bin = fileURLToPath(new URL("../bin.ts", import.meta.url));
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, ["--import", import.meta.resolve("tsx"), bin, ...args], { cwd: scratch }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        );
      });
    try {
      const ok = await run(["generate", `${url}/openapi.json`, "-o", "from-url.gen.ts"]);
      expect(ok.stderr).toBe("cello-client: wrote from-url.gen.ts\n");
      expect(ok.code).toBe(0);
      const written = readFileSync(join(scratch, "from-url.gen.ts"), "utf8");
      expect(written.split("\n")[1]).toBe(`// Generated by @cellojs/client (cello-client generate) from "Notifications demo 1.0.0", OpenAPI 3.2.0, ${url}/openapi.json.`);
      expect(written.split("\n").slice(2)).toEqual(readFileSync(FIXTURE_MODULE, "utf8").split("\n").slice(2));
      const missing = await run(["generate", `${url}/nope.json`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(`cello-client: could not fetch ${url}/nope.json: HTTP 404 Not Found\n`);
    } finally {
      server.close();
    }
  });
});
