// Every package at run time: TestClient (@cellojs/testing) against the app,
// connect() (@cellojs/client) on its SSE route, and the types of @cellojs/redis and @cellojs/postgres.
import { connect } from "@cellojs/client";
import type { PostgresBrokerOptions, SqlClient } from "@cellojs/postgres";
import type { RedisBrokerOptions } from "@cellojs/redis";
import { TestClient } from "@cellojs/testing";
import { app } from "./app.js";

const redisOptions: RedisBrokerOptions = { url: "redis://127.0.0.1:6379" };
void redisOptions;
const postgresOptions: PostgresBrokerOptions = { url: "postgres://127.0.0.1:5432/app", tablePrefix: "cello_", pg: { ssl: false } };
const transaction: SqlClient = { query: async () => ({ rows: [] }) };
void postgresOptions;
void transaction;

const client = await TestClient.start(app);
try {
  const hello = await client.get("/hello/stranger");
  const ping = await client.get("/api/ping");
  const sse = await client.sse("/events", { maxEvents: 2 });
  const received: string[] = [];
  const controller = new AbortController();
  for await (const event of connect(`${client.url}/events`, { signal: controller.signal })) {
    received.push(`${event.event} ${event.data}`);
    if (received.length === 2) break;
  }
  console.log(JSON.stringify({ hello: hello.json, ping: ping.json, testing: sse.events.map((e) => `${e.event} ${e.data}`), client: received }));
} finally {
  await client.close();
}
