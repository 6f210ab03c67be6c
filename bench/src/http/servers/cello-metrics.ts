/**
 * Cello.ts with function routes and `app.enableMetrics()`: the same routes as
 * `cello-functions`, every request counted by route template and status with its
 * duration (prom-client). Compared with `cello-functions` for the metrics overhead.
 */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const app = new App({ logger: silentLogger });
app.get("/", () => ({ hello: "world" }));
app.get("/users/{id}/posts/{postId}", (req) => ({ id: req.params.id, postId: req.params.postId }));
app.enableMetrics();

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
