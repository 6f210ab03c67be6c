/**
 * Run profiles: `full` (the default, at most 10 minutes on 2 cores), `quick`
 * (`--quick`, at most 2 minutes) and the tiny one the smoke test uses.
 */

/** One SSE publishing load: `rate` events/s per client, in ticks of `tickEvents`, each `size` bytes of data. */
export interface SseLoad {
  rate: number;
  size: number;
}

/** Everything a run does. Sections or systems not listed are skipped. */
export interface BenchConfig {
  profile: string;
  http: {
    /** HTTP server ids (see http/systems.ts). */
    systems: string[];
    warmupSec: number;
    /** Length of one measured round. */
    durationSec: number;
    /** Measured rounds per system and route, interleaved across systems; the best counts. */
    rounds: number;
    connections: number;
    pipelining: number;
  };
  sse: {
    /** SSE server ids (see sse/systems.ts). */
    systems: string[];
    /** Connected clients per round; the largest also gives the memory figures. */
    clients: number[];
    /** Loads, run lightest first: a load a system fails to deliver skips its heavier ones. */
    loads: SseLoad[];
    tickEvents: number;
    /** How long the publisher runs per load. */
    publishMs: number;
    /** One client in this many parses events and measures publish-to-receive latency. */
    latencyEvery: number;
    /** After publishing, wait for delivery until no frame arrived for this long... */
    drainIdleMs: number;
    /** ...or at most this long. */
    drainMaxMs: number;
    /**
     * Load processes holding the clients: 0 decides per client count (enough
     * for the 19 000-descriptor limit, and one per spare core when the load
     * would take one above 70% of its core; see sse/load-pool.ts).
     */
    loadProcesses: number;
  };
  /** The Redis section (see redis/section.ts): Cello.ts on two instances sharing Redis, against one in-memory instance. */
  redis: {
    /** Connected clients per round, split half/half across the two instances. */
    clients: number[];
    /** Loads, lightest first, published on one instance: a load a setup fails to deliver skips its heavier ones. */
    loads: SseLoad[];
    tickEvents: number;
    publishMs: number;
    latencyEvery: number;
    drainIdleMs: number;
    drainMaxMs: number;
  };
  /** The PostgreSQL section (see postgres/section.ts): the same comparison as `redis`, through PostgreSQL. */
  postgres: BenchConfig["redis"];
}

export const HTTP_SYSTEM_IDS = ["node-http", "cello-functions", "cello-decorators", "cello-guarded", "cello-metrics", "cello-ratelimit", "fastify", "hono", "express"];
export const SSE_SYSTEM_IDS = ["raw-net", "raw-per-event", "raw-coalesced", "cello", "cello-checked", "cello-shared", "cello-metrics", "better-sse", "fastify-sse", "hono", "h3"];

const LOADS: SseLoad[] = [
  { rate: 100, size: 128 },
  { rate: 100, size: 1024 },
  { rate: 1000, size: 128 },
  { rate: 1000, size: 1024 },
];

/** The full run: 10 s measured per HTTP server and route (5 rounds of 2 s), 1 000 / 5 000 / 10 000 SSE clients. */
export const FULL: BenchConfig = {
  profile: "full",
  http: { systems: HTTP_SYSTEM_IDS, warmupSec: 2, durationSec: 2, rounds: 5, connections: 100, pipelining: 10 },
  sse: {
    systems: SSE_SYSTEM_IDS,
    clients: [1000, 5000, 10_000],
    loads: LOADS,
    tickEvents: 10,
    publishMs: 2000,
    latencyEvery: 50,
    drainIdleMs: 1500,
    drainMaxMs: 10_000,
    loadProcesses: 0,
  },
  redis: {
    clients: [1000, 5000],
    loads: [
      { rate: 100, size: 128 },
      { rate: 1000, size: 128 },
    ],
    tickEvents: 10,
    publishMs: 2000,
    latencyEvery: 50,
    drainIdleMs: 1500,
    drainMaxMs: 10_000,
  },
  postgres: {
    clients: [1000],
    loads: [
      { rate: 100, size: 128 },
      { rate: 1000, size: 128 },
    ],
    tickEvents: 10,
    publishMs: 2000,
    latencyEvery: 50,
    drainIdleMs: 1500,
    drainMaxMs: 10_000,
  },
};

/** `--quick`: 3 s measured per HTTP server and route (3 rounds of 1 s), 1 000 SSE clients, 1 000 Redis-section clients. */
export const QUICK: BenchConfig = {
  profile: "quick",
  http: { ...FULL.http, warmupSec: 1, durationSec: 1, rounds: 3 },
  sse: { ...FULL.sse, clients: [1000], publishMs: 1000, drainIdleMs: 1000, drainMaxMs: 5000 },
  redis: { ...FULL.redis, clients: [1000], publishMs: 1000, drainIdleMs: 1000, drainMaxMs: 5000 },
  postgres: { ...FULL.postgres, clients: [1000], publishMs: 1000, drainIdleMs: 1000, drainMaxMs: 5000 },
};

/** The smoke test's: 1 s HTTP rounds, 50 SSE clients held by two load processes, two loads; 20 Redis-section clients, one load. */
export const SMOKE: BenchConfig = {
  profile: "smoke",
  http: { systems: ["node-http", "cello-functions"], warmupSec: 0, durationSec: 1, rounds: 1, connections: 10, pipelining: 1 },
  sse: {
    systems: ["raw-net", "raw-per-event", "raw-coalesced", "cello"],
    clients: [50],
    loads: [
      { rate: 100, size: 128 },
      { rate: 1000, size: 1024 },
    ],
    tickEvents: 10,
    publishMs: 500,
    latencyEvery: 10,
    drainIdleMs: 1000,
    drainMaxMs: 5000,
    // Two, so the smoke test drives the pool (merged counts, distinct source addresses).
    loadProcesses: 2,
  },
  redis: {
    clients: [20],
    loads: [{ rate: 100, size: 128 }],
    tickEvents: 10,
    publishMs: 500,
    latencyEvery: 5,
    drainIdleMs: 1000,
    drainMaxMs: 5000,
  },
  postgres: {
    clients: [20],
    loads: [{ rate: 100, size: 128 }],
    tickEvents: 10,
    publishMs: 500,
    latencyEvery: 5,
    drainIdleMs: 1000,
    drainMaxMs: 5000,
  },
};
