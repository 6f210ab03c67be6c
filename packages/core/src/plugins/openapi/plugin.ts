/**
 * The OpenAPI plugin (`app.enableOpenapi()`), on the public API only: it adds
 * GET routes for the document and the docs UI, and builds the document once,
 * at startup, from `app.routes()`.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import type { Plugin } from "../../app.js";
import { describeValue } from "../../describe.js";
import { CelloError } from "../../errors.js";
import type { Request } from "../../request.js";
import { Response } from "../../response.js";
import { buildOpenapiDocument } from "./document.js";
import type { OpenapiOptions } from "./types.js";

const VERSIONS = ["3.2.0", "3.1.1"];

/** A body served as is, with an ETag so a browser revalidates (304) instead of downloading it again. */
interface Served {
  bytes: Buffer;
  etag: string;
  contentType: string;
}

/**
 * The OpenAPI plugin: `app.enableOpenapi(options)` is `app.use(openapi(options))`.
 * Bad options throw CelloError `CELLO_INVALID_OPTION` here; a schema with no JSON Schema
 * form throws `CELLO_OPENAPI_SCHEMA` at startup (`ready()`/`listen()`), naming the route.
 * The document is built once, at startup, and served with an ETag; the query string is ignored.
 * @example app.use(openapi({ title: "Shop", version: "2.0.0" }));
 */
export function openapi(options: OpenapiOptions = {}): Plugin {
  checkOptions(options);
  const documentPath = options.path ?? "/openapi.json";
  const docsPath = options.ui === undefined ? false : (options.docsPath ?? "/docs");

  return (app) => {
    let document: Served | undefined;
    const build = () => {
      document = served(Buffer.from(JSON.stringify(buildOpenapiDocument(app.routes(), options))), "application/json; charset=utf-8");
      return document;
    };
    // After every route is registered (ready() explores @app.get classes first), before the server accepts.
    app.onEvent("startup", () => void build());
    // The document and the docs routes are left out of the document.
    const hidden = { openapi: { exclude: true } };
    // Without ready() (`http.createServer(app.handler)`), the first request builds it.
    app.get(documentPath, (request) => answer(request, document ?? build()), hidden);

    if (docsPath === false) return;
    const ui = options.ui!;
    const page = ui.page({ title: options.title ?? "Cello.ts API", documentUrl: relativeUrl(docsPath, documentPath), assetsUrl: relativeUrl(docsPath, `${docsPath}/`) });
    const pageServed = served(Buffer.from(page), "text/html; charset=utf-8");
    app.get(docsPath, (request) => answer(request, pageServed), hidden);
    for (const [name, asset] of Object.entries(ui.assets)) {
      let file: Served | undefined;
      // Read on first request: a UI bundle is megabytes an app that never opens /docs need not hold.
      app.get(`${docsPath}/${name}`, (request) => answer(request, (file ??= served(readFileSync(asset.file), asset.contentType))), hidden);
    }
  };
}

function served(bytes: Buffer, contentType: string): Served {
  return { bytes, contentType, etag: `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 27)}"` };
}

function answer(request: Request, body: Served): Response {
  const headers = { ETag: body.etag, "Cache-Control": "no-cache" };
  if (matchesEtag(request.getHeader("if-none-match"), body.etag)) return new Response({ kind: "empty" }, { status: 304, headers });
  return Response.binary(body.bytes, body.contentType, { headers });
}

/** RFC 9110 13.1.2: a weak comparison against each listed tag, or `*`. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed.replace(/^W\//, "") === etag;
  });
}

/** `to` relative to the page at `from`, so the page works under a proxy's prefix: ("/docs", "/openapi.json") -> "./openapi.json". */
function relativeUrl(from: string, to: string): string {
  const depth = from.split("/").length - 2;
  return (depth > 0 ? "../".repeat(depth) : "./") + to.slice(1);
}

function checkOptions(options: OpenapiOptions): void {
  if (typeof options !== "object" || options === null) throw new CelloError("CELLO_INVALID_OPTION", `enableOpenapi() takes an options object, got ${describeValue(options)}`);
  if (options.openapi !== undefined && !VERSIONS.includes(options.openapi)) {
    throw new CelloError("CELLO_INVALID_OPTION", `openapi version must be one of ${VERSIONS.join(", ")}, got ${describeValue(options.openapi)}`);
  }
  for (const [name, path] of [["path", options.path], ["docsPath", options.docsPath]] as const) {
    if (path === undefined || path === false) continue;
    if (typeof path !== "string" || !/^\/[^?#*{}:]*$/.test(path) || path.endsWith("/")) {
      throw new CelloError("CELLO_INVALID_OPTION", `openapi ${name} must be a plain path starting with "/" (no trailing "/", no parameters), got ${describeValue(path)}`);
    }
  }
  const ui = options.ui;
  if (ui !== undefined) {
    if (typeof ui !== "object" || ui === null || typeof ui.page !== "function" || typeof ui.assets !== "object" || ui.assets === null) {
      throw new CelloError("CELLO_INVALID_OPTION", `openapi ui must be a docs UI such as scalarUi() from @cellojs/openapi, got ${describeValue(ui)}`);
    }
    for (const [name, asset] of Object.entries(ui.assets)) {
      if (!/^[\w.-]+$/.test(name)) throw new CelloError("CELLO_INVALID_OPTION", `openapi ui asset name ${JSON.stringify(name)} must be a plain file name`);
      if (!existsSync(asset.file)) throw new CelloError("CELLO_INVALID_OPTION", `openapi ui ${ui.name}: its file ${asset.file} is missing (is its package installed?)`);
    }
  }
  if (options.exclude !== undefined && typeof options.exclude !== "function" && !Array.isArray(options.exclude)) {
    throw new CelloError("CELLO_INVALID_OPTION", `openapi exclude must be a list of paths and RegExps or a function, got ${describeValue(options.exclude)}`);
  }
}
