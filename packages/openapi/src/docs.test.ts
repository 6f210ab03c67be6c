import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, SseStream, type RouteOptions } from "@cellojs/core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { scalarUi } from "./index.js";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ci = process.env.CI === "true" || process.env.CI === "1";
/** Where screenshots go (`.artifacts/` is gitignored), as for the examples' browser tests. */
const screenshotDir = fileURLToPath(new URL("../../../.artifacts/screenshots/", import.meta.url));

const bearer = Object.assign(() => true, { security: { schemes: { bearer: { type: "http", scheme: "bearer" } }, requirements: [{ bearer: [] }] } });

/** A documented, guarded stream and a plain route; `guards`/`schema` are typed by their own modules once merged. */
function docsApp(options: { docsPath?: string; path?: string } = {}): App {
  const app = new App();
  app.get("/notifications/stream", () => {
    const stream = new SseStream();
    stream.close();
    return stream;
  }, {
    guards: [bearer],
    schema: { events: { notice: z.object({ text: z.string(), unread: z.number().int() }), ping: z.string() } },
    openapi: { summary: "Notification stream", tags: ["notifications"] },
  } as RouteOptions);
  app.get("/users/{id}", (req) => ({ id: req.params.id }), { openapi: { summary: "One user" } });
  app.enableOpenapi({ title: 'Cello </title><script>alert(1)</script> docs', version: "1.0.0", ui: scalarUi(), ...options });
  return app;
}

describe("scalarUi(): the page and its bundle over a socket", () => {
  let app: App;
  let url: string;
  beforeAll(async () => {
    app = docsApp();
    ({ url } = await app.listen({ port: 0 }));
  });
  afterAll(() => app.close());

  it("serves a page that loads the bundle and the document by relative URLs, with the title escaped", async () => {
    const res = await fetch(`${url}/docs?x=%ZZ`);
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    const html = await res.text();
    expect(html).toContain('<script src="./docs/scalar.js"></script>');
    expect(html).toContain('"url":"./openapi.json"');
    expect(html).toContain("<title>Cello &#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62; docs</title>");
    expect(html.match(/<script/g)).toHaveLength(2);
  });

  it("serves the bundle from the installed package's file, with an ETag", async () => {
    const res = await fetch(`${url}/docs/scalar.js`);
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    const served = Buffer.from(await res.arrayBuffer());
    expect(served.equals(readFileSync(scalarUi().assets["scalar.js"]!.file))).toBe(true);
    const again = await fetch(`${url}/docs/scalar.js`, { headers: { "If-None-Match": res.headers.get("etag")! } });
    expect(again.status).toBe(304);
    for (const path of ["/docs/../package.json", "/docs/%2e%2e%2fpackage.json", "/docs/standalone.js", "/docs/scalar.js/x"]) {
      expect([path, (await fetch(`${url}${path}`)).status]).toEqual([path, 404]);
    }
  });

  it("leaves /docs, its bundle and /openapi.json out of the document", async () => {
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toEqual(["/notifications/stream", "/users/{id}"]);
  });

  it("works under other paths: the page refers to them relatively", async () => {
    const other = docsApp({ docsPath: "/reference/api", path: "/reference/openapi.json" });
    const { url: otherUrl } = await other.listen({ port: 0 });
    try {
      const html = await (await fetch(`${otherUrl}/reference/api`)).text();
      expect(html).toContain('<script src="../reference/api/scalar.js"></script>');
      expect(html).toContain('"url":"../reference/openapi.json"');
      expect((await fetch(`${otherUrl}/reference/api/scalar.js`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe.runIf(existsSync(chromiumPath) || ci)("/docs in Chromium, with nothing reachable but the app", () => {
  let app: App;
  let url: string;
  beforeAll(async () => {
    app = docsApp();
    ({ url } = await app.listen({ port: 0 }));
  });
  afterAll(() => app.close());

  it("renders the SSE route with its events, with zero console errors and no request leaving 127.0.0.1", async () => {
    const profile = mkdtempSync(join(tmpdir(), "cello-chromium-"));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      viewport: { width: 1280, height: 1000 },
      timeout: 30_000,
    });
    try {
      const requested: string[] = [];
      const blocked: string[] = [];
      // Offline: anything but the app itself fails, and is recorded.
      await context.route("**/*", (route) => {
        const target = new URL(route.request().url());
        if (target.hostname === "127.0.0.1") {
          requested.push(target.pathname);
          return route.continue();
        }
        blocked.push(target.href);
        return route.abort();
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
      await page.goto(`${url}/docs`);
      await page.getByText("Notification stream").first().waitFor({ timeout: 20_000 });
      // Scalar shows an SSE response's events by name, with each one's fields.
      await page.getByText("text/event-stream").first().waitFor({ timeout: 10_000 });
      const text = await page.evaluate(() => document.body.innerText);
      expect(text).toContain("event: notice");
      expect(text).toMatch(/data: \{"text":"string","unread":-?\d+\}/);
      expect(text).toContain("One user");
      // The screenshot shows the stream's operation with its events.
      await page.getByText("event: notice").first().scrollIntoViewIfNeeded();
      mkdirSync(screenshotDir, { recursive: true });
      await page.screenshot({ path: join(screenshotDir, "openapi-docs.png"), fullPage: false });
      expect(blocked).toEqual([]);
      expect(errors).toEqual([]);
      expect(new Set(requested)).toEqual(new Set(["/docs", "/docs/scalar.js", "/openapi.json"]));
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 60_000);
});
