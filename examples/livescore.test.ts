// examples/livescore.ts: the match as fragments over SSE (exact framing, escaping of hostile names),
// the page and htmx's files served locally, and the page live in Chromium with htmx + its SSE extension.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { App } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { describeBrowser, launchBrowser, loopbackOnly, readStreamUntil, screenshot, startDemo, type TestBrowser } from "./browser/support.js";
import { app as defaultApp, createLivescoreApp, type MatchScript, type MatchState } from "./livescore.js";

const require = createRequire(import.meta.url);
const HOSTILE_HOME = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">\r\nevent: score\r\ndata: <b>forged</b>`;
const HOSTILE_PLAYER = `"'><svg onload=alert(1)>&amp;`;
const script: MatchScript = {
  home: "Riverside FC",
  away: "Harbour United",
  incidents: [
    { minute: 40, team: "away", kind: "goal", player: "Lindqvist" },
    { minute: 52, team: "home", kind: "yellow-card", player: "Okafor" },
    { minute: 60, team: "home", kind: "goal", player: "Moreau" },
    { minute: 75, team: "home", kind: "goal", player: "Da Silva" },
  ],
};

const clients: TestClient[] = [];
async function start(app: App): Promise<TestClient> {
  const client = await TestClient.start(app);
  clients.push(client);
  return client;
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

/** Read `/match/events` from the first event until full-time; the raw text. */
async function wholeMatch(client: TestClient): Promise<string> {
  return readStreamUntil(`${client.url}/match/events?lastEventId=0`, (text) => text.includes('data-phase="full-time"'), 20_000);
}

describe("examples/livescore.ts", () => {
  it("publishes nothing until the app starts", async () => {
    expect(await defaultApp.broker.lastId("match")).toBeUndefined();
  });

  it("GET / is the page with htmx, its SSE extension and the fragments' targets, loading nothing from outside", async () => {
    const client = await start(createLivescoreApp({ minuteMs: 1000, script }));
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('<main id="match" hx-ext="sse" sse-connect="/match/events?lastEventId=0">');
    for (const target of ['id="scoreboard" sse-swap="score"', 'id="clock" sse-swap="clock"', 'id="timeline" sse-swap="timeline"']) expect(res.text).toContain(target);
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect([...res.text.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1])).toEqual(["/assets/htmx.min.js", "/assets/htmx-ext-sse.min.js"]);
  });

  it("serves htmx and htmx-ext-sse byte for byte from node_modules, as JavaScript", async () => {
    const client = await start(createLivescoreApp({ minuteMs: 1000, script }));
    for (const [path, file] of [
      ["/assets/htmx.min.js", "htmx.org/dist/htmx.min.js"],
      ["/assets/htmx-ext-sse.min.js", "htmx-ext-sse/dist/sse.min.js"],
    ] as const) {
      const res = await fetch(`${client.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(require.resolve(file)))).toBe(true);
    }
    expect((await client.get("/assets/other.js")).status).toBe(404);
  });

  it("streams the match as fragments: kick-off, goals, half-time, full-time, with the final score", async () => {
    const app = createLivescoreApp({ minuteMs: 4, halfTimeMinutes: 2, restartAfterMinutes: false, script });
    const client = await start(app);
    await wholeMatch(client);
    // The match is over: a page resuming from the start gets all of it from the channel's history.
    const { events } = await client.sse("/match/events?lastEventId=0", { timeoutMs: 1000 });
    // Every minute a clock fragment; ids count up with no gap.
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    const minutes = events.filter((e) => e.event === "clock").map((e) => Number(/data-minute="(\d+)"/.exec(e.data)![1]));
    expect(minutes).toEqual(Array.from({ length: 91 }, (_, i) => i));
    const scores = events.filter((e) => e.event === "score").map((e) => /home-goals">(\d+)<.*away-goals">(\d+)</.exec(e.data)!.slice(1).join("-"));
    expect(scores).toEqual(["0-1", "1-1", "2-1"]);
    const finalTimeline = events.filter((e) => e.event === "timeline").at(-1)!.data;
    expect([...finalTimeline.matchAll(/data-kind="([^"]+)"><span class="at">(\d+)'/g)].map((m) => `${m[2]} ${m[1]}`)).toEqual([
      "90 full-time",
      "75 goal",
      "60 goal",
      "52 yellow-card",
      "46 second-half",
      "45 half-time",
      "40 goal",
      "0 kick-off",
    ]);
    expect(events.filter((e) => e.event === "clock").at(-1)!.data).toContain('<span id="phase" data-phase="full-time">Full-time</span>');
    const state = (await client.get("/api/match")).json as MatchState;
    expect([state.phase, state.minute, state.home.goals, state.away.goals]).toEqual(["full-time", 90, 2, 1]);
  });

  it("a hostile team or player name is text in every fragment and cannot forge an SSE event", async () => {
    const hostile: MatchScript = {
      home: HOSTILE_HOME,
      away: "Harbour United",
      incidents: [{ minute: 3, team: "home", kind: "goal", player: HOSTILE_PLAYER }],
    };
    const client = await start(createLivescoreApp({ minuteMs: 2, halfTimeMinutes: 0, restartAfterMinutes: false, script: hostile }));
    const raw = await wholeMatch(client);
    // Every line is a field the server meant: the CR/LF in the name became more data: lines.
    for (const line of raw.split("\n")) expect(line).toMatch(/^(|: ok|id: \d+|event: (score|clock|timeline)|data: .*)$/);
    expect(raw).not.toContain("<script>");
    expect(raw).not.toContain("<img");
    expect(raw).not.toContain("<svg");
    expect(raw).toContain("&lt;script&gt;window.pwned = 1&lt;/script&gt;&lt;img src=x onerror=&quot;window.pwned = 2&quot;&gt;\ndata: event: score\ndata: data: &lt;b&gt;forged&lt;/b&gt;");
    expect(raw).toContain("&quot;&#39;&gt;&lt;svg onload=alert(1)&gt;&amp;amp;");
    const page = await client.get("/");
    expect(page.text).toContain("<title>Cello.ts Livescore: &lt;script&gt;window.pwned = 1&lt;/script&gt;");
    expect(page.text.match(/<script/g)).toHaveLength(2);
  });

  it("a page's resume point that is unknown gets event: reset, then the live fragments", async () => {
    const client = await start(createLivescoreApp({ minuteMs: 5, restartAfterMinutes: false, script }));
    const res = await client.sse("/match/events?lastEventId=not-an-id", { maxEvents: 3 });
    expect(res.status).toBe(200);
    expect(res.events[0]!.event).toBe("reset");
    expect(res.events.slice(1).map((e) => e.event)).toContain("clock");
  });

  it("refuses bad options with CELLO_INVALID_OPTION", () => {
    for (const options of [
      { minuteMs: 0 },
      { minuteMs: Number.NaN },
      { halfTimeMinutes: -1 },
      { restartAfterMinutes: 1.5 },
      { script: { ...script, home: "" } },
      { script: { ...script, away: "x".repeat(201) } },
      { script: { ...script, incidents: [{ minute: 91, team: "home" as const, kind: "goal" as const, player: "X" }] } },
    ]) {
      let code: unknown;
      try {
        createLivescoreApp(options);
      } catch (err) {
        code = (err as { code?: unknown }).code;
      }
      expect(code, JSON.stringify(options)).toBe("CELLO_INVALID_OPTION");
    }
  });

  it("kicks off again after full-time when restartAfterMinutes is set", async () => {
    const client = await start(createLivescoreApp({ minuteMs: 2, halfTimeMinutes: 0, restartAfterMinutes: 3, script }));
    const text = await readStreamUntil(
      `${client.url}/match/events?lastEventId=0`,
      (t) => t.includes('data-phase="full-time"') && t.lastIndexOf('data-phase="not-started"') > t.indexOf('data-phase="full-time"'),
      20_000,
    );
    // The new match starts from nothing: 0 - 0 and an empty list.
    const after = text.slice(text.lastIndexOf('data-phase="full-time"'));
    expect(after).toContain('<span id="home-goals">0</span> - <span id="away-goals">0</span>');
    expect(after).toMatch(/event: timeline\ndata: \n\n/);
  });

  it("starts with `npx tsx examples/livescore.ts` and streams fragments", async () => {
    const demo = await startDemo("livescore.ts", { LIVESCORE_MINUTE_MS: "20", LIVESCORE_HOME: "<i>Rovers</i>" });
    try {
      const text = await readStreamUntil(`${demo.url}/match/events?lastEventId=0`, (t) => t.includes("event: score"));
      expect(text).toContain("&lt;i&gt;Rovers&lt;/i&gt;");
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});

describeBrowser("the livescore page in Chromium (htmx + htmx-ext-sse)", () => {
  let browser: TestBrowser;
  const apps: App[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    for (const app of apps) await app.close({ graceMs: 1000 });
  });

  it("swaps the clock, the score and the event list live; hostile names show as text; only 127.0.0.1 is asked; no console error", async () => {
    const { requested, blocked } = await loopbackOnly(browser.context);
    // The app starts after the browser: the match kicks off as the page loads (goals from minute 40, about 5 s in).
    const hostile: MatchScript = { ...script, home: HOSTILE_HOME, incidents: script.incidents.map((i) => (i.minute === 60 ? { ...i, player: HOSTILE_PLAYER } : i)) };
    const app = createLivescoreApp({ minuteMs: 120, halfTimeMinutes: 2, restartAfterMinutes: false, script: hostile });
    apps.push(app);
    const { url } = await app.listen({ port: 0 });
    const { page, errors } = await browser.newPage();
    // Count every event htmx's SSE extension swaps in, from before the page's own scripts run.
    await page.addInitScript(() => {
      const seen: Record<string, number> = {};
      (window as unknown as { seen: typeof seen }).seen = seen;
      document.addEventListener("htmx:sseMessage", (event) => {
        const type = ((event as CustomEvent).detail as MessageEvent).type;
        seen[type] = (seen[type] ?? 0) + 1;
      });
    });
    await page.goto(url);
    const goalsAtLoad = await page.evaluate(() => Number(document.getElementById("home-goals")!.textContent) + Number(document.getElementById("away-goals")!.textContent));
    await page.waitForSelector('#phase[data-phase="full-time"]', { timeout: 30_000 });

    const seen = await page.evaluate(() => (window as unknown as { seen: Record<string, number> }).seen);
    expect(seen.clock).toBeGreaterThanOrEqual(20);
    expect(seen.score).toBeGreaterThanOrEqual(1);
    expect(seen.timeline).toBeGreaterThanOrEqual(3);
    expect(goalsAtLoad).toBeLessThan(3);
    expect(await page.textContent("#home-goals")).toBe("2");
    expect(await page.textContent("#away-goals")).toBe("1");
    expect(await page.textContent("#scoreboard .home")).toBe(HOSTILE_HOME.replace(/\r\n/g, "\n"));
    const timeline = await page.$$eval("#timeline li", (lis) => lis.map((li) => [li.dataset.kind, li.textContent!.replace(/\s+/g, " ").trim()]));
    expect(timeline.map(([kind]) => kind)).toEqual(["full-time", "goal", "goal", "yellow-card", "second-half", "half-time", "goal", "kick-off"]);
    expect(timeline[2]![1]).toContain(`Goal! ${HOSTILE_PLAYER}`);
    expect(timeline.at(-2)![1]).toBe("40' Goal! Lindqvist (Harbour United)");
    // Nothing the names carried ran or became an element.
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.$$eval("#match script, #match img, #match svg", (found) => found.length)).toBe(0);
    expect(await page.title()).toBe(`Cello.ts Livescore: ${HOSTILE_HOME.replace(/\r\n/g, " ")} v Harbour United`);
    await screenshot(page, "livescore");
    expect(blocked).toEqual([]);
    expect(new Set(requested)).toEqual(new Set(["/", "/assets/htmx.min.js", "/assets/htmx-ext-sse.min.js", "/match/events"]));
    expect(errors).toEqual([]);
  }, 60_000);
});
