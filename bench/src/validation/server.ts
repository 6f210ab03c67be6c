/**
 * The validation section's server: the same two hello-world routes with and
 * without Standard Schema validation (zod 4), chosen by environment:
 *   BENCH_VALIDATION=on|off   schemas on the routes, or the same work by hand
 *   BENCH_GUARDS=on|off       an Authenticated guard (bearer token looked up in a Map) and a
 *                             RoleGuard on both routes; every variant's requests carry the token
 * Routes:
 *   GET  /items?page=2&tag=pens       -> {"page":2,"tag":"pens"}
 *   POST /items {"name":"pen","qty":2} -> {"name":"pen","qty":2}
 * "off" still parses the query number and the JSON body, so the difference is
 * the schemas' cost (and `request.valid`), not work the handler skipped.
 */
import { App, Authenticated, RoleGuard, silentLogger, type RouteOptions } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { HOST, serveHttp } from "../http/servers/serve.js";
import { BENCH_TOKEN } from "./token.js";

const validation = process.env.BENCH_VALIDATION === "on";
const guards = process.env.BENCH_GUARDS === "on";

const app = new App({ logger: silentLogger });

/** The token every request of the section sends (`Authorization: Bearer <token>`), and whom it names. */
const sessions = new Map([[BENCH_TOKEN, { id: "bench", roles: ["reader"] }]]);
const guarded: Pick<RouteOptions, "guards"> = guards
  ? { guards: [Authenticated({ verify: (token) => { const principal = sessions.get(token); return principal && { principal }; } }), RoleGuard(["reader"])] }
  : {};

const query = z.object({ page: z.coerce.number().int().min(1), tag: z.string() });
const item = z.object({ name: z.string().min(1), qty: z.number().int().min(1) });

if (validation) {
  app.get("/items", (req) => ({ page: req.valid.query.page, tag: req.valid.query.tag }), { schema: { query }, ...guarded });
  app.post("/items", (req) => ({ name: req.valid.body.name, qty: req.valid.body.qty }), { schema: { body: item }, ...guarded });
} else {
  app.get("/items", (req) => ({ page: Number(req.query.page), tag: req.query.tag }), guarded);
  app.post("/items", async (req) => {
    const body = await req.json<{ name: string; qty: number }>();
    return { name: body.name, qty: body.qty };
  }, guarded);
}

await serveHttp(async () => {
  await app.listen({ host: HOST, port: 0 });
  return (app.server!.address() as AddressInfo).port;
});
