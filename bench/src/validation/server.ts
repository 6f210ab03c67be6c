/**
 * The validation section's server: the same two hello-world routes with and
 * without Standard Schema validation (zod 4), chosen by environment:
 *   BENCH_VALIDATION=on|off   schemas on the routes, or the same work by hand
 *   BENCH_GUARDS=on|off       app-wide guards (for the guards pass of issue 12)
 * Routes:
 *   GET  /items?page=2&tag=pens       -> {"page":2,"tag":"pens"}
 *   POST /items {"name":"pen","qty":2} -> {"name":"pen","qty":2}
 * "off" still parses the query number and the JSON body, so the difference is
 * the schemas' cost (and `request.valid`), not work the handler skipped.
 */
import { App, silentLogger } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { HOST, serveHttp } from "../http/servers/serve.js";

const validation = process.env.BENCH_VALIDATION === "on";
const guards = process.env.BENCH_GUARDS === "on";

const app = new App({ logger: silentLogger });
if (guards) {
  // The guards pass adds app-wide guards here (issue 12); until then a variant asking for them fails loudly.
  throw new Error("BENCH_GUARDS=on: no guards API on this branch yet");
}

const query = z.object({ page: z.coerce.number().int().min(1), tag: z.string() });
const item = z.object({ name: z.string().min(1), qty: z.number().int().min(1) });

if (validation) {
  app.get("/items", (req) => ({ page: req.valid.query.page, tag: req.valid.query.tag }), { schema: { query } });
  app.post("/items", (req) => ({ name: req.valid.body.name, qty: req.valid.body.qty }), { schema: { body: item } });
} else {
  app.get("/items", (req) => ({ page: Number(req.query.page), tag: req.query.tag }));
  app.post("/items", async (req) => {
    const body = await req.json<{ name: string; qty: number }>();
    return { name: body.name, qty: body.qty };
  });
}

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
