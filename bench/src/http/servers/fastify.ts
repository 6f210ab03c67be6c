/** Fastify 5 with its defaults (no response schema: JSON.stringify, like the others). */
import Fastify from "fastify";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const app = Fastify({ logger: false });
app.get("/", async () => ({ hello: "world" }));
app.get<{ Params: { id: string; postId: string } }>("/users/:id/posts/:postId", async (req) => ({ id: req.params.id, postId: req.params.postId }));

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server.address() as AddressInfo).port;
});
