import { expect, it } from "vitest";
import { createDashboardApp } from "../dashboard.js";
import { browserAndApp, describeBrowser, screenshot } from "./support.js";

describeBrowser("the dashboard page in Chromium", () => {
  const env = browserAndApp(() => createDashboardApp({ intervalMs: 100 }));

  it("draws new points on the canvas as samples arrive, and counts them", async () => {
    const { page, errors } = await env.browser.newPage();
    await page.setViewportSize({ width: 1000, height: 800 });
    await page.goto(env.url);
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
