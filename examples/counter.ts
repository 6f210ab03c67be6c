/**
 * Counter: the smallest live stream, written twice. `/counter` pushes from a
 * timer into an SseStream; `/counter/generator` is the same counter as an
 * async generator that sleeps between events.
 *
 * Run:   npx tsx examples/counter.ts          (add --port 9000 to change the port)
 * Try:   curl -N "http://127.0.0.1:8000/counter?to=5"
 *        curl -N "http://127.0.0.1:8000/counter/generator?to=3&interval=200"
 *
 * Without `?to=` a counter runs until the client leaves; with it, the stream
 * sends a `complete` event after `to` counts and the server ends the response.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { App, HttpError, SseEvent, SseStream, type Request } from "@cellojs/core";
import { isMain } from "./main.js";

/** Streams running right now, by producer style: the tests watch them drop to zero when a client leaves. */
export const openCounters = { stream: 0, generator: 0 };

const DEFAULT_INTERVAL_MS = 1000;

/** The app: `GET /`, `GET /counter` (SseStream + timer) and `GET /counter/generator` (async generator). */
export const app = new App();
app.enableCors();

app.get("/", () => ({
  message: "Cello.ts counter",
  endpoints: {
    "/counter": "SseStream fed by a timer; ?to=N stops after N counts, ?interval=ms sets the pace (default 1000)",
    "/counter/generator": "the same counter as an async generator",
  },
}));

app.get("/counter", (request) => {
  const { to, intervalMs } = counterParams(request);
  const stream = new SseStream();
  let value = 0;
  openCounters.stream++;
  const tick = () => {
    value++;
    stream.addEvent("count", JSON.stringify({ value }));
    if (value === to) {
      stream.addEvent("complete", JSON.stringify({ message: "Counter finished", total: to }));
      // close() runs the onClose callback below once the frames are written.
      stream.close();
    }
  };
  tick();
  const timer = value === to ? undefined : setInterval(tick, intervalMs);
  // Runs for both endings: the counter finished, or the client left first.
  stream.onClose(() => {
    clearInterval(timer);
    openCounters.stream--;
  });
  return stream;
});

app.get("/counter/generator", (request) => {
  const { to, intervalMs } = counterParams(request);
  return countUp(to, intervalMs, request.signal);
});

async function* countUp(to: number | undefined, intervalMs: number, signal: AbortSignal): AsyncGenerator<SseEvent> {
  openCounters.generator++;
  try {
    for (let value = 1; to === undefined || value <= to; value++) {
      // The signal fires when the client leaves, so a sleeping generator wakes up and ends at once.
      if (value > 1) await sleep(intervalMs, undefined, { signal });
      yield SseEvent.withEvent("count", JSON.stringify({ value }));
    }
    yield SseEvent.withEvent("complete", JSON.stringify({ message: "Counter finished", total: to }));
  } finally {
    openCounters.generator--;
  }
}

/** `?to=` (1..1000000, optional) and `?interval=` (10..60000 ms, default 1000); anything else is a 400. */
function counterParams(request: Request): { to: number | undefined; intervalMs: number } {
  const to = intParam(request, "to", 1, 1_000_000);
  const intervalMs = intParam(request, "interval", 10, 60_000) ?? DEFAULT_INTERVAL_MS;
  return { to, intervalMs };
}

function intParam(request: Request, name: string, min: number, max: number): number | undefined {
  const text = request.query[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new HttpError(400, `?${name}= must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
