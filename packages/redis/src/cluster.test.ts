/**
 * Several app instances, each its own process on its own port, sharing one
 * Redis: what a client sees when it moves between them, when one dies, and
 * when their Redis connections are cut (the shared cluster fault suite,
 * packages/testing/src/cluster-faults.test-support.ts).
 */
import type { Redis } from "ioredis";
import { describeClusterFaults } from "../../testing/src/cluster-faults.test-support.js";
import { adminConnection, connectionIds, deleteKeys, killConnections, skipWithoutRedis, startFixture, uniquePrefix } from "./redis.test-support.js";

const prefix = uniquePrefix("cluster");
let admin: Redis | undefined;
const redis = (): Redis => (admin ??= adminConnection());

/** Stream ids `<ms>-<seq>`, compared as numbers. */
function after(a: string, b: string): boolean {
  const [ms0, seq0] = a.split("-").map(BigInt);
  const [ms1, seq1] = b.split("-").map(BigInt);
  return ms1! > ms0! || (ms1 === ms0 && seq1! > seq0!);
}

describeClusterFaults({
  name: "instances sharing one Redis",
  skip: skipWithoutRedis,
  start: () => startFixture(prefix),
  async stored(payload) {
    const tail = await redis().xrevrange(`${prefix}ticks`, "+", "-", "COUNT", 10);
    return tail.some(([, fields]) => fields[1] === payload);
  },
  after,
  async cleanup() {
    await deleteKeys(redis(), prefix);
    redis().disconnect();
  },
  cut: {
    what: "A's Redis connections are killed",
    listening: async (instance) => (await connectionIds(redis(), `cello-reader-${instance.pid}`)).length,
    cut: (instance) => killConnections(redis(), [`cello-reader-${instance.pid}`, `cello-publisher-${instance.pid}`]),
    lostLog: /@cellojs\/redis: the reader connection to redis:\/\/\S+ (closed|failed)[^\n]*; reconnecting with backoff/,
    backLog: /@cellojs\/redis: the reader connection to redis:\/\/\S+ is back/,
  },
});
