/**
 * h3 2 (`EventStream`, which `createEventStream` now wraps) on node:http
 * through `toNodeHandler`: one stream per client kept in a Set, and per tick
 * `stream.push(messages)` with the tick's events as one array, which h3 formats
 * and writes as one chunk.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { EventStream, H3, toNodeHandler, type EventStreamMessage } from "h3";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const app = new H3();
const streams = new Set<EventStream>();
const ignore = () => {};

app.get("/sse", (event) => {
  const stream = new EventStream(event);
  streams.add(stream);
  stream.onClosed(() => streams.delete(stream));
  // The client sees the stream open with the first bytes.
  stream.pushComment("ok").catch(ignore);
  return stream;
});

const server = createServer(toNodeHandler(app));
server.requestTimeout = 0;

await serveSse({
  listen: () => new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))),
  clients: () => streams.size,
  publish: (events) => {
    const messages: EventStreamMessage[] = events.map((event) => ({ event: EVENT_NAME, data: event.data }));
    for (const stream of streams) stream.push(messages).catch(ignore);
  },
});
