/**
 * createClient in a real browser (Debian's Chromium, driven by playwright-core):
 * the package's modules, served as the browser's own ES modules, call a
 * Cello.ts app for JSON, get an HttpResponseError with the problem+json body,
 * and read an SSE route that the server ends midway, resumed with Last-Event-ID.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { App, Response, SseEvent, silentLogger } from "../../core/src/index.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CI = process.env.CI === "true" || process.env.CI === "1";
const SRC = fileURLToPath(new URL("./", import.meta.url));
/** The modules the browser may load: the package's own, by name. */
const MODULES = new Set(["index", "client", "connect", "parser", "backoff", "errors", "client-types"]);

const NEWS = [
  new SseEvent(JSON.stringify({ id: "n1", text: "hello", level: "info" }), { event: "notice", id: "1" }),
  new SseEvent(JSON.stringify({ percent: 50, label: null }), { event: "progress", id: "2" }),
  new SseEvent("surprise", { event: "unlisted", id: "3" }),
  new SseEvent("open", { event: "status", id: "4" }),
];

const PAGE = `<!doctype html><meta charset="utf-8"><title>typed client</title>
<script type="module">
import { createClient, HttpResponseError } from "/src/index.js";
const streams = { "/notifications": { get: { notice: "json", progress: "json", ping: "text", status: "text" } } };
const unknown = [];
const client = createClient(location.origin, { streams, onUnknownEvent: ({ event }) => unknown.push(event.event) });
const result = { unknown };
try {
result.user = await client.get("/users/{id}", { params: { id: 2 }, headers: { "x-tenant": "acme" } });
try {
  await client.get("/users/{id}", { params: { id: 99 }, headers: { "x-tenant": "acme" } });
} catch (error) {
  result.error = { isHttpResponseError: error instanceof HttpResponseError, status: error.status, body: error.body };
}
result.events = [];
for await (const event of client.stream("/notifications", { query: { topic: "news" }, reconnectDelayMs: 10 })) {
  result.events.push(event);
  if (event.event === "status") break;
}
} catch (error) {
  result.failed = String(error); // shown by the test's assertion instead of a timeout
}
window.result = result;
</script>`;

function buildApp(resumedFrom: Array<string | undefined>): App {
  const app = new App({ logger: silentLogger });
  app.get("/", () => Response.html(PAGE));
  app.get("/src/{file}", (request) => {
    const name = request.params.file!.replace(/\.js$/, "");
    if (!MODULES.has(name)) return Response.text("not found", 404);
    const source = readFileSync(join(SRC, `${name}.ts`), "utf8");
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } });
    return Response.text(outputText, { headers: { "Content-Type": "text/javascript; charset=utf-8" } });
  });
  app.get("/favicon.ico", () => null);
  app.get("/users/{id}", (request) => {
    if (request.params.id === "2") return { id: 2, name: "Grace", role: "member", tenant: request.getHeader("x-tenant") };
    return Response.json({ type: "about:blank", title: "Not Found", status: 404, detail: `no user ${request.params.id}` }, { status: 404, headers: { "Content-Type": "application/problem+json" } });
  });
  app.get("/notifications", (request) => {
    const lastEventId = request.getHeader("last-event-id");
    resumedFrom.push(lastEventId);
    const start = lastEventId === undefined ? 0 : NEWS.findIndex((event) => event.id === lastEventId) + 1;
    // Two events per connection, then the response ends: the client must resume.
    return Response.sse(
      (async function* () {
        yield* NEWS.slice(start, start + 2);
      })(),
    );
  });
  return app;
}

describe.runIf(existsSync(CHROMIUM) || CI)("createClient in Chromium", () => {
  const resumedFrom: Array<string | undefined> = [];
  let app: App;
  let url: string;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    app = buildApp(resumedFrom);
    ({ url } = await app.listen({ port: 0 }));
    profile = mkdtempSync(join(tmpdir(), "cello-client-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      timeout: 30_000,
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close({ graceMs: 500 });
  });

  test("JSON calls, a problem+json error, and a typed stream resumed with Last-Event-ID", async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(url);
    await page.waitForFunction(() => (window as { result?: unknown }).result !== undefined, undefined, { timeout: 20_000 });
    const result = await page.evaluate(() => (window as { result?: unknown }).result);
    expect(result).toEqual({
      user: { id: 2, name: "Grace", role: "member", tenant: "acme" },
      error: { isHttpResponseError: true, status: 404, body: { type: "about:blank", title: "Not Found", status: 404, detail: "no user 99" } },
      events: [
        { event: "notice", data: { id: "n1", text: "hello", level: "info" }, id: "1" },
        { event: "progress", data: { percent: 50, label: null }, id: "2" },
        { event: "status", data: "open", id: "4" },
      ],
      unknown: ["unlisted"],
    });
    expect(resumedFrom).toEqual([undefined, "2"]);
    // The 404 of the failed call is the only console error (Chromium logs failed loads).
    expect(errors.filter((error) => !/404/.test(error))).toEqual([]);
  });
});
