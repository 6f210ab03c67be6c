import { memoryBroker, type App } from "@cellojs/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createNewsApp, headline } from "../news_feed.js";
import { describeBrowser, launchBrowser, screenshot, type TestBrowser } from "./support.js";

describeBrowser("the news feed page in Chromium across a server restart", () => {
  let browser: TestBrowser;
  const apps: App[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    for (const app of apps) await app.close({ graceMs: 1000 });
  });

  /** A news app on `port` (0 = any) whose /feed requests are recorded with their Last-Event-ID header. */
  async function startNews(broker: ReturnType<typeof memoryBroker>, port: number, feedRequests: Array<string | null>) {
    const app = createNewsApp({ broker, intervalMs: 0 });
    apps.push(app);
    app.addHook("onRequest", (request) => {
      if (request.path === "/feed") feedRequests.push(request.getHeader("last-event-id") ?? null);
    });
    return { app, address: await app.listen({ port }) };
  }

  it("EventSource reconnects by itself, sends Last-Event-ID, and shows the missed headlines exactly once", async () => {
    // The history lives in the broker; sharing it between the two app instances is what Redis does across processes.
    const broker = memoryBroker();
    const firstRequests: Array<string | null> = [];
    const secondRequests: Array<string | null> = [];
    const { app: first, address } = await startNews(broker, 0, firstRequests);
    const { page, errors } = await browser.newPage();
    await page.goto(address.url);
    await page.waitForSelector('#status[data-state="open"]');

    const news = first.channel("news");
    for (const title of ["one", "two", "three"]) await news.publish(headline(title, "test"), { event: "headline" });
    await page.waitForFunction(() => document.querySelectorAll("#headlines li").length === 3);

    // The final frame carries `retry: 1000`: the page comes back about a second later.
    await first.close({ graceMs: 1000 });
    await page.waitForSelector('#status[data-state="reconnecting"]');
    for (const title of ["four (while down)", "five (while down)"]) await news.publish(headline(title, "test"), { event: "headline" });

    const { app: second } = await startNews(broker, address.port, secondRequests);
    await page.waitForFunction(() => document.querySelectorAll("#headlines li").length === 5, undefined, { timeout: 10_000 });
    await second.channel("news").publish(headline("six", "test"), { event: "headline" });
    await page.waitForFunction(() => document.querySelectorAll("#headlines li").length === 6);

    const items = await page.$$eval("#headlines li", (lis) => lis.map((li) => [li.getAttribute("data-id"), li.querySelector(".title")?.textContent]));
    expect(items).toEqual([
      ["6", "six"],
      ["5", "five (while down)"],
      ["4", "four (while down)"],
      ["3", "three"],
      ["2", "two"],
      ["1", "one"],
    ]);
    expect(firstRequests).toEqual([null]);
    expect(secondRequests).toEqual(["3"]);
    expect(await page.textContent("#status")).toBe("open");
    expect(await page.textContent("#reconnects")).toBe("1");
    expect(await page.textContent("#last-id")).toBe("6");
    await screenshot(page, "news-feed-after-restart");
    // Chromium logs each reconnect attempt that found the port closed; nothing else may appear.
    expect(errors.filter((e) => e !== "console: Failed to load resource: net::ERR_CONNECTION_REFUSED (/feed)")).toEqual([]);
  }, 30_000);
});
