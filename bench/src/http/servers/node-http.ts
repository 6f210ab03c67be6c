/**
 * The ceiling: a hand-written node:http server. It still serializes the JSON
 * on every request, as every framework does, so the comparison is of the
 * framework's overhead and not of caching.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

const PREFIX = "/users/";
const MIDDLE = "/posts/";

const server = createServer((req, res) => {
  const url = req.url ?? "/";
  if (url === "/") {
    sendJson(res, { hello: "world" });
    return;
  }
  // /users/:id/posts/:postId, matched by hand.
  if (url.startsWith(PREFIX)) {
    const middle = url.indexOf(MIDDLE, PREFIX.length);
    if (middle > PREFIX.length && url.indexOf("/", middle + MIDDLE.length) === -1 && middle + MIDDLE.length < url.length) {
      sendJson(res, { id: url.slice(PREFIX.length, middle), postId: url.slice(middle + MIDDLE.length) });
      return;
    }
  }
  res.writeHead(404, { "Content-Length": 0 });
  res.end();
});

await serveHttp(
  () =>
    new Promise((resolve) => {
      server.listen(0, HOST, () => resolve((server.address() as AddressInfo).port));
    }),
);
