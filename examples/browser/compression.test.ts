// Compressed SSE in Chromium's own EventSource: events arrive live (timestamps), and a
// reconnect replays what was missed after Last-Event-ID, compressed too.
import { App, Response, type Request } from "@cellojs/core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBrowser, launchBrowser, type TestBrowser } from "./support.js";

const GAP_MS = 400;

const PAGE = `<!doctype html><meta charset="utf-8"><title>compressed SSE</title>
<script>
  window.received = [];
  const source = new EventSource("/ticks");
  source.addEventListener("tick", (e) => {
    // Date.now() in the page and in the server read the same clock (one machine).
    window.received.push({ id: e.lastEventId, data: JSON.parse(e.data), receivedAt: Date.now() });
  });
</script>`;

describeBrowser("compressed SSE in Chromium's EventSource", () => {
  let browser: TestBrowser;
  let app: App;
  let url = "";
  const requests: Array<{ acceptEncoding: string | undefined; lastEventId: string | undefined; request: Request }> = [];
  const codings: Array<string | undefined> = [];

  beforeAll(async () => {
    app = new App();
    const ticks = app.channel("ticks", { history: 100 });
    app.get("/", () => Response.html(PAGE));
    app.get("/favicon.ico", () => undefined);
    app.get("/ticks", (req) => ticks.subscribe(req), { sse: { compress: true, retry: 300 } });
    app.enableCompression();
    app.addHook("onRequest", (request) => {
      if (request.path === "/ticks") requests.push({ acceptEncoding: request.getHeader("accept-encoding"), lastEventId: request.getHeader("last-event-id"), request });
    });
    app.addHook("onStreamOpen", (_request, response) => void codings.push(response.getHeader("content-encoding") as string | undefined));
    ({ url } = await app.listen({ port: 0 }));
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close({ graceMs: 1000 });
  });

  it("delivers each event at once through a gzip stream, and replays after a reconnect", async () => {
    const ticks = app.channel("ticks");
    const { page, errors } = await browser.newPage();
    await page.goto(url);
    const deadline = Date.now() + 10_000;
    while (requests.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 200));

    const publish = (n: number) => ticks.publish({ n, sentAt: Date.now(), cpu: "0.41 0.43 0.40 ".repeat(20) }, { event: "tick" });
    for (let n = 1; n <= 4; n++) {
      await publish(n);
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    type Received = { id: string; data: { n: number; sentAt: number }; receivedAt: number };
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length === 4);
    const live = await page.evaluate(() => (window as unknown as { received: Received[] }).received);
    expect(live.map((r) => r.data.n)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < live.length - 1; i++) {
      // Received before the next one was even published: nothing waits in a compression buffer.
      expect(live[i]!.receivedAt).toBeLessThan(live[i + 1]!.data.sentAt);
    }
    expect(requests[0]!.acceptEncoding).toMatch(/gzip/);
    expect(codings[0]).toBe("gzip");

    // Cut the connection; publish while the page is away; EventSource comes back with Last-Event-ID.
    requests[0]!.request.raw.socket.destroy();
    await publish(5);
    await publish(6);
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length === 6, undefined, { timeout: 10_000 });
    await publish(7);
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length === 7);
    const all = await page.evaluate(() => (window as unknown as { received: Received[] }).received);
    expect(all.map((r) => r.data.n)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(requests[1]!.lastEventId).toBe(live[3]!.id);
    expect(codings[1]).toBe("gzip");
    expect(errors.filter((e) => !e.includes("/ticks"))).toEqual([]);
  });
});
