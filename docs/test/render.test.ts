/**
 * The built site in a real browser: the home page and the SSE guide render,
 * with their main heading visible and no console errors or uncaught exceptions.
 * Builds the site first when `.vitepress/dist` is missing (about 20 s).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";

/** The part of examples/browser/support.ts (and of playwright-core's Page) this test uses. */
interface BrowserSupport {
  describeBrowser(name: string, body: () => void): void;
  launchBrowser(): Promise<TestBrowser>;
  screenshot(page: BrowserPage, name: string): Promise<string>;
}
interface TestBrowser {
  newPage(): Promise<{ page: BrowserPage; errors: string[] }>;
  close(): Promise<void>;
}
interface BrowserPage {
  goto(url: string, options: { waitUntil: "networkidle" }): Promise<{ status(): number } | null>;
  locator(selector: string): { first(): { isVisible(): Promise<boolean>; innerText(): Promise<string> }; isVisible(): Promise<boolean> };
}

// The browser helpers (Debian's Chromium through playwright-core) live with the examples'
// browser tests, which depend on playwright-core. A computed specifier keeps tsc from
// compiling that file as part of this package (it lies outside its rootDir); vitest loads it.
const supportModule = new URL("../../examples/browser/support.ts", import.meta.url).href;
const { describeBrowser, launchBrowser, screenshot } = (await import(supportModule)) as BrowserSupport;

const docsRoot = fileURLToPath(new URL("..", import.meta.url));
const dist = join(docsRoot, ".vitepress", "dist");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** What a static host does with `cleanUrls`: `/` -> index.html, `/guide/sse` -> guide/sse.html. */
function resolveFile(pathname: string): string | undefined {
  const decoded = decodeURIComponent(pathname);
  const candidates = decoded.endsWith("/") ? [`${decoded}index.html`] : [decoded, `${decoded}.html`];
  for (const candidate of candidates) {
    const file = normalize(join(dist, candidate));
    if (!file.startsWith(dist + sep)) return undefined;
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

function serveDist(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const file = resolveFile(new URL(req.url ?? "/", "http://localhost").pathname);
    if (!file) {
      res.writeHead(404, { "content-type": "text/html; charset=utf-8" }).end(readFileSync(join(dist, "404.html")));
      return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describeBrowser("the built docs site in Chromium", () => {
  let browser: TestBrowser;
  let server: Server;
  let url: string;
  beforeAll(async () => {
    if (!existsSync(join(dist, "index.html"))) {
      await promisify(execFile)(join(docsRoot, "node_modules", ".bin", "vitepress"), ["build"], { cwd: docsRoot, timeout: 150_000 });
    }
    ({ server, url } = await serveDist());
    browser = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  const pages = [
    { path: "/", heading: /Cello\.ts/, shot: "docs-home" },
    { path: "/guide/sse.html", heading: /^Server-Sent Events/, shot: "docs-sse" },
  ];
  for (const { path, heading, shot } of pages) {
    it(`${path} renders its main heading with no console errors`, async () => {
      const { page, errors } = await browser.newPage();
      const res = await page.goto(url + path, { waitUntil: "networkidle" });
      expect(res?.status()).toBe(200);
      const h1 = page.locator("h1").first();
      expect(await h1.isVisible()).toBe(true);
      expect((await h1.innerText()).trim()).toMatch(heading);
      // The theme hydrated: VitePress's client script ran and rendered the navigation bar.
      expect(await page.locator(".VPNav").isVisible()).toBe(true);
      await screenshot(page, shot);
      expect(errors).toEqual([]);
    });
  }
});
