// A shared channel with an audience, read by Chromium's own EventSource: the events
// the page may not see never reach it, yet they move its Last-Event-ID (id-only
// frames), so its reconnect resumes after them.
import { App, Response, memoryBroker, type ChannelBroker } from "@cellojs/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser, launchBrowser, type TestBrowser } from "./support.js";

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>audience</title>
<link rel="icon" href="data:,">
<ul id="events"></ul>
<script>
  window.received = [];
  const source = new EventSource("/feed?user=ann");
  source.onopen = () => { window.opened = (window.opened ?? 0) + 1; };
  source.onmessage = (event) => { window.received.push([event.lastEventId, event.data]); };
</script>`;

/** The app: one shared channel, each subscriber's audience its `?user=`; /feed requests recorded with their Last-Event-ID. */
function audienceApp(broker: ChannelBroker, requests: Array<string | null>): App {
  const app = new App({ broker, sse: { heartbeatMs: 0, retry: 200 } });
  const shared = app.channel("shared");
  app.addHook("onRequest", (request) => {
    if (request.path === "/feed") requests.push(request.getHeader("last-event-id") ?? null);
  });
  app.get("/", () => Response.html(PAGE));
  app.get("/feed", (request) => shared.subscribe(request, { audience: [`user:${String(request.query.user)}`] }));
  return app;
}

describeBrowser("a shared channel with an audience, in Chromium", () => {
  let browser: TestBrowser;
  const apps: App[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    for (const app of apps) await app.close({ graceMs: 1000 });
  });

  it("shows the page only its events, and its reconnect resumes after the hidden ones (Last-Event-ID moved by id-only frames)", async () => {
    const broker = memoryBroker();
    const firstRequests: Array<string | null> = [];
    const secondRequests: Array<string | null> = [];
    const first = audienceApp(broker, firstRequests);
    apps.push(first);
    const address = await first.listen({ port: 0 });
    const { page, errors } = await browser.newPage();
    await page.goto(address.url);
    await page.waitForFunction(() => (window as unknown as { opened?: number }).opened === 1);
    const shared = first.channel("shared");
    await shared.publish("1 for all");
    await shared.publish("2 for ann", { to: ["user:ann"] });
    await shared.publish("3 for bob", { to: ["user:bob"] });
    await shared.publish("4 for bob", { to: ["user:bob"] });
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length === 2);
    // Give the hidden events' frames time to arrive (they dispatch nothing, so there is nothing to wait for).
    await new Promise((resolve) => setTimeout(resolve, 200));

    // The server goes away and comes back on the same port and broker: EventSource reconnects by itself.
    await first.close({ graceMs: 1000 });
    await shared.publish("5 for bob while down", { to: ["user:bob"] }).catch(() => undefined);
    const second = audienceApp(broker, secondRequests);
    apps.push(second);
    await second.listen({ port: address.port });
    await page.waitForFunction(() => (window as unknown as { opened?: number }).opened === 2, undefined, { timeout: 10_000 });
    await second.channel("shared").publish("6 for ann", { to: ["user:ann"] });
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length === 3);

    expect(await page.evaluate(() => (window as unknown as { received: unknown[] }).received)).toEqual([
      ["1", "1 for all"],
      ["2", "2 for ann"],
      ["6", "6 for ann"],
    ]);
    // The reconnect said "after 4": the last event it was sent, hidden from it, not the last one it showed.
    expect(firstRequests).toEqual([null]);
    expect(secondRequests).toEqual(["4"]);
    expect(errors.filter((e) => !e.includes("ERR_CONNECTION_REFUSED"))).toEqual([]);
  }, 30_000);
});
