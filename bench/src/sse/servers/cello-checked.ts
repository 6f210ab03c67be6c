/**
 * Cello.ts channels as in cello.ts, on a route with `schema.events` (zod 4) and
 * the development check of every event forced on (`validation: { events: true }`):
 * what checking each event costs in fan-out. Compare with the `cello` row.
 */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const app = new App({ logger: silentLogger, validation: { events: true } });
const channel = app.channel("ticks");
// The data the publisher sends: {"t":<wall ms>,"i":<seq>,"p":"xxx..."}.
const events = { [EVENT_NAME]: z.object({ t: z.number(), i: z.number().int(), p: z.string() }) };

app.get("/sse", (request) => channel.subscribe(request), { schema: { events } });

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
