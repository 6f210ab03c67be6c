/**
 * The hand-written node:http SSE server both raw systems share; they differ
 * only in how a tick goes out (see raw-per-event.ts and raw-coalesced.ts).
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HOST, type SseServer, type TickEvent } from "./serve.js";

/**
 * A raw SSE server whose connected responses are handed to `publish`.
 * @param publish - Writes one tick to every response.
 * @example rawSseServer((responses, events) => { for (const res of responses) res.write(frames(events)); });
 */
export function rawSseServer(publish: (responses: Set<ServerResponse>, events: readonly TickEvent[]) => void): SseServer {
  const responses = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    if (req.url !== "/sse") {
      res.writeHead(404, { "Content-Length": 0 }).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    // Head and an opening comment go out at once, so the client sees the stream open.
    res.write(": ok\n\n");
    responses.add(res);
    res.once("close", () => responses.delete(res));
  });
  server.requestTimeout = 0;
  return {
    listen: () => new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))),
    clients: () => responses.size,
    publish: (events) => publish(responses, events),
  };
}
