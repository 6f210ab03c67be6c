/**
 * Hono 4 `streamSSE` on @hono/node-server, one stream per client kept in a
 * Set. Per tick the events are framed once, joined and encoded into one
 * Uint8Array, and written to every stream with `stream.write` (one chunk per
 * client per tick: `writeSSE` per event per client is the unbatched pattern).
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const app = new Hono();
const streams = new Set<SSEStreamingApi>();
const encoder = new TextEncoder();
const ignore = () => {};

app.get("/sse", (c) =>
  streamSSE(c, async (stream) => {
    streams.add(stream);
    // Nothing reaches the client before the first write: open with a comment.
    await stream.write(": ok\n\n");
    await new Promise<void>((resolve) =>
      stream.onAbort(() => {
        streams.delete(stream);
        resolve();
      }),
    );
  }),
);

await serveSse({
  listen: () => new Promise((resolve) => serve({ fetch: app.fetch, port: 0, hostname: HOST }, (info) => resolve(info.port))),
  clients: () => streams.size,
  publish: (events) => {
    let text = "";
    for (const event of events) text += `event: ${EVENT_NAME}\ndata: ${event.data}\n\n`;
    const chunk = encoder.encode(text);
    for (const stream of streams) stream.write(chunk).catch(ignore);
  },
});
