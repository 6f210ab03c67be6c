/**
 * better-sse as its docs recommend for broadcast: every session registered on
 * one channel, and each tick's events written once into an `EventBuffer` (its
 * batch API) that every session of the channel sends as one chunk
 * (`session.batch(buffer)`).
 */
import { createChannel, createSession, EventBuffer } from "better-sse";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

// The data is already JSON text: pass it through instead of JSON-encoding it again.
const serializer = (data: unknown) => String(data);
const channel = createChannel();
const ignore = () => {};
let seq = 0;

const server = createServer((req, res) => {
  if (req.url !== "/sse") {
    res.writeHead(404, { "Content-Length": 0 }).end();
    return;
  }
  createSession(req, res, { serializer }).then(
    (session) => channel.register(session),
    () => res.destroy(),
  );
});
server.requestTimeout = 0;

await serveSse({
  listen: () => new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))),
  clients: () => channel.sessionCount,
  publish: (events) => {
    const buffer = new EventBuffer({ serializer });
    // An id per event, as channel.broadcast gives (a counter instead of its UUID: built once per tick either way).
    for (const event of events) buffer.push(event.data, EVENT_NAME, String(seq++));
    for (const session of channel.activeSessions) session.batch(buffer).catch(ignore);
  },
});
