/** Cello.ts with decorator routes: `@app.get(path)` on a class's methods. */
import { App, silentLogger, type Request } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const app = new App({ logger: silentLogger });

/**
 * The two routes as decorated methods; the app instantiates the class at startup.
 * @example new Routes().hello() // { hello: "world" }
 */
export class Routes {
  @app.get("/")
  hello() {
    return { hello: "world" };
  }

  @app.get("/users/{id}/posts/{postId}")
  post(req: Request) {
    return { id: req.params.id, postId: req.params.postId };
  }
}

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
