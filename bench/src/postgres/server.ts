/**
 * Cello.ts for the PostgreSQL section: the `cello` SSE server (one channel,
 * `channel.publish` once per event), on either broker (see brokers/server.ts).
 *
 *   --broker=memory              the in-memory broker (one instance, the baseline)
 *   --broker=postgres --prefix=P postgresBroker() from @cellojs/postgres, tables under the prefix P
 *                                (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test)
 *
 * With PostgreSQL every instance runs this script and serves `GET /sse`; the
 * runner asks only one of them to publish, and the others receive through LISTEN/NOTIFY.
 */
import { postgresBroker } from "@cellojs/postgres";
import { serveBrokerBench } from "../brokers/server.js";
import { postgresUrl } from "./admin.js";

await serveBrokerBench({
  id: "postgres",
  prefixName: "table prefix",
  create: (tablePrefix) => {
    const postgres = postgresBroker({ url: postgresUrl(), tablePrefix, applicationName: "cello-bench" });
    return { broker: postgres, ready: () => postgres.ready(10_000) };
  },
});
