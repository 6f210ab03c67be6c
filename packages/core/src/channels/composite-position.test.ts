// The id of each event of a multi-channel subscription names its position in every
// channel, and a client may drop after any event: resuming from that id must give
// it exactly what it had not received, even for events published while the
// subscription was still looking up where each channel starts.
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { startWithCleanup } from "../testing.js";
import { memoryBroker, type ChannelBroker } from "./broker.js";
import { untilSize } from "./channel.test-support.js";

const start = startWithCleanup();

/**
 * The in-memory broker with the latency of a remote one: `lastId()` takes the
 * head when called (as Redis runs the command it is sent) and answers once
 * `answer()` is called.
 */
function slowHeadBroker(): { broker: ChannelBroker; answer: () => void } {
  const inner = memoryBroker();
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => (answer = resolve));
  const broker: ChannelBroker = {
    ...inner,
    async lastId(channel) {
      const head = inner.lastId(channel);
      await answered;
      return head;
    },
  };
  return { broker, answer };
}

const data = (events: Array<{ data: string }>, letter: string) => events.filter((e) => e.data.startsWith(letter)).map((e) => e.data);

describe("composite ids of a multi-channel subscription", () => {
  it("never names a position ahead of an event not yet sent, so a resume from any event's id loses nothing", async () => {
    const { broker, answer } = slowHeadBroker();
    const app = new App({ broker, sse: { heartbeatMs: 0 } });
    const news = app.channel("news");
    const alerts = app.channel("alerts");
    app.get("/both", (req) => app.subscribe(req, ["news", "alerts"]));
    const client = await start(app);
    const first = await client.openSse("/both");
    await untilSize(app, "alerts", 1);
    // Published after the client subscribed, while the subscription waits for the heads.
    await news.publish("n1");
    await alerts.publish("a1");
    answer();
    const got = await first.waitForEvents(2);
    expect([data(got, "n"), data(got, "a")]).toEqual([["n1"], ["a1"]]);
    first.close();
    await untilSize(app, "alerts", 0);
    // A client that dropped right after each event resumes from its id: it gets what
    // followed, plus what was published since (one more event each time).
    const since: string[] = [];
    for (const [index, seen] of got.entries()) {
      const resumed = await client.openSse("/both", { lastEventId: seen.id });
      await untilSize(app, "alerts", 1);
      const marker = `a-after-${index}`;
      await alerts.publish(marker);
      since.push(marker);
      const missed = [...got.slice(index + 1).map((e) => e.data), ...since.slice(0, -1)];
      const events = await resumed.waitForEvents(missed.length + 1, 2000).catch(() => resumed.events);
      expect(events.map((e) => e.data).sort()).toEqual([...missed, marker].sort());
      resumed.close();
      await untilSize(app, "alerts", 0);
    }
  });
});
