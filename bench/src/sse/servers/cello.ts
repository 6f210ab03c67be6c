/**
 * Cello.ts channels: each client subscribes to one channel; the publisher calls
 * `channel.publish` once per event. The channel frames each event once and the
 * engine coalesces the frames of one tick into one write per client.
 */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

// Cello.ts defaults throughout (15 s heartbeat, 1 MiB buffer per client), as users get them.
const app = new App({ logger: silentLogger });
const channel = app.channel("ticks");

app.get("/sse", (request) => channel.subscribe(request));

await serveSse({
  listen: async () => {
    await app.listen({ host: HOST, port: 0 });
    return (app.server!.address() as AddressInfo).port;
  },
  clients: () => channel.size,
  publish: (events) => {
    for (const event of events) {
      void channel.publish(event.data, { event: EVENT_NAME });
    }
  },
});
