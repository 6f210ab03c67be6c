import type { App } from "@cellojs/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createDashboardApp } from "../dashboard.js";
import { describeBrowser, launchBrowser, screenshot, type TestBrowser } from "./support.js";

describeBrowser("the dashboard page in Chromium", () => {
  let app: App;
  let browser: TestBrowser;
  let url: string;
  beforeAll(async () => {
    app = createDashboardApp({ intervalMs: 100 });
    ({ url } = await app.listen({ port: 0 }));
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app.close({ graceMs: 1000 });
  });

  it("draws new points on the canvas as samples arrive, and counts them", async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 1000, height: 800 });
    await page.goto(url);
    const pointsReceived = () => page.$eval("#points", (el) => Number(el.getAttribute("data-count")));
    // The pixels of both charts, as PNG data URLs: equal strings mean identical pixels.
    const pixels = () => page.$$eval("canvas", (canvases) => canvases.map((c) => (c as HTMLCanvasElement).toDataURL()));

    await page.waitForFunction(() => Number(document.getElementById("points")?.dataset.count) >= 3, undefined, { timeout: 10_000 });
    const countBefore = await pointsReceived();
    const before = await pixels();
    await page.waitForFunction((n) => Number(document.getElementById("points")?.dataset.count) >= n + 3, countBefore, { timeout: 10_000 });
    // Drawing waits for the next animation frame.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    const after = await pixels();

    expect(await pointsReceived()).toBeGreaterThanOrEqual(countBefore + 3);
    expect(after).toHaveLength(2);
    expect(after[0]).not.toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    expect(await page.textContent("#status")).toBe("open");
    expect(await page.textContent("#rss")).toMatch(/^\d+\.\d MB$/);
    expect(await page.textContent("#load")).toMatch(/^[\d.]+ \/ [\d.]+ \/ [\d.]+$/);
    await screenshot(page, "dashboard");
    expect(errors).toEqual([]);
  });
});
