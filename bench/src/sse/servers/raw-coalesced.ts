/** Hand-written node:http broadcast, the frames of one tick joined into one `res.write` per client: the ceiling. */
import { rawSseServer } from "./raw-node.js";
import { EVENT_NAME, serveSse } from "./serve.js";

await serveSse(
  rawSseServer((responses, events) => {
    let chunk = "";
    for (const event of events) chunk += `event: ${EVENT_NAME}\ndata: ${event.data}\n\n`;
    for (const res of responses) res.write(chunk);
  }),
);
