/**
 * Helpers for the browser tests (Debian's Chromium driven by playwright-core)
 * and for starting a demo the way a user does (`npx tsx examples/<name>.ts`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { App } from "@cellojs/core";
import { afterAll, beforeAll, describe } from "vitest";

/** The repository root. */
export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Where screenshots go (`.artifacts/` is gitignored). */
export const screenshotDir = join(repoRoot, ".artifacts", "screenshots");

/** Debian's Chromium (`apt-get install chromium`), or `CHROMIUM_PATH`. Never a downloaded browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const ci = process.env.CI === "true" || process.env.CI === "1";

/**
 * Whether the browser tests run. Chromium missing: under CI they run anyway
 * and fail at launch (a missing browser must not pass silently); elsewhere
 * they are skipped (see {@link describeBrowser}).
 */
export const browserTestsEnabled = existsSync(chromiumPath) || ci;

/**
 * `describe` for tests that need Chromium: skipped with one line on a machine
 * without it, never skipped under CI.
 * @example describeBrowser("the dashboard page", () => { it("draws", async () => { ... }); });
 */
export function describeBrowser(name: string, body: () => void): void {
  if (!browserTestsEnabled) console.log(`browser tests skipped (${name}): no Chromium at ${chromiumPath}; apt-get install chromium`);
  describe.runIf(browserTestsEnabled)(name, body);
}

/** The flags every browser test starts Chromium with. */
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running browser with a fresh profile; `close()` removes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  /** Open a page that records console errors (with the path they came from) and uncaught exceptions in `errors`. */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/**
 * Start Chromium with a fresh user-data dir made for this run
 * (`launchPersistentContext` uses exactly the dir it is given, so nothing
 * carries over between runs: no cache, no cookies, no EventSource state).
 * @example
 * const browser = await launchBrowser();
 * const { page, errors } = await browser.newPage();
 * await page.goto(url);
 * await browser.close();
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium is missing at ${chromiumPath}: apt-get install chromium (scripts/test-env.mjs does it under CI)`);
  const profile = mkdtempSync(join(tmpdir(), "cello-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath, args: chromiumArgs, timeout: 30_000 });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("console", (message) => {
        // For a failed load the text does not say which resource: its location does.
        const where = message.location().url;
        if (message.type() === "error") errors.push(`console: ${message.text()}${where ? ` (${new URL(where).pathname})` : ""}`);
      });
      page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
      return { page, errors };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Let the browser reach only 127.0.0.1 (this machine has no internet, and a page must not need it):
 * every other request is aborted and listed in `blocked`; the paths asked of 127.0.0.1 go in `requested`.
 * @example
 * const net = await loopbackOnly(browser.context);
 * // ... load the page ...
 * expect(net.blocked).toEqual([]);
 */
export async function loopbackOnly(context: BrowserContext): Promise<{ requested: string[]; blocked: string[] }> {
  const requested: string[] = [];
  const blocked: string[] = [];
  await context.route("**/*", (route) => {
    const target = new URL(route.request().url());
    if (target.hostname !== "127.0.0.1") {
      blocked.push(target.href);
      return route.abort();
    }
    requested.push(target.pathname);
    return route.continue();
  });
  return { requested, blocked };
}

/** An app listening on a free port and a browser, for the tests of one `describeBrowser` block. */
export interface BrowserAndApp {
  readonly url: string;
  readonly browser: TestBrowser;
}

/**
 * Inside a `describeBrowser` block: before its tests, start `app()` on a free
 * port and launch Chromium; after them, close both.
 * @example const env = browserAndApp(() => createDashboardApp()); // then env.url, env.browser
 */
export function browserAndApp(app: () => App): BrowserAndApp {
  let started: App | undefined;
  let url = "";
  let browser: TestBrowser | undefined;
  beforeAll(async () => {
    started = app();
    ({ url } = await started.listen({ port: 0 }));
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await started?.close({ graceMs: 1000 });
  });
  return {
    get url() {
      return url;
    },
    get browser() {
      if (!browser) throw new Error("the browser is not running (used outside a test?)");
      return browser;
    },
  };
}

/**
 * Save a full-page screenshot as `.artifacts/screenshots/<name>.png` and return its path.
 * @example await screenshot(page, "dashboard");
 */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Poll `check` every 25 ms until it returns a truthy value (resolved with it),
 * or reject after `timeoutMs` (default 5000) with `what` in the message.
 * @example await waitFor(() => seen.length >= 2, "two requests");
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A demo started as its own process. */
export interface DemoProcess {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** Everything the process printed so far. */
  output(): string;
  /** Every distinct `http(s)://host:port` the process printed so far, in order: a demo must print only the one it listens on. */
  printedOrigins(): string[];
  /** SIGTERM (the app closes gracefully) and wait for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Start `examples/<file>` the way its header says (`npx tsx examples/<file>`
 * from the repository root), on a free port (`--port 0`), and resolve once it
 * prints the URL it listens on.
 * @param env - extra environment variables (e.g. a short publish interval).
 * @example
 * const demo = await startDemo("counter.ts");
 * const res = await fetch(`${demo.url}/`);
 * await demo.stop();
 */
export async function startDemo(file: string, env: Record<string, string> = {}): Promise<DemoProcess> {
  // `node --import tsx` is what `npx tsx` runs, without npx's own start-up.
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join("examples", file), "--port", "0"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (chunk) => (out += chunk));
  child.stderr!.on("data", (chunk) => (out += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`examples/${file} printed no URL within 20 s:\n${out}`));
    }, 20_000);
    const onData = () => {
      const match = /running on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`examples/${file} exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    url,
    output: () => out,
    printedOrigins: () => [...new Set(Array.from(out.matchAll(/https?:\/\/[^\s/"'`]+/g), (match) => match[0]))],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * GET `url` with fetch and read the body as text until `done(text)` is true,
 * then disconnect. Rejects after `timeoutMs` (default 10000) or if the body ends first.
 * @example const text = await readStreamUntil(`${url}/stocks`, (t) => t.includes("event: tick"));
 */
export async function readStreamUntil(url: string, done: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`Timed out after ${timeoutMs} ms reading ${url}`)), timeoutMs);
  try {
    const res = await fetch(url, { signal: controller.signal });
    const decoder = new TextDecoder();
    let text = "";
    // A reader, not `for await`: TypeScript 5.9's DOM types give ReadableStream no async iterator.
    const reader = res.body!.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text += decoder.decode(chunk.value, { stream: true });
      if (done(text)) return text;
    }
    throw new Error(`${url} ended before the expected text arrived:\n${text}`);
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
