/**
 * The `cello` SSE server both broker sections run (redis/server.ts,
 * postgres/server.ts): one channel, `GET /sse`, driven over IPC by
 * sse/servers/serve.ts, on the in-memory broker or on the section's broker.
 *
 *   --broker=memory           the in-memory broker (one instance, the baseline)
 *   --broker=<id> --prefix=P  the section's broker, its keys or tables under P
 *
 * Every instance serves `GET /sse`; the runner asks only one of them to
 * publish, and the others receive through the broker.
 */
import { App, memoryBroker, silentLogger, type ChannelBroker } from "@cellojs/core";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "../sse/servers/serve.js";

/** Reply to the `publishErrors` command. */
export interface PublishErrors {
  /** Publishes the broker rejected (those events reached nobody). */
  count: number;
  first: string | undefined;
}

/** What a broker section's server script supplies: its `--broker` value and how to make its broker. */
export interface BrokerServer {
  /** The `--broker` value that selects this broker (`redis`, `postgres`). */
  id: string;
  /** What `--prefix` names, for the error when it is missing (`key prefix`, `table prefix`). */
  prefixName: string;
  /** The broker under the prefix, and how to wait until it answers. */
  create(prefix: string): { broker: ChannelBroker; ready(): Promise<void> };
}

/**
 * Serve the section's `cello` server per the process's `--broker` and `--prefix` flags.
 * @param server - The section's broker.
 * @example await serveBrokerBench({ id: "redis", prefixName: "key prefix", create: (prefix) => { const broker = redisBroker({ prefix }); return { broker, ready: () => broker.ready(5000) }; } });
 */
export async function serveBrokerBench(server: BrokerServer): Promise<void> {
  const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
  const kind = option("broker") ?? "memory";
  let broker: ChannelBroker;
  let ready: () => Promise<void> = async () => {};
  if (kind === server.id) {
    const prefix = option("prefix");
    if (!prefix) throw new Error(`--broker=${server.id} needs --prefix=<${server.prefixName}>`);
    const made = server.create(prefix);
    broker = made.broker;
    ready = () => made.ready();
  } else if (kind === "memory") {
    broker = memoryBroker();
  } else {
    throw new Error(`unknown --broker=${kind} (memory or ${server.id})`);
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
      // Refuse to start without the broker: a benchmark on a broker that is not there measures nothing.
      await ready();
      await app.listen({ host: HOST, port: 0 });
      return (app.server!.address() as AddressInfo).port;
    },
    clients: () => channel.size,
    publish: (events) => {
      // A broker publish can reject (broker away, a timeout): count it rather
      // than crash on an unhandled rejection; the missing events show as a FAIL.
      for (const event of events) channel.publish(event.data, { event: EVENT_NAME }).catch(failed);
    },
    commands: {
      publishErrors: () => errors,
    },
  });
}
