/**
 * The Node floor: a raw `net` server, no node:http. It reads a request head,
 * answers with a fixed SSE head (body delimited by the connection, so no chunk
 * framing), and per tick frames the tick's events once into one Buffer and
 * writes that same Buffer to every socket: one socket write per client per
 * tick and no per-client JavaScript beyond the write call. No Node server can
 * deliver a tick with less CPU, so it is the reference the others are
 * compared to.
 */
import { createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

const HEAD = Buffer.from("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n: ok\n\n");
const NOT_FOUND = Buffer.from("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
/** A request head longer than this is not a bench client: drop it. */
const MAX_HEAD = 8 * 1024;

const sockets = new Set<Socket>();

const server = createServer((socket) => {
  let head = "";
  const onData = (chunk: Buffer) => {
    head += chunk.toString("latin1");
    if (!head.includes("\r\n\r\n")) {
      if (head.length > MAX_HEAD) socket.destroy();
      return;
    }
    socket.off("data", onData);
    if (!head.startsWith("GET /sse ")) {
      socket.end(NOT_FOUND);
      return;
    }
    socket.setNoDelay(true);
    socket.write(HEAD);
    sockets.add(socket);
    // Anything more the client sends is ignored (and not buffered: resume drops it).
    socket.resume();
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
  socket.once("close", () => sockets.delete(socket));
});

await serveSse({
  listen: () => new Promise((resolve) => server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port))),
  clients: () => sockets.size,
  publish: (events) => {
    let text = "";
    for (const event of events) text += `event: ${EVENT_NAME}\ndata: ${event.data}\n\n`;
    const chunk = Buffer.from(text);
    for (const socket of sockets) socket.write(chunk);
  },
});
