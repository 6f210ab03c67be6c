/**
 * Cello.ts function routes with `app.enableRateLimit()` on (memory store, the default
 * sliding window), to compare with `cello-functions`: the cost of counting every request.
 * The limit is never reached (all load comes from one IP), so every request is counted
 * and answered 200 with its RateLimit-* headers, the same body as the others.
 */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const app = new App({ logger: silentLogger });
app.enableRateLimit({ points: 1_000_000_000, duration: 60 });
app.get("/", () => ({ hello: "world" }));
app.get("/users/{id}/posts/{postId}", (req) => ({ id: req.params.id, postId: req.params.postId }));

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
