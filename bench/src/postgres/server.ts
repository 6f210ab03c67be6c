/**
 * Cello.ts for the PostgreSQL section: the `cello` SSE server (one channel,
 * `channel.publish` once per event), on either broker.
 *
 *   --broker=memory              the in-memory broker (one instance, the baseline)
 *   --broker=postgres --prefix=P postgresBroker() from @cellojs/postgres, tables under the prefix P
 *                                (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
 *
 * With PostgreSQL every instance runs this script and serves `GET /sse`; the
 * runner asks only one of them to publish, and the others receive through LISTEN/NOTIFY.
 */
import { App, memoryBroker, silentLogger, type ChannelBroker } from "@cellojs/core";
import { postgresBroker } from "@cellojs/postgres";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "../sse/servers/serve.js";
import { postgresUrl } from "./admin.js";

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
if (kind === "postgres") {
  const tablePrefix = option("prefix");
  if (!tablePrefix) throw new Error("--broker=postgres needs --prefix=<table prefix>");
  const postgres = postgresBroker({ url: postgresUrl(), tablePrefix, applicationName: "cello-bench" });
  broker = postgres;
  ready = () => postgres.ready(10_000);
} else if (kind === "memory") {
  broker = memoryBroker();
} else {
  throw new Error(`unknown --broker=${kind} (memory or postgres)`);
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
    // Refuse to start without PostgreSQL: a benchmark on a broker that is not there measures nothing.
    await ready();
    await app.listen({ host: HOST, port: 0 });
    return (app.server!.address() as AddressInfo).port;
  },
  clients: () => channel.size,
  publish: (events) => {
    // A publish can reject (PostgreSQL away, a timeout): count it rather than crash
    // on an unhandled rejection; the missing events show as a FAIL.
    for (const event of events) channel.publish(event.data, { event: EVENT_NAME }).catch(failed);
  },
  commands: {
    publishErrors: () => errors,
  },
});
