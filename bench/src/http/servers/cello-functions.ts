/** Cello.ts with function routes: `app.get(path, handler)`. */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const app = new App({ logger: silentLogger });
app.get("/", () => ({ hello: "world" }));
app.get("/users/{id}/posts/{postId}", (req) => ({ id: req.params.id, postId: req.params.postId }));

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
