// Where a resuming client's position comes from: the `Last-Event-ID` header a
// reconnecting EventSource sends wins over a `?lastEventId=` left in the URL,
// and an explicit `lastEventId` option wins over both.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { startWithCleanup } from "../testing.js";
import { untilSize } from "./channel.test-support.js";

const start = startWithCleanup();

describe("resume position precedence", () => {
  it("resumes from the Last-Event-ID header when ?lastEventId= says otherwise", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    const feed = app.channel(`feed-${Math.random().toString(36).slice(2)}`);
    app.get("/feed", (req) => feed.subscribe(req));
    app.get("/pinned", (req) => feed.subscribe(req, { lastEventId: "4" }));
    const client = await start(app);
    for (let i = 1; i <= 5; i++) await feed.publish(`e${i}`);
    // The page was opened with ?lastEventId=1; the browser reconnected after event 3.
    const header = await client.openSse("/feed?lastEventId=1", { lastEventId: "3" });
    const queryOnly = await client.openSse("/feed?lastEventId=1");
    const pinned = await client.openSse("/pinned?lastEventId=1", { lastEventId: "2" });
    await untilSize(app, feed.name, 3);
    await feed.publish("e6");
    expect((await header.waitForEvents(3)).map((e) => e.id)).toEqual(["4", "5", "6"]);
    expect((await queryOnly.waitForEvents(5)).map((e) => e.id)).toEqual(["2", "3", "4", "5", "6"]);
    expect((await pinned.waitForEvents(2)).map((e) => e.id)).toEqual(["5", "6"]);
    for (const handle of [header, queryOnly, pinned]) handle.close();
  });
});
