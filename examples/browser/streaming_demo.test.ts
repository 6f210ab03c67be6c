import { expect, it } from "vitest";
import { app } from "../streaming_demo.js";
import { browserAndApp, describeBrowser, screenshot } from "./support.js";

describeBrowser("the streaming demo's /demo page in Chromium", () => {
  const env = browserAndApp(() => app);

  it("shows every endpoint's events, in order, and each panel ends as ended", async () => {
    const { page, errors } = await env.browser.newPage();
    await page.goto(`${env.url}/demo`);
    // Every stream is finite: the page closes each EventSource when the server ends it.
    await page.waitForFunction(() => document.querySelectorAll('section[data-endpoint][data-ended="true"]').length === 3, undefined, { timeout: 10_000 });
    const panels = await page.$$eval("section[data-endpoint]", (sections) =>
      sections.map((section) => ({
        endpoint: section.getAttribute("data-endpoint"),
        status: section.querySelector(".status")?.textContent,
        events: [...section.querySelectorAll("li[data-event]")].map((li) => li.getAttribute("data-event")),
        texts: [...section.querySelectorAll("li[data-event]")].map((li) => li.textContent),
      })),
    );
    expect(panels.map((p) => [p.endpoint, p.status, p.events])).toEqual([
      ["/sse/events", "ended", ["message", "welcome", "update", "notification"]],
      ["/sse/counter", "ended", ["count", "count", "count", "count", "count", "complete"]],
      ["/sse/stock-ticker", "ended", ["ticker", "ticker", "ticker"]],
    ]);
    expect(panels[0]!.texts).toEqual([
      "message Connected to SSE stream",
      'welcome {"message":"Welcome to Cello SSE!"}',
      'update {"status":"ready"}',
      'notification {"type":"info","text":"Server is running"}',
    ]);
    expect(panels[1]!.texts.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((i) => `count {"value":${i}}`));
    expect(panels[2]!.texts.map((t) => JSON.parse(t!.slice("ticker ".length)).symbol)).toEqual(["AAPL", "GOOGL", "MSFT"]);
    await screenshot(page, "streaming-demo");
    expect(errors).toEqual([]);
  });
});
