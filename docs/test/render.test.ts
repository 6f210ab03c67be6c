/**
 * The built site in a real browser: the home page and the SSE guide render,
 * with their main heading visible and no console errors or uncaught exceptions;
 * at 1280 px no code block on any page is cut; the favicon is served, also by
 * `vitepress dev`. Builds the site first when `.vitepress/dist` is missing (about 20 s).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
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
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  /** Playwright evaluates a string as an expression in the page (no DOM types needed here). */
  evaluate<T>(expression: string): Promise<T>;
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

/** Every page of the built site as the path a reader opens: `/`, `/api`, `/guide/sse`, ... */
function sitePages(dir = dist, prefix = "/"): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return entry.name === "assets" ? [] : sitePages(join(dir, entry.name), `${prefix}${entry.name}/`);
    if (!entry.name.endsWith(".html") || entry.name === "404.html") return [];
    return [entry.name === "index.html" ? prefix : `${prefix}${entry.name.slice(0, -".html".length)}`];
  });
}

// In the page: every code block whose longest line does not fit its box, by that line's start.
const CUT_CODE_BLOCKS = `[...document.querySelectorAll('.vp-doc div[class*="language-"] pre')].map((pre) => ({
  cut: pre.scrollWidth > pre.clientWidth,
  line: pre.innerText.split("\\n").reduce((a, b) => (b.length > a.length ? b : a), "").slice(0, 60),
}))`;

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

  it("at 1280 px no code block on any page is cut: long lines wrap", async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    const cut: string[] = [];
    let blocks = 0;
    for (const path of sitePages()) {
      const before = errors.length;
      await page.goto(url + path, { waitUntil: "networkidle" });
      // Name the page an error came from.
      for (let i = before; i < errors.length; i++) errors[i] = `${path}: ${errors[i]}`;
      const found = await page.evaluate<Array<{ cut: boolean; line: string }>>(CUT_CODE_BLOCKS);
      blocks += found.length;
      for (const block of found) if (block.cut) cut.push(`${path}: ${block.line}`);
    }
    expect(blocks).toBeGreaterThan(50); // the selector still finds VitePress's code blocks (78 today)
    expect(cut).toEqual([]);
    expect(errors).toEqual([]);
  }, 120_000);

  it("serves /favicon.ico (an ICO) and /favicon.svg", async () => {
    const ico = await fetch(`${url}/favicon.ico`);
    expect([ico.status, ico.headers.get("content-type")]).toEqual([200, "image/x-icon"]);
    expect([...new Uint8Array(await ico.arrayBuffer()).subarray(0, 4)]).toEqual([0, 0, 1, 0]); // ICONDIR: reserved 0, type 1
    const svg = await fetch(`${url}/favicon.svg`);
    expect([svg.status, (await svg.text()).startsWith("<svg")]).toEqual([200, true]);
  });

  it("`vitepress dev` answers the browser's icon requests: no 404 in the console", async () => {
    // Before the client script adds the config's <link rel="icon">, a browser asks for /favicon.ico.
    const child = spawn(join(docsRoot, "node_modules", ".bin", "vitepress"), ["dev", "--host", "127.0.0.1", "--port", "0"], {
      cwd: docsRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const devUrl = await new Promise<string>((resolve, reject) => {
        let output = "";
        const timer = setTimeout(() => reject(new Error(`vitepress dev printed no URL:\n${output}`)), 60_000);
        const onData = (chunk: Buffer) => {
          // Vite colours the port: strip escape codes before reading it.
          output += String(chunk).replace(/\x1b\[[0-9;]*m/g, "");
          const match = /Local:\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", onData);
      });
      const ico = await fetch(`${devUrl}/favicon.ico`);
      expect(ico.status).toBe(200);
      const { page, errors } = await browser.newPage();
      const res = await page.goto(`${devUrl}/guide/sse`, { waitUntil: "networkidle" });
      expect(res?.status()).toBe(200);
      expect(errors).toEqual([]);
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    }
  }, 120_000);
});
