/** Express 5 with its defaults (ETag and X-Powered-By on, as users get it). */
import express from "express";
import type { AddressInfo } from "node:net";
import { HOST, serveHttp } from "./serve.js";

const app = express();
app.get("/", (_req, res) => {
  res.json({ hello: "world" });
});
app.get("/users/:id/posts/:postId", (req, res) => {
  res.json({ id: req.params.id, postId: req.params.postId });
});

await serveHttp(
  () =>
    new Promise((resolve) => {
      const server = app.listen(0, HOST, () => resolve((server.address() as AddressInfo).port));
    }),
);
