/**
 * Cello.ts for the workers section, run as users run it: `app.run()` with
 * `--workers N` (N = 1 serves in this process). `GET /` is the hello-world JSON;
 * `GET /sse` subscribes to one channel on the default broker (with N > 1, the
 * primary's over IPC); `GET /publish?rate&ms&size` publishes ticks of 10 events
 * from whichever worker answers it, and replies when it is done.
 */
import { App } from "@cellojs/core";
import { wallNow } from "../ipc.js";
import { EVENT_NAME, eventData } from "../sse/servers/serve.js";

const TICK_EVENTS = 10;
const app = new App();
const channel = app.channel("ticks");
app.get("/", () => ({ hello: "world" }));
app.get("/sse", (request) => channel.subscribe(request));
app.get("/publish", async (request) => {
  const rate = Number(request.query.rate);
  const durationMs = Number(request.query.ms);
  const size = Number(request.query.size);
  const intervalMs = (TICK_EVENTS * 1000) / rate;
  const ticks = Math.max(1, Math.round(durationMs / intervalMs));
  const startedAt = wallNow();
  const started = performance.now();
  let events = 0;
  let failures = 0;
  for (let tick = 0; tick < ticks; tick++) {
    const wait = started + tick * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    for (let i = 0; i < TICK_EVENTS; i++) channel.publish(eventData(wallNow(), events++, size), { event: EVENT_NAME }).catch(() => failures++);
  }
  return { events, failures, startedAt };
});
await app.run({ host: "127.0.0.1", port: 0 });
