/**
 * Cello.ts for the Redis section: the `cello` SSE server (one channel,
 * `channel.publish` once per event), on either broker (see brokers/server.ts).
 *
 *   --broker=memory           the in-memory broker (one instance, the baseline)
 *   --broker=redis --prefix=P redisBroker() from @cellojs/redis, stream keys under P
 *                             (REDIS_URL, else redis://127.0.0.1:6379)
 *
 * With Redis every instance runs this script and serves `GET /sse`; the
 * runner asks only one of them to publish, and the others receive through Redis.
 */
import { redisBroker } from "@cellojs/redis";
import { serveBrokerBench } from "../brokers/server.js";

await serveBrokerBench({
  id: "redis",
  prefixName: "key prefix",
  create: (prefix) => {
    const redis = redisBroker({ prefix, connectionName: "cello-bench" });
    return { broker: redis, ready: () => redis.ready(5000) };
  },
});
