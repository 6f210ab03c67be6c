/**
 * The stock ticker, deploy and notifications pages, used as a person would:
 * load, click, type, and read what the page shows.
 */
import type { App } from "@cellojs/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDeployApp } from "../deploy_progress.js";
import { createNotificationsApp } from "../notifications.js";
import { createStockApp } from "../stock_ticker.js";
import { describeBrowser, launchBrowser, screenshot, type TestBrowser } from "./support.js";

describeBrowser("the demo pages in Chromium", () => {
  let browser: TestBrowser;
  const apps: App[] = [];
  const start = async (app: App) => {
    apps.push(app);
    return (await app.listen({ port: 0 })).url;
  };
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    for (const app of apps) await app.close({ graceMs: 1000 });
  });

  it("stock ticker: every row's price follows the ticks", async () => {
    const url = await start(createStockApp({ intervalMs: 50, symbols: { AAPL: 100, MSFT: 200, ACME: 5 } }));
    const { page, errors } = await browser.newPage();
    await page.goto(url);
    await page.waitForFunction(() => Number(document.getElementById("ticks")?.dataset.count) >= 12, undefined, { timeout: 10_000 });
    const rows = await page.$$eval("tbody tr", (trs) =>
      trs.map((tr) => [tr.getAttribute("data-symbol"), tr.querySelector(".price")?.textContent, tr.querySelector(".change")?.textContent]),
    );
    expect(rows.map((r) => r[0])).toEqual(["AAPL", "MSFT", "ACME"]);
    for (const [, price, change] of rows) {
      expect(price).toMatch(/^\d+\.\d\d$/);
      expect(change).toMatch(/^[+-]\d+\.\d\d$/);
    }
    expect(await page.textContent("#status")).toBe("open");
    await screenshot(page, "stock-ticker");
    expect(errors).toEqual([]);
  });

  it("deploy: pressing Deploy fills the bar step by step to 100% and logs done", async () => {
    const url = await start(createDeployApp({ stepMs: 40 }));
    const { page, errors } = await browser.newPage();
    await page.goto(url);
    await page.click("#deploy");
    await page.waitForSelector('#bar[data-state="running"]');
    await page.waitForSelector('#bar[data-state="done"]', { timeout: 10_000 });
    const log = await page.$$eval("#log li", (lis) => lis.map((li) => [li.getAttribute("data-event"), li.textContent]));
    expect(log).toEqual([
      ["progress", "0% Queued"],
      ["progress", "10% Checking out the code"],
      ["progress", "25% Installing dependencies"],
      ["progress", "45% Building"],
      ["progress", "65% Running tests"],
      ["progress", "80% Uploading the build"],
      ["progress", "95% Switching traffic"],
      ["progress", "100% Deployed"],
      ["done", "done: succeeded"],
    ]);
    expect(await page.getAttribute("#bar", "aria-valuenow")).toBe("100");
    expect(await page.textContent("#percent")).toBe("100%");
    expect(await page.textContent("#deploy-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(await page.isEnabled("#deploy")).toBe(true);
    await screenshot(page, "deploy-progress");
    expect(errors).toEqual([]);
  });

  it("notifications: a wrong token is refused; signed in, the page shows the user's notifications only", async () => {
    const url = await start(createNotificationsApp());
    const { page, errors } = await browser.newPage();
    await page.goto(url);
    await page.fill('#login input[name="token"]', "guess");
    await page.click("#login button");
    await page.waitForFunction(() => document.getElementById("message")?.textContent === "Invalid token");
    expect(await page.isVisible("#signed-in")).toBe(false);

    await page.fill('#login input[name="token"]', "alice-secret");
    await page.click("#login button");
    await page.waitForSelector('#status[data-state="open"]');
    expect(await page.textContent("#user")).toBe("alice");

    // Someone else writes to alice, and to bob; then alice writes a note to herself from the page.
    const post = (to: string, token: string, text: string) =>
      fetch(`${url}/notify/${to}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ text }) });
    expect((await post("alice", "bob-secret", "hello from bob")).status).toBe(201);
    expect((await post("bob", "carol-secret", "not for alice")).status).toBe(201);
    await page.fill('#send input[name="to"]', "alice");
    await page.fill('#send input[name="text"]', "note to self");
    await page.click("#send button");
    await page.waitForFunction(() => document.querySelectorAll("#notifications li").length === 2);
    expect(await page.$$eval("#notifications li", (lis) => lis.map((li) => li.textContent))).toEqual(["alice: note to self", "bob: hello from bob"]);

    await page.fill('#send input[name="to"]', "mallory");
    await page.fill('#send input[name="text"]', "hi");
    await page.click("#send button");
    await page.waitForFunction(() => document.getElementById("message")?.textContent === 'Unknown user "mallory"');
    await screenshot(page, "notifications");

    // The HttpOnly cookie survives a reload: the page signs in by itself.
    await page.reload();
    await page.waitForSelector('#status[data-state="open"]');
    expect(await page.textContent("#user")).toBe("alice");
    await page.click("#logout");
    await page.waitForSelector("#signed-out", { state: "visible" });
    // The two refusals above are answers the page shows; Chromium also logs each failed fetch.
    expect(errors).toEqual([
      "console: Failed to load resource: the server responded with a status of 401 (Unauthorized) (/login)",
      "console: Failed to load resource: the server responded with a status of 404 (Not Found) (/notify/mallory)",
    ]);
  });

  it("notifications: when the sign-in expires, the stream ends and the page asks to sign in again", async () => {
    const url = await start(createNotificationsApp({ sessionTtlMs: 1500 }));
    const { page, errors } = await browser.newPage();
    await page.goto(url);
    await page.fill('#login input[name="token"]', "bob-secret");
    await page.click("#login button");
    await page.waitForSelector('#status[data-state="open"]');
    await page.waitForFunction(() => document.getElementById("message")?.textContent === "Your session expired: sign in again.", undefined, { timeout: 10_000 });
    expect(await page.isVisible("#signed-out")).toBe(true);
    expect(await page.isVisible("#signed-in")).toBe(false);
    // The page closed its EventSource on `reauthenticate`: no reconnect with the expired cookie, no 401.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(errors).toEqual([]);
  });
});
