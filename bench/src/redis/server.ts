/**
 * Cello.ts for the Redis section: the `cello` SSE server (one channel,
 * `channel.publish` once per event), on either broker.
 *
 *   --broker=memory           the in-memory broker (one instance, the baseline)
 *   --broker=redis --prefix=P redisBroker() from @cellojs/redis, stream keys under P
 *                             (REDIS_URL, else redis://127.0.0.1:6379)
 *
 * With Redis every instance runs this script and serves `GET /sse`; the
 * runner asks only one of them to publish, and the others receive through Redis.
 */
import { App, memoryBroker, silentLogger, type ChannelBroker } from "@cellojs/core";
import { redisBroker } from "@cellojs/redis";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "../sse/servers/serve.js";

/** Reply to the `publishErrors` command. */
export interface PublishErrors {
  /** Publishes the broker rejected (those events reached nobody). */
  count: number;
  first: string | undefined;
}

const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const kind = option("broker") ?? "memory";
let broker: ChannelBroker;
let ready: () => Promise<void> = async () => {};
if (kind === "redis") {
  const prefix = option("prefix");
  if (!prefix) throw new Error("--broker=redis needs --prefix=<key prefix>");
  const redis = redisBroker({ prefix, connectionName: "cello-bench" });
  broker = redis;
  ready = () => redis.ready(5000);
} else if (kind === "memory") {
  broker = memoryBroker();
} else {
  throw new Error(`unknown --broker=${kind} (memory or redis)`);
}

// Cello.ts defaults otherwise (15 s heartbeat, 1 MiB buffer per client, history 1000), as users get them.
const app = new App({ logger: silentLogger, broker });
const channel = app.channel("ticks");
app.get("/sse", (request) => channel.subscribe(request));

const errors: PublishErrors = { count: 0, first: undefined };
const failed = (err: unknown) => {
  errors.count++;
  errors.first ??= err instanceof Error ? err.message : String(err);
};

await serveSse({
  listen: async () => {
    // Refuse to start without Redis: a benchmark on a broker that is not there measures nothing.
    await ready();
    await app.listen({ host: HOST, port: 0 });
    return (app.server!.address() as AddressInfo).port;
  },
  clients: () => channel.size,
  publish: (events) => {
    // A Redis publish can reject (Redis away, command timeout): count it rather
    // than crash on an unhandled rejection; the missing events show as a FAIL.
    for (const event of events) channel.publish(event.data, { event: EVENT_NAME }).catch(failed);
  },
  commands: {
    publishErrors: () => errors,
  },
});
