/** Hono 4 on @hono/node-server. */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { HOST, serveHttp } from "./serve.js";

const app = new Hono();
app.get("/", (c) => c.json({ hello: "world" }));
app.get("/users/:id/posts/:postId", (c) => c.json({ id: c.req.param("id"), postId: c.req.param("postId") }));

await serveHttp(
  () =>
    new Promise((resolve) => {
      serve({ fetch: app.fetch, port: 0, hostname: HOST }, (info) => resolve(info.port));
    }),
);
