/**
 * Cello.ts channels with `app.enableMetrics()`: the `cello` server with every write,
 * publish and delivery counted (diagnostics channels -> prom-client). Compared with
 * `cello` for the metrics overhead on fan-out.
 */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const app = new App({ logger: silentLogger });
const channel = app.channel("ticks");
app.get("/sse", (request) => channel.subscribe(request));
app.enableMetrics();

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
