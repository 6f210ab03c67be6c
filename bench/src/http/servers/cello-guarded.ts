/**
 * Cello.ts with function routes behind guards: the cost of running a route's
 * guards, against `cello-functions` (the same routes, no guard). Two sync guards
 * per route, as an app with authentication and roles has: one attaches a
 * principal (what `Authenticated` does once a token is verified), `RoleGuard`
 * reads it. The bench sends no credential, so the first guard admits everyone.
 */
import { App, RoleGuard, silentLogger, type Guard } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const principal = { id: "bench", roles: ["reader"] };
const attach: Guard = () => ({ principal });
const guards = [attach, RoleGuard(["reader"])];

const app = new App({ logger: silentLogger });
app.get("/", () => ({ hello: "world" }), { guards });
app.get("/users/{id}/posts/{postId}", (req) => ({ id: req.params.id, postId: req.params.postId }), { guards });

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
