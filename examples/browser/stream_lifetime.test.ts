// The `maxLifetimeMs` SSE option in a real browser: Chromium's own EventSource, ended by the
// stream's lifetime, comes back after the `retry:` of the last frame, with Last-Event-ID, and the
// channel replays what it missed: nothing lost or doubled.
import { App, Response, silentLogger } from "@cellojs/core";
import { expect, it } from "vitest";
import { browserAndApp, describeBrowser } from "./support.js";

const PAGE = `<!doctype html><meta charset="utf-8"><title>lifetime</title>
<script>
window.received = [];
window.opens = [];
const source = new EventSource("/ticks");
source.onopen = () => window.opens.push(Date.now());
source.addEventListener("n", (event) => window.received.push([event.lastEventId, Number(event.data)]));
</script>`;

describeBrowser("a stream ended by its maximum lifetime, in Chromium", () => {
  const requests: Array<{ lastEventId: string | null; at: number }> = [];
  const closes: Array<{ reason: string; at: number }> = [];
  const env = browserAndApp(() => {
    const app = new App({ logger: silentLogger });
    const ticks = app.channel("ticks", { history: 1000 });
    let n = 0;
    const timer = setInterval(() => void ticks.publish(String(++n), { event: "n" }), 25);
    app.onEvent("shutdown", () => clearInterval(timer));
    app.addHook("onRequest", (request) => {
      if (request.path === "/ticks") requests.push({ lastEventId: request.getHeader("last-event-id") ?? null, at: Date.now() });
    });
    app.addHook("onStreamClose", (_request, info) => void closes.push({ reason: info.reason, at: Date.now() }));
    app.get("/", () => Response.html(PAGE));
    app.get("/favicon.ico", () => null);
    app.get("/ticks", (request) => ticks.subscribe(request), { sse: { maxLifetimeMs: 600, lifetimeJitter: 0.5 } });
    return app;
  });

  it("EventSource reconnects after `retry` with Last-Event-ID and resumes: every number once, in order", async () => {
    const { page } = await env.browser.newPage();
    await page.goto(env.url);
    await page.waitForFunction(() => (window as unknown as { opens: number[] }).opens.length >= 4, undefined, { timeout: 20_000 });
    // A few more numbers on the last connection, then read what the page received.
    await page.waitForTimeout(200);
    const received = await page.evaluate(() => (window as unknown as { received: Array<[string, number]> }).received);
    await page.close();

    const numbers = received.map(([, n]) => n);
    expect(numbers.length).toBeGreaterThan(40);
    // One unbroken run from the first number: nothing lost across three lifetime ends, nothing doubled.
    expect(numbers).toEqual(numbers.map((_, i) => numbers[0]! + i));
    // Every reconnect carried the id of the last event the page had, and came after the lifetime ended it.
    expect(requests.length).toBeGreaterThanOrEqual(4);
    expect(requests[0]!.lastEventId).toBeNull();
    const ids = received.map(([id]) => id);
    for (const { lastEventId } of requests.slice(1)) expect(ids).toContain(lastEventId);
    const lifetimeEnds = closes.filter((c) => c.reason === "lifetime");
    expect(lifetimeEnds.length).toBeGreaterThanOrEqual(3);
    // The route sets no `retry`: the lifetime's last frame sent `retry: 1000`, and the browser
    // waited about that before reconnecting, not its own 3 s default nor at once.
    for (let i = 0; i < 3; i++) {
      const gap = requests[i + 1]!.at - lifetimeEnds[i]!.at;
      expect(gap).toBeGreaterThanOrEqual(700);
      expect(gap).toBeLessThan(2500);
    }
  }, 30_000);
});
