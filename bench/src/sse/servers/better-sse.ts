/** better-sse: a session per client registered on one channel; `channel.broadcast` per event. */
import { createChannel, createSession } from "better-sse";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const channel = createChannel();
const server = createServer((req, res) => {
  if (req.url !== "/sse") {
    res.writeHead(404, { "Content-Length": 0 }).end();
    return;
  }
  // The data is already JSON text: pass it through instead of JSON-encoding it again.
  createSession(req, res, { serializer: (data) => String(data) }).then(
    (session) => channel.register(session),
    () => res.destroy(),
  );
});
server.requestTimeout = 0;

await serveSse({
  listen: () => new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))),
  clients: () => channel.sessionCount,
  publish: (events) => {
    for (const event of events) channel.broadcast(event.data, EVENT_NAME);
  },
});
