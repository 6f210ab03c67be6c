/** Hand-written node:http broadcast, one `res.write` per event per client (the naive loop). */
import { rawSseServer } from "./raw-node.js";
import { EVENT_NAME, serveSse } from "./serve.js";

await serveSse(
  rawSseServer((responses, events) => {
    for (const event of events) {
      const frame = `event: ${EVENT_NAME}\ndata: ${event.data}\n\n`;
      for (const res of responses) res.write(frame);
    }
  }),
);
