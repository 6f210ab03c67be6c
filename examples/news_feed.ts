/**
 * News feed: headlines published through a channel that keeps a history, so a
 * client that drops and comes back misses nothing. Browsers do this by
 * themselves: EventSource reconnects and sends `Last-Event-ID`, and
 * `channel.subscribe()` replays what came after it, then goes live.
 *
 * Run:   npx tsx examples/news_feed.ts          (NEWS_INTERVAL_MS=500 for a faster feed)
 * Try:   open http://127.0.0.1:8000/, stop the server, start it again: the page catches up
 *        curl -N http://127.0.0.1:8000/feed
 *        curl -N -H "Last-Event-ID: 3" http://127.0.0.1:8000/feed
 *        curl -X POST -H "Content-Type: application/json" -d '{"title":"Hello"}' http://127.0.0.1:8000/headlines
 *
 * The history lives in the broker: the in-memory one dies with the process,
 * so across real restarts use a shared broker (`redisBroker()` from @cellojs/redis).
 */
import { App, HttpError, Response, type ChannelBroker } from "@cellojs/core";
import { isMain } from "./main.js";
import { newsPage } from "./news_feed_page.js";

/** One headline, the `data` of a `headline` event. */
export interface Headline {
  title: string;
  category: string;
  /** ISO 8601 time of publication. */
  published_at: string;
}

/** Options of {@link createNewsApp}. */
export interface NewsAppOptions {
  /** Milliseconds between two automatic headlines; 0 turns them off. Default `NEWS_INTERVAL_MS` or 2000. */
  intervalMs?: number;
  /** Where the channel's events and history live. Default: a new in-memory broker. Share one to keep the history across app instances. */
  broker?: ChannelBroker;
  /** Headlines kept for clients that reconnect. Default 200. */
  history?: number;
}

const SAMPLE_HEADLINES: ReadonlyArray<[category: string, title: string]> = [
  ["tech", "Server-Sent Events turn 20 and still need no client library"],
  ["science", "Researchers measure the speed of a cup of coffee going cold"],
  ["sports", "Local team wins after a record-long rain delay"],
  ["business", "Startup pivots to selling pivots"],
  ["tech", "HTTP/2 multiplexing lets one tab open a hundred streams"],
  ["world", "Capital city plants its millionth tree"],
  ["science", "A new species of beetle found in a museum drawer"],
  ["culture", "Orchestra performs a symphony written for cellos only"],
  ["business", "Coffee prices steady for a third straight week"],
  ["tech", "Browser vendors agree on yet another colour space"],
];

/**
 * Build the news app: `GET /` (page), `GET /feed` (SSE of `headline` events,
 * resumable), `POST /headlines` (publish one).
 * @param options - `intervalMs` (default 2000, 0 = off), `broker`, `history` (default 200).
 * @example
 * const broker = memoryBroker();
 * const app = createNewsApp({ broker, intervalMs: 0 });
 * await app.listen({ port: 0 });
 */
export function createNewsApp(options: NewsAppOptions = {}): App {
  const envInterval = process.env.NEWS_INTERVAL_MS;
  const intervalMs = options.intervalMs ?? (envInterval !== undefined && envInterval !== "" ? Number(envInterval) : 2000);
  if (!Number.isFinite(intervalMs) || intervalMs < 0) throw new TypeError(`intervalMs must be a non-negative number, got ${intervalMs}`);
  const app = new App(options.broker ? { broker: options.broker } : {});
  app.enableCors();
  const news = app.channel("news", { history: options.history ?? 200 });

  let timer: NodeJS.Timeout | undefined;
  let published = 0;
  app.onEvent("startup", () => {
    if (intervalMs === 0) return;
    timer = setInterval(() => {
      const [category, title] = SAMPLE_HEADLINES[published++ % SAMPLE_HEADLINES.length]!;
      void news.publish(headline(title, category), { event: "headline" });
    }, intervalMs);
  });
  app.onEvent("shutdown", () => clearInterval(timer));

  app.get("/", () => Response.html(newsPage));
  app.get("/feed", (request) => news.subscribe(request));
  app.post("/headlines", async (request) => {
    const body = await request.json<{ title?: unknown; category?: unknown }>();
    const { title, category = "general" } = body ?? {};
    if (typeof title !== "string" || title.trim() === "" || title.length > 200) throw new HttpError(400, "title must be a string of 1 to 200 characters");
    if (typeof category !== "string" || !/^[a-z]{1,20}$/.test(category)) throw new HttpError(400, "category must be 1 to 20 lower-case letters");
    const id = await news.publish(headline(title.trim(), category), { event: "headline" });
    return Response.created({ id });
  });
  return app;
}

/**
 * A headline stamped with the current time.
 * @example await app.channel("news").publish(headline("Hello", "tech"), { event: "headline" });
 */
export function headline(title: string, category = "general"): Headline {
  return { title, category, published_at: new Date().toISOString() };
}

/** The app `npx tsx examples/news_feed.ts` runs. */
export const app = createNewsApp();

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
