/**
 * The ChannelBroker conformance suite: what every broker (memory, Redis, and any
 * future one) must do, checked once, against the broker alone and through real
 * channels, a real server and a real client. Each broker's package runs it:
 * `runBrokerConformance(() => myBroker())` in one of its vitest files.
 */
import { App, silentLogger, type Channel, type ChannelBroker, type ChannelMessage, type ChannelOptions, type Logger, type PublishOptions, type ReplayOptions, type ReplayResult, type Request, type Response } from "@cellojs/core";
import { afterEach, describe, expect, it, type TestContext } from "vitest";
import { TestClient, type ReceivedEvent } from "./test-client.js";

/** Options of {@link runBrokerConformance}. */
export interface BrokerConformanceOptions {
  /** What the suite is called in the report. Default `"broker"`. */
  name?: string;
  /** Skip the whole suite, e.g. when the backend it needs is not running. Default false. */
  skip?: boolean;
  /**
   * How many events beyond a channel's `history` the broker may keep. Default 0:
   * exactly `history`. The Redis broker trims whole stream nodes (`MAXLEN ~`): 100.
   */
  historySlack?: number;
}

/** Makes the broker under test: a new one for each test; the suite closes it. */
export type MakeBroker = () => ChannelBroker | Promise<ChannelBroker>;

/**
 * Register the ChannelBroker conformance suite (vitest) for the broker `makeBroker`
 * returns. It checks the contract documented on `ChannelBroker`: ids ordered by
 * `compareIds`, publish and subscribe order, replay exclusive after an id, paging
 * with `limit`, resets for trimmed, unknown and future ids, `lastId`, the history
 * and ttl bounds, `delete`, the ordering rule a subscription relies on; and, through
 * real channels, a real server and a real client, what users see: broadcast,
 * resume with no gap and no duplicate while live events arrive during the catch-up
 * (the suite makes them overlap the history it replays, whatever the broker),
 * paging far past the buffer limit, reset frames, filters, composite ids, delete,
 * and the error frame when a replay fails.
 *
 * Channel names get a random suffix, so runs sharing a backend do not collide; the
 * caller removes what the broker left there (e.g. Redis keys under its prefix).
 *
 * @param makeBroker - A new broker for each test (may be async); the suite closes it.
 * @param options - `name` ("broker"), `skip` (false), `historySlack` (0).
 * @example
 * // my-broker.test.ts
 * import { runBrokerConformance } from "@cellojs/testing/conformance";
 * import { myBroker } from "./index.js";
 *
 * runBrokerConformance(() => myBroker({ url: process.env.MY_URL }), { name: "myBroker" });
 */
export function runBrokerConformance(makeBroker: MakeBroker, options: BrokerConformanceOptions = {}): void {
  const slack = options.historySlack ?? 0;
  describe.skipIf(options.skip === true)(`ChannelBroker conformance: ${options.name ?? "broker"}`, () => {
    const brokers: ChannelBroker[] = [];
    const apps: App[] = [];
    const clients: TestClient[] = [];
    afterEach(async () => {
      // A client closes its app, and an app its broker; apps never started are closed here.
      await Promise.all(clients.splice(0).map((client) => client.close()));
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await Promise.all(brokers.splice(0).map((broker) => broker.close()));
    });
    const broker = async (): Promise<ChannelBroker> => {
      const made = await makeBroker();
      brokers.push(made);
      return made;
    };
    /** An app on a new broker (or on `wrap` of it), heartbeats off; closing the app closes the broker. */
    const app = async (wrap: (broker: ChannelBroker) => ChannelBroker = (b) => b, logger: Logger = silentLogger): Promise<App> => {
      const made = new App({ broker: wrap(await makeBroker()), sse: { heartbeatMs: 0 }, logger });
      apps.push(made);
      return made;
    };
    const start = async (made: App): Promise<TestClient> => {
      const client = await TestClient.start(made);
      clients.push(client);
      return client;
    };
    /**
     * A started app with one channel (`label` and a random suffix) that `GET /feed`
     * subscribes to (`subscribe`, default `channel.subscribe(req)`), on `wrap` of a new broker.
     */
    const served = async (
      label: string,
      setup: ChannelOptions & { wrap?: (broker: ChannelBroker, name: string) => ChannelBroker; logger?: Logger; subscribe?: (channel: Channel, req: Request) => Response | Promise<Response> } = {},
    ) => {
      const name = unique(label);
      const made = await app((broker) => setup.wrap?.(broker, name) ?? broker, setup.logger);
      const channel = made.channel(name, { history: setup.history, ttlMs: setup.ttlMs });
      made.get("/feed", (req) => (setup.subscribe ? setup.subscribe(channel, req) : channel.subscribe(req)));
      return { app: made, name, channel, client: await start(made) };
    };

    describe("the broker", () => {
      it("numbers each channel's events with ids that compareIds orders, each after the one before", async () => {
        const b = await broker();
        const [one, two] = [unique("ids-a"), unique("ids-b")];
        const ids: Record<string, string[]> = { [one]: [], [two]: [] };
        for (let i = 0; i < 6; i++) {
          const channel = i % 2 ? one : two;
          ids[channel]!.push(await b.publish(channel, { data: String(i) }));
        }
        for (const list of Object.values(ids)) {
          expect(list.every((id) => typeof id === "string" && id !== "")).toBe(true);
          for (let i = 1; i < list.length; i++) {
            expect(b.compareIds(list[i - 1]!, list[i]!)).toBeLessThan(0);
            expect(b.compareIds(list[i]!, list[i - 1]!)).toBeGreaterThan(0);
            expect(b.compareIds(list[i]!, list[i]!)).toBe(0);
          }
        }
      });

      it("replays after an id, exclusive, oldest first, with the event type only when there is one", async () => {
        const b = await broker();
        const feed = unique("feed");
        const ids: string[] = [];
        for (let i = 1; i <= 5; i++) ids.push(await b.publish(feed, i % 2 ? { data: `e${i}` } : { event: "even", data: `e${i}` }));
        const replay = await b.replay(feed, ids[1]!);
        expect(replay).toEqual({
          events: [
            { id: ids[2], data: "e3" },
            { id: ids[3], event: "even", data: "e4" },
            { id: ids[4], data: "e5" },
          ],
          reset: false,
          earliestId: ids[0],
        });
        expect(replay.events.map((event) => Object.keys(event).sort())).toEqual([["data", "id"], ["data", "event", "id"], ["data", "id"]]);
        expect(await b.replay(feed, ids[4]!)).toEqual({ events: [], reset: false, earliestId: ids[0] });
        // "" is "from the start of the channel": every event still held.
        expect((await b.replay(feed, "")).events.map((event) => event.data)).toEqual(["e1", "e2", "e3", "e4", "e5"]);
      });

      it("pages with a limit: at most that many, the next page after the last id, a short page at the end", async () => {
        const b = await broker();
        const paged = unique("paged");
        const ids: string[] = [];
        for (let i = 1; i <= 7; i++) ids.push(await b.publish(paged, { data: `e${i}` }));
        const pages: string[][] = [];
        let after = ids[0]!;
        for (let round = 0; round < 10; round++) {
          const page = await b.replay(paged, after, { limit: 2 });
          expect([page.reset, page.earliestId]).toEqual([false, ids[0]]);
          pages.push(page.events.map((event) => event.data));
          if (page.events.length < 2) break;
          after = page.events.at(-1)!.id;
        }
        expect(pages).toEqual([["e2", "e3"], ["e4", "e5"], ["e6", "e7"], []]);
        expect((await b.replay(paged, "", { limit: 3 })).events.map((event) => event.data)).toEqual(["e1", "e2", "e3"]);
      });

      it("treats a channel it holds nothing for as empty: \"\" replays nothing, lastId is undefined", async () => {
        const b = await broker();
        const never = unique("never");
        expect(await b.replay(never, "")).toEqual({ events: [], reset: false });
        expect(await b.replay(never, "", { limit: 5 })).toEqual({ events: [], reset: false });
        expect(await b.lastId(never)).toBeUndefined();
      });

      it("resets for an id it never issued for the channel: unknown, or from the future, and reports the earliest id held", async () => {
        const b = await broker();
        const [ticks, later] = [unique("ticks"), unique("later")];
        const ids: string[] = [];
        for (let i = 1; i <= 3; i++) ids.push(await b.publish(ticks, { data: `t${i}` }));
        // Ids of a channel that got more events, later: ahead of anything `ticks` issued.
        let future = "";
        for (let i = 1; i <= ids.length + 5; i++) future = await b.publish(later, { data: `l${i}` });
        expect(await b.replay(ticks, "not-an-id")).toEqual({ events: [], reset: true, earliestId: ids[0] });
        expect(await b.replay(ticks, future)).toEqual({ events: [], reset: true, earliestId: ids[0] });
        expect(await b.lastId(ticks)).toBe(ids.at(-1));
      });

      it(`keeps \`history\` events (at most ${slack} more) and resets an id older than those, reporting the earliest held`, async () => {
        const b = await broker();
        const bounded = unique("bounded");
        const history = 3;
        b.configure(bounded, { history, ttlMs: 0 });
        const ids: string[] = [];
        for (let i = 0; i < history + slack + 50; i++) ids.push(await b.publish(bounded, { data: `b${i}` }));
        const fromStart = await b.replay(bounded, "");
        expect(fromStart.reset).toBe(true);
        const earliest = fromStart.earliestId!;
        const held = ids.slice(ids.indexOf(earliest));
        expect(ids).toContain(earliest);
        expect(held.length).toBeGreaterThanOrEqual(history);
        expect(held.length).toBeLessThanOrEqual(history + slack);
        // From the earliest held: everything after it, nothing lost, no reset.
        expect(await b.replay(bounded, earliest)).toEqual({ events: held.slice(1).map((id) => ({ id, data: `b${ids.indexOf(id)}` })), reset: false, earliestId: earliest });
        for (const gone of [ids[0]!, ids[ids.indexOf(earliest) - 2]!]) expect(await b.replay(bounded, gone)).toEqual({ events: [], reset: true, earliestId: earliest });
        expect(await b.lastId(bounded)).toBe(ids.at(-1));
      });

      it("drops events older than ttlMs: a client that missed them is told to reset, one that saw them missed nothing", async () => {
        const b = await broker();
        const fleeting = unique("fleeting");
        const ttlMs = 500;
        b.configure(fleeting, { history: 1000, ttlMs });
        const id = await b.publish(fleeting, { data: "soon gone" });
        expect((await b.replay(fleeting, "")).events).toEqual([{ id, data: "soon gone" }]);
        await sleep(2 * ttlMs);
        expect(await b.replay(fleeting, "")).toMatchObject({ events: [], reset: true });
        expect(await b.replay(fleeting, id)).toMatchObject({ events: [], reset: false });
        // The newest id issued stays the newest, expired or not.
        expect(await b.lastId(fleeting)).toBe(id);
      });

      it("delivers each new event once, in id order, to every subscriber on this instance, until it unsubscribes", async () => {
        const b = await broker();
        const live = unique("live");
        const before = await b.publish(live, { data: "before anyone listened" });
        const first: ChannelMessage[] = [];
        const second: ChannelMessage[] = [];
        const stopFirst = b.subscribe(live, (message) => first.push(message));
        b.subscribe(live, (message) => second.push(message));
        const expected: ChannelMessage[] = [];
        for (let i = 0; i < 20; i++) {
          const message = i % 2 ? { event: "odd", data: String(i) } : { data: String(i) };
          expected.push({ id: await b.publish(live, message), ...message });
        }
        await until(() => first.length >= 20 && second.length >= 20, "20 events on both subscribers");
        expect(first).toEqual(expected);
        expect(second).toEqual(expected);
        expect(first.some((message) => message.id === before)).toBe(false);
        stopFirst();
        for (let i = 20; i < 25; i++) expected.push({ id: await b.publish(live, { data: String(i) }), data: String(i) });
        await until(() => second.length >= 25, "the events after one unsubscribed");
        // Delivered in one pass per event: the one that left would have had them by now.
        expect(second).toEqual(expected);
        expect(first).toHaveLength(20);
      });

      it("keeps each event's audience (`to`) and gives it back unchanged, live and on replay; an event without one has none", async () => {
        const b = await broker();
        const inbox = unique("audience");
        const live: ChannelMessage[] = [];
        b.subscribe(inbox, (message) => live.push(message));
        const sent = [
          { data: "everyone" },
          { event: "note", data: "ann only", to: ["user:ann"] },
          { data: "ann and admins", to: ["user:ann", "role:admin"] },
          { data: "nobody", to: [] },
          { data: "odd tags", to: ["with \"quotes\", commas", "\u00e9t\u00e9 \ud83c\udf89", ""] },
        ];
        const expected: ChannelMessage[] = [];
        for (const message of sent) expected.push({ id: await b.publish(inbox, message), ...message });
        await until(() => live.length >= sent.length, "the published events");
        // toEqual treats a missing key and `to: undefined` alike: say it, key by key.
        expect(live).toEqual(expected);
        expect("to" in live[0]!).toBe(false);
        const replayed = await b.replay(inbox, "");
        expect(replayed.events).toEqual(expected);
        expect("to" in replayed.events[0]!).toBe(false);
        expect((await b.replay(inbox, expected[1]!.id, { limit: 2 })).events).toEqual(expected.slice(2, 4));
      });

      it("resolves replay and lastId only once this instance's subscribers were handed every event they report", async () => {
        // What a subscription relies on to drop the overlap between a replay and the live events it buffered.
        const b = await broker();
        const ordered = unique("ordered");
        const seen = new Set<string>();
        b.subscribe(ordered, (message) => seen.add(message.id));
        const from = await b.publish(ordered, { data: "start" });
        for (let round = 0; round < 3; round++) {
          await Promise.all(Array.from({ length: 10 }, (_, i) => b.publish(ordered, { data: `${round}.${i}` })));
          const replay = await b.replay(ordered, from);
          expect(replay.events.length).toBe(10 * (round + 1));
          expect(replay.events.filter((message) => !seen.has(message.id))).toEqual([]);
          const head = await b.lastId(ordered);
          expect(seen.has(head!)).toBe(true);
        }
      });

      it("delete(), when the broker has it, removes the channel's events: a resume is told to reset and the channel starts empty", async (context) => {
        const b = await broker();
        skipUnless(context, b.delete !== undefined, "this broker has no delete()");
        const doomed = unique("doomed");
        const old = await b.publish(doomed, { data: "one" });
        await b.publish(doomed, { data: "two" });
        await b.delete!(doomed);
        expect(await b.replay(doomed, old)).toMatchObject({ events: [], reset: true });
        expect(await b.replay(doomed, "")).toMatchObject({ events: [], reset: false });
        expect(await b.lastId(doomed)).toBeUndefined();
        const fresh = await b.publish(doomed, { data: "after" });
        expect((await b.replay(doomed, "")).events).toEqual([{ id: fresh, data: "after" }]);
      });
    });

    describe("channels on it, over a real socket", () => {
      it("broadcasts to every subscriber, serialising each event once, with the id publish resolved with", async () => {
        const { app: a, name, channel: news, client } = await served("news");
        const first = await client.openSse("/feed");
        const second = await client.openSse("/feed");
        await subscribers(a, name, 2);
        let serialised = 0;
        const payload = { toJSON: () => (serialised++, { headline: "hello" }) };
        const story = await news.publish(payload, { event: "story" });
        const plain = await news.publish("plain text");
        expect(serialised).toBe(1);
        expect(a.broker.compareIds(story, plain)).toBeLessThan(0);
        for (const handle of [first, second]) {
          expect(await handle.waitForEvents(2)).toEqual([
            { event: "story", data: '{"headline":"hello"}', id: story },
            { event: "message", data: "plain text", id: plain },
          ]);
          handle.close();
        }
        await subscribers(a, name, 0);
      });

      it("replays what a client missed from Last-Event-ID or ?lastEventId=, then goes live", async () => {
        const { app: a, name, channel: feed, client } = await served("feed");
        const ids: string[] = [];
        for (let i = 1; i <= 5; i++) ids.push(await feed.publish(`e${i}`));
        const fromHeader = await client.openSse("/feed", { lastEventId: ids[1] });
        const fromQuery = await client.openSse(`/feed?lastEventId=${encodeURIComponent(ids[3]!)}`);
        await subscribers(a, name, 2);
        ids.push(await feed.publish("e6"));
        expect((await fromHeader.waitForEvents(4)).map((e) => [e.id, e.data])).toEqual([
          [ids[2], "e3"],
          [ids[3], "e4"],
          [ids[4], "e5"],
          [ids[5], "e6"],
        ]);
        expect((await fromQuery.waitForEvents(2)).map((e) => e.id)).toEqual([ids[4], ids[5]]);
        fromHeader.close();
        fromQuery.close();
      });

      it("sends the reset frame for an id older than the history, unknown or from the future, then live", async () => {
        const { app: a, name, channel: ticks, client } = await served("ticks", { history: 3 });
        const ids: string[] = [];
        for (let i = 1; i <= 3 + slack + 50; i++) ids.push(await ticks.publish(`t${i}`));
        let future = "";
        const later = a.channel(unique("later"));
        for (let i = 0; i < ids.length + 5; i++) future = await later.publish("later");
        const { earliestId } = await a.broker.replay(name, "");
        expect(ids.indexOf(earliestId!)).toBeGreaterThanOrEqual(2);
        const old = await client.openSse("/feed", { lastEventId: ids[0] });
        const unknown = await client.openSse("/feed", { lastEventId: "not-an-id" });
        const fromFuture = await client.openSse("/feed", { lastEventId: future });
        await subscribers(a, name, 3);
        const live = await ticks.publish("live");
        const expectReset = async (handle: typeof old, lastEventId: string) => {
          const [reset, next] = await handle.waitForEvents(2);
          expect(reset!.event).toBe("reset");
          expect(JSON.parse(reset!.data)).toEqual({ channel: name, lastEventId, earliestId });
          expect([next!.id, next!.data]).toEqual([live, "live"]);
        };
        await expectReset(old, ids[0]!);
        await expectReset(unknown, "not-an-id");
        await expectReset(fromFuture, future);
        // Still inside the history: a normal replay.
        const inside = await client.sse("/feed", { lastEventId: ids.at(-3), maxEvents: 3 });
        expect(inside.events.map((e) => [e.id, e.data])).toEqual([
          [ids.at(-2), `t${ids.length - 1}`],
          [ids.at(-1), `t${ids.length}`],
          [live, "live"],
        ]);
        for (const handle of [old, unknown, fromFuture]) handle.close();
      });

      it("resumes with no gap and no duplicate while live events arrive during the catch-up, before and after each page is read", async () => {
        // Whatever the broker, the catch-up meets live events it also replays (published
        // before a page is read: buffered live and in the page) and live events it does not
        // (published after): the first must be dropped, the second sent, all in id order.
        const during: string[] = [];
        const replayed = new Set<string>();
        const { channel: feed, client } = await served("resume", {
          wrap: (inner, name) =>
            withReplay(inner, async (channel: string, afterId: string, replayOptions?: ReplayOptions): Promise<ReplayResult> => {
              if (channel !== name) return inner.replay(channel, afterId, replayOptions);
              for (let i = 0; i < 3; i++) during.push(await inner.publish(channel, { data: `before page ${i}` }));
              const page = await inner.replay(channel, afterId, replayOptions);
              for (const event of page.events) replayed.add(event.id);
              for (let i = 0; i < 3; i++) during.push(await inner.publish(channel, { data: `after page ${i}` }));
              return page;
            }),
        });
        const history: string[] = [];
        for (let i = 1; i <= 60; i++) history.push(await feed.publish(`h${i}`));
        const reader = await client.openSse("/feed", { lastEventId: history[4] });
        // The newest event published during the catch-up was not in a page (it came after the
        // last one was read): once it arrives, the subscription went live and reads no more.
        await until(() => during.length > 0 && reader.events.at(-1)?.id === during.at(-1), "the end of the catch-up", 30_000);
        const expected = [...history.slice(5), ...during];
        // Live now: one more event, then nothing else may have come.
        const last = await feed.publish("live");
        const events = await reader.waitForEvents(expected.length + 1, 30_000);
        expect(events.map((e) => e.id)).toEqual([...expected, last]);
        // The catch-up met an overlap: live events its pages also held.
        expect(during.filter((id) => replayed.has(id)).length).toBeGreaterThan(0);
        reader.close();
      }, 60_000);

      it("resumes far more history than bufferLimit, a page at a time, with live events meanwhile: each event once, in order", async () => {
        const a = await app();
        const name = unique("archive");
        const archive = a.channel(name, { history: 10_000 });
        const bufferLimit = 64 * 1024;
        a.get("/archive", (req) => archive.subscribe(req, { sse: { bufferLimit } }));
        const reasons: string[] = [];
        a.addHook("onStreamClose", (_req, info) => reasons.push(info.reason));
        const client = await start(a);
        const payload = "r".repeat(1000);
        const ids: string[] = [];
        // 3 MB of history, about 50 times the limit (published 100 at a time).
        for (let batch = 0; batch < 30; batch++) ids.push(...(await Promise.all(Array.from({ length: 100 }, () => archive.publish(payload)))));
        const reader = await client.openSse("/archive", { lastEventId: ids[0] });
        await subscribers(a, name, 1);
        // Live events while the history is being paged.
        for (let i = 0; i < 500; i++) {
          ids.push(await archive.publish(`live ${i}`));
          if (i % 50 === 49) await sleep(5);
        }
        const events = await reader.waitForEvents(ids.length - 1, 30_000);
        expect(events.map((e) => e.id)).toEqual(ids.slice(1));
        expect(events.at(-1)!.data).toBe("live 499");
        expect(reasons).toEqual([]);
        reader.close();
      }, 60_000);

      it("delivers 1000 events exactly once, in order, to a subscriber that keeps reconnecting with Last-Event-ID", async () => {
        const { app: a, name, client } = await served("stream", { history: 2000 });
        const { received, reconnects } = await receiveWhileHopping(a, client, { channel: name, path: "/feed", count: 1000 });
        expect(reconnects).toBeGreaterThan(10);
        expect(received.map((e) => e.data)).toEqual(Array.from({ length: 1000 }, (_, i) => `n${i + 1}`));
        expect(received.every((e, i) => i === 0 || a.broker.compareIds(received[i - 1]!.id, e.id) < 0)).toBe(true);
      }, 60_000);

      it("resumes a filtered subscriber with exactly its own events while the other's arrive live during its catch-up", async () => {
        const { app: a, name, client } = await served("inbox", {
          history: 2000,
          wrap: slowReplay,
          subscribe: (inbox, req) => inbox.subscribe(req, { filter: (m) => (JSON.parse(m.data) as { to: string }).to === req.query.user }),
        });
        await expectOwnEventsWhileResuming(a, client, { channel: name, path: (user) => `/feed?user=${user}`, count: 900 });
      }, 60_000);

      it("resumes a subscriber of a shared channel with exactly the events its audience may see while the other's arrive live during its catch-up", async () => {
        const { app: a, name, client } = await served("shared", {
          history: 2000,
          wrap: slowReplay,
          subscribe: (inbox, req) => inbox.subscribe(req, { audience: [`user:${String(req.query.user)}`] }),
        });
        await expectOwnEventsWhileResuming(a, client, { channel: name, path: (user) => `/feed?user=${user}`, count: 900, audience: true });
      }, 60_000);

      it("a shared channel with an audience: two users resume, each with exactly the events it may see, in order, none lost or doubled; the others still move its position", async () => {
        const { app: a, name, channel: shared, client } = await served("audience", {
          history: 2000,
          subscribe: (channel, req) => channel.subscribe(req, { audience: [`user:${req.getHeader("x-user")}`, "everyone"] }),
        });
        // Event i is for: 0 everyone (no `to`), 1 ann, 2 bob, 3 both, 4 carl (neither), by i % 5.
        const audiences: Array<string[] | undefined> = [undefined, ["user:ann"], ["user:bob"], ["user:ann", "user:bob"], ["user:carl"]];
        const ids: string[] = [];
        const publish = async (from: number, to: number) => {
          for (let i = from; i <= to; i++) {
            const audience = audiences[i % 5];
            ids[i] = await shared.publish({ n: i, to: audience ?? "all" }, audience === undefined ? {} : { to: audience });
          }
        };
        const sees = (user: string, i: number) => {
          const audience = audiences[i % 5];
          return audience === undefined || audience.includes(`user:${user}`);
        };
        const expectedFor = (user: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k).filter((i) => sees(user, i));
        const as = (user: string, lastEventId?: string) => ({ headers: { "x-user": user }, ...(lastEventId === undefined ? {} : { lastEventId }) });
        const received: Record<string, number[]> = { ann: [], bob: [] };
        // 1. Both connect and read events 1..49 live. Event 49 is carl's: neither sees it,
        //    yet each one's position (the id a reconnect sends) moves past it.
        const first = { ann: await client.openSse("/feed", as("ann")), bob: await client.openSse("/feed", as("bob")) };
        await subscribers(a, name, 2);
        await publish(1, 49);
        for (const user of ["ann", "bob"] as const) {
          await first[user].waitForEvents(expectedFor(user, 1, 49).length);
          await expect.poll(() => first[user].lastEventId, { timeout: 5000, interval: 5 }).toBe(ids[49]);
          first[user].close();
          received[user]!.push(...first[user].events.map((e) => (JSON.parse(e.data) as { n: number }).n));
        }
        await subscribers(a, name, 0);
        // 2. Away: 50..120 published. 3. Each resumes with its position; 121..160 arrive live meanwhile.
        await publish(50, 120);
        const second = { ann: await client.openSse("/feed", as("ann", first.ann.lastEventId)), bob: await client.openSse("/feed", as("bob", first.bob.lastEventId)) };
        await subscribers(a, name, 2);
        await publish(121, 160);
        for (const user of ["ann", "bob"] as const) {
          const events = await second[user].waitForEvents(expectedFor(user, 50, 160).length);
          received[user]!.push(...events.map((e) => (JSON.parse(e.data) as { n: number }).n));
          expect(events.every((e, i) => i === 0 || a.broker.compareIds(events[i - 1]!.id, e.id) < 0)).toBe(true);
          for (const e of events) expect(e.id).toBe(ids[(JSON.parse(e.data) as { n: number }).n]);
        }
        await sleep(50);
        for (const user of ["ann", "bob"] as const) {
          second[user].close();
          // Exactly what each may see, each once, in order: nothing of the other's, nothing of carl's.
          expect(received[user]).toEqual(expectedFor(user, 1, 160));
          expect(second[user].events).toHaveLength(expectedFor(user, 50, 160).length);
        }
      });

      it("per-user channels: each user resumes only its own events; another's channel is a 403 before any SSE byte; a `*` from a request is a name", async () => {
        const a = await app();
        const prefix = unique("user") + ":";
        // The user is whoever the x-user header says (a stand-in for authentication).
        a.authorizeChannels({ pattern: `${prefix}*` }, (req, channel) => channel === prefix + req.getHeader("x-user"));
        a.get("/inbox/{user}", (req) => a.subscribe(req, prefix + req.params.user));
        const client = await start(a);
        const channels = { ann: a.channel(`${prefix}ann`), bob: a.channel(`${prefix}bob`) };
        const ids: Record<"ann" | "bob", string[]> = { ann: [], bob: [] };
        const publish = async (i: number) => {
          for (const user of ["ann", "bob"] as const) ids[user].push(await channels[user].publish({ for: user, n: i }));
        };
        for (let i = 1; i <= 6; i++) await publish(i);
        const as = (user: string, lastEventId?: string) => ({ headers: { "x-user": user, ...(lastEventId === undefined ? {} : { "last-event-id": lastEventId }) } });
        // Resumed from the third event each, with more published while they are away.
        for (let i = 7; i <= 9; i++) await publish(i);
        for (const user of ["ann", "bob"] as const) {
          const resumed = await client.sse(`/inbox/${user}`, { ...as(user, ids[user][2]), maxEvents: 6 });
          expect(resumed.events.map((e) => [e.id, JSON.parse(e.data)])).toEqual(ids[user].slice(3).map((id, i) => [id, { for: user, n: i + 4 }]));
          expect(resumed.raw).not.toContain(user === "ann" ? '"bob"' : '"ann"');
        }
        // Ann asking for Bob's channel, with Bob's Last-Event-ID: refused before the stream starts, nothing of it sent.
        const refused = await client.get("/inbox/bob", as("ann", ids.bob[0]));
        expect([refused.status, refused.headers["content-type"], refused.text]).toEqual([403, "application/json", '{"error":"Forbidden","status":403}']);
        // A `*` from a request names one channel (empty here), not every user's.
        const star = await client.openSse("/inbox/*", as("*"));
        expect(star.status).toBe(200);
        await subscribers(a, `${prefix}*`, 1);
        await publish(10);
        const mallory = await client.get("/inbox/*", as("mallory"));
        expect(mallory.status).toBe(403);
        await sleep(100);
        star.close();
        expect(star.events).toEqual([]);
      });

      it("subscribes to a pattern of channels with a composite id that resumes each of them", async () => {
        const a = await app();
        const prefix = unique("feed") + ":";
        const sport = a.channel(`${prefix}sport`);
        const tech = a.channel(`${prefix}tech`);
        const other = a.channel(unique("other"));
        a.get("/feed", (req) => a.subscribe(req, { pattern: `${prefix}*` }));
        a.get("/none", (req) => a.subscribe(req, { pattern: "nothing:*" }));
        const client = await start(a);
        await sport.publish("s1");
        const first = await client.openSse("/feed");
        await subscribers(a, `${prefix}tech`, 1);
        const t1 = await tech.publish("t1");
        const s2 = await sport.publish("s2");
        const got = await first.waitForEvents(2);
        // Each channel in order; two channels' events may interleave either way.
        expect(got.map((e) => e.data).sort()).toEqual(["s2", "t1"]);
        expect(Object.fromEntries(new URLSearchParams(got[1]!.id))).toEqual({ [`${prefix}sport`]: s2, [`${prefix}tech`]: t1 });
        first.close();
        await subscribers(a, `${prefix}tech`, 0);
        await tech.publish("t2");
        await sport.publish("s3");
        await other.publish("never");
        const resumed = await client.sse("/feed", { lastEventId: got[1]!.id, maxEvents: 2 });
        expect(resumed.events.map((e) => e.data).sort()).toEqual(["s3", "t2"]);
        expect((await client.get("/nothing-here")).status).toBe(404);
        // A pattern that matches no channel is a 404 of its own, before any stream starts.
        const none = await client.get("/none");
        expect([none.status, none.json]).toEqual([404, { error: "Not Found: no channel matches nothing:*", status: 404 }]);
      });

      it("names every channel in the composite id, even one with no events yet, so nothing is lost on resume", async () => {
        const a = await app();
        const [newsName, alertsName] = [unique("news"), unique("alerts")];
        const news = a.channel(newsName);
        const alerts = a.channel(alertsName);
        a.get("/both", (req) => a.subscribe(req, [newsName, alertsName]));
        const client = await start(a);
        await news.publish("n1");
        await news.publish("n2");
        const first = await client.openSse("/both");
        await subscribers(a, alertsName, 1);
        const n3 = await news.publish("n3");
        const [seen] = await first.waitForEvents(1);
        expect(Object.fromEntries(new URLSearchParams(seen!.id))).toEqual({ [newsName]: n3, [alertsName]: "" });
        first.close();
        await subscribers(a, alertsName, 0);
        await alerts.publish("a1"); // while the client is away, on the channel that had nothing before
        await news.publish("n4");
        const resumed = await client.sse("/both", { lastEventId: seen!.id, maxEvents: 2 });
        expect(resumed.events.map((e) => e.data).sort()).toEqual(["a1", "n4"]);
        // Every id of the replay names both channels.
        for (const event of resumed.events) expect([...new URLSearchParams(event.id).keys()].sort()).toEqual([newsName, alertsName].sort());
      });

      it("channel.delete() ends the subscribers' streams, and a client resuming after it is told to reset", async (context) => {
        const a = await app();
        skipUnless(context, a.broker.delete !== undefined, "this broker has no delete()");
        const name = unique("doomed");
        const room = a.channel(name);
        a.get("/doomed", (req) => a.subscribe(req, name));
        const client = await start(a);
        const subscriber = await client.openSse("/doomed");
        await subscribers(a, name, 1);
        const first = await room.publish("one");
        await subscriber.waitForEvents(1);
        await room.delete();
        await subscriber.waitForEnd();
        const resumed = await client.sse("/doomed", { lastEventId: first, maxEvents: 1 });
        expect(resumed.events.map((e) => e.event)).toEqual(["reset"]);
      });

      it("answers a resuming client with the error event and ends its stream when a replay fails, and logs why", async () => {
        const errors: Array<[string, unknown]> = [];
        const logger: Logger = { info() {}, warn() {}, error: (message, err) => void errors.push([message, err]) };
        const failure = new Error("the backend is down");
        const { name, channel: feed, client } = await served("failing", { logger, wrap: (inner) => withReplay(inner, () => Promise.reject(failure)) });
        const id = await feed.publish("kept");
        const res = await client.sse("/feed", { lastEventId: id, timeoutMs: 5000 });
        expect(res.events).toEqual([{ event: "error", data: '{"error":"Service Unavailable","status":503}', id: "" }]);
        expect(res.endedBy).toBe("server-closed");
        expect(errors).toEqual([[`Channel replay failed for ${name}`, failure]]);
      });
    });
  });
}

/** A channel name no other test or run uses. */
function unique(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2, 10)}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `ready` every 5 ms; fail after `timeoutMs` saying `what`. */
async function until(ready: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

function skipUnless(context: TestContext, condition: boolean, why: string): void {
  if (!condition) context.skip(why);
}

/**
 * Wait until `app.channel(name)` has `size` subscribers on this instance. It asks
 * `app.channel(name)`: a channel `app.subscribe()` made becomes the test code's (kept).
 */
async function subscribers(app: App, name: string, size: number): Promise<void> {
  await expect.poll(() => app.channel(name).size, { timeout: 10_000, interval: 5 }).toBe(size);
}

/**
 * The broker with a replay that takes a few milliseconds, as a networked broker's
 * does, so that live events arrive while a subscriber catches up: half the time
 * before the history is read (they are in the replay and buffered live), half the
 * time after (they are only buffered).
 */
function slowReplay(broker: ChannelBroker): ChannelBroker {
  let calls = 0;
  return withReplay(broker, async (channel, afterId, options) => {
    const readFirst = calls++ % 2 === 0;
    if (!readFirst) await sleep(2);
    const result = await broker.replay(channel, afterId, options);
    if (readFirst) await sleep(2);
    return result;
  });
}

/** `inner` with another `replay`. Every other method is delegated (a broker may be a class: no spreading). */
function withReplay(inner: ChannelBroker, replay: ChannelBroker["replay"]): ChannelBroker {
  const wrapped: ChannelBroker = {
    configure: (channel, options) => inner.configure(channel, options),
    publish: (channel, message) => inner.publish(channel, message),
    replay,
    lastId: (channel) => inner.lastId(channel),
    subscribe: (channel, deliver) => inner.subscribe(channel, deliver),
    compareIds: (a, b) => inner.compareIds(a, b),
    close: () => inner.close(),
  };
  if (inner.delete) wrapped.delete = (channel) => inner.delete!(channel);
  return wrapped;
}

/**
 * Publish `count` events (`n1`, `n2`, ...) on `channel` at a steady pace while a
 * client on `path` keeps disconnecting and resuming with the last id it got.
 * Resolves with everything the client received, across all its connections.
 */
async function receiveWhileHopping(
  app: App,
  client: TestClient,
  options: {
    channel: string;
    path: string;
    count: number;
    maxReconnects?: number;
    /** What to publish as event `i` (1-based). Default `n${i}`. */
    message?: (i: number) => unknown;
    /** The publish options of event `i` (its audience, `to`). Default none. */
    publishOptions?: (i: number) => PublishOptions;
    /** How many events this client should receive (fewer than `count` with a filter). Default `count`. */
    expected?: number;
    /** Subscribers of the channel already connected (other clients). Default 0. */
    others?: number;
  },
): Promise<{ received: ReceivedEvent[]; reconnects: number }> {
  const channel = app.channel(options.channel);
  const message = options.message ?? ((i: number) => `n${i}`);
  const expected = options.expected ?? options.count;
  const received: ReceivedEvent[] = [];
  // The first connection exists before anything is published; after that it hops.
  let handle = await client.openSse(options.path);
  await subscribers(app, options.channel, 1 + (options.others ?? 0));
  let publishing = true;
  const publisher = (async () => {
    for (let i = 1; i <= options.count; i++) {
      await channel.publish(message(i), options.publishOptions?.(i));
      if (i % 10 === 0) await sleep(1);
    }
    publishing = false;
  })();
  // A client that has no id yet resumes nothing: hop only once it has one.
  await handle.waitForEvents(1);
  let lastEventId: string | undefined;
  let reconnects = 0;
  for (;;) {
    await sleep(5 + (reconnects % 7));
    handle.close();
    received.push(...handle.events);
    // What a browser would send: the last id it saw, an id-only frame's included (events it may not see).
    lastEventId = handle.lastEventId || lastEventId;
    reconnects++;
    if (!publishing && received.length >= expected) break;
    if (reconnects > (options.maxReconnects ?? 3000)) break;
    handle = await client.openSse(options.path, lastEventId === undefined ? {} : { lastEventId });
  }
  await publisher;
  return { received, reconnects };
}

/**
 * Two users on one channel, each with a filter keeping only its own events: bob
 * stays connected while ann keeps disconnecting and resuming with Last-Event-ID,
 * as `count` events (one in three for ann) are published. Asserts that each gets
 * exactly its own events, all of them, once, in order, and never the other's.
 * `path(user)` is a route answering `channel.subscribe(req, { filter })` for `user`.
 */
async function expectOwnEventsWhileResuming(
  app: App,
  client: TestClient,
  options: { channel: string; path: (user: string) => string; count: number; /** Publish each event with `to: ["user:<recipient>"]`. */ audience?: boolean },
): Promise<void> {
  const recipient = (i: number) => (i % 3 === 0 ? "ann" : "bob");
  const bob = await client.openSse(options.path("bob"));
  await subscribers(app, options.channel, 1);
  const { received, reconnects } = await receiveWhileHopping(app, client, {
    channel: options.channel,
    path: options.path("ann"),
    count: options.count,
    message: (i) => ({ to: recipient(i), n: i }),
    ...(options.audience ? { publishOptions: (i: number) => ({ to: [`user:${recipient(i)}`] }) } : {}),
    expected: Math.floor(options.count / 3),
    others: 1,
  });
  const expectedFor = (user: string) => Array.from({ length: options.count }, (_, i) => i + 1).filter((i) => recipient(i) === user).map((n) => JSON.stringify({ to: user, n }));
  expect(reconnects).toBeGreaterThan(10);
  expect(received.map((e) => e.data)).toEqual(expectedFor("ann"));
  expect(received.every((e, i) => i === 0 || app.broker.compareIds(received[i - 1]!.id, e.id) < 0)).toBe(true);
  const bobExpected = expectedFor("bob");
  expect((await bob.waitForEvents(bobExpected.length, 30_000)).map((e) => e.data)).toEqual(bobExpected);
  bob.close();
}
