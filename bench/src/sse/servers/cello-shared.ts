/**
 * Cello.ts with one SseEvent per event shared by all clients (`stream.add(event)`):
 * the frame is built and validated once instead of once per client. It is the
 * engine with nothing around it; compare with cello.ts to see what channels
 * (ids, history, subscriptions) cost on top.
 */
import { App, SseEvent, SseStream, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const app = new App({ logger: silentLogger });
const streams = new Set<SseStream>();

app.get("/sse", () => {
  const stream = new SseStream();
  streams.add(stream);
  stream.onClose(() => streams.delete(stream));
  return stream;
});

await serveSse({
  listen: async () => {
    await app.listen({ host: HOST, port: 0 });
    return (app.server!.address() as AddressInfo).port;
  },
  clients: () => streams.size,
  publish: (events) => {
    for (const { data } of events) {
      const event = SseEvent.withEvent(EVENT_NAME, data);
      for (const stream of streams) stream.add(event);
    }
  },
});
