/**
 * Run profiles: `full` (the default, about 20 minutes on 2 cores, 11 of them the paired HTTP rounds), `quick`
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
    /** Measured rounds per system and route, interleaved across systems (the validation and workers sections). */
    rounds: number;
    connections: number;
    /** Pipelining depth of the validation and workers sections. */
    pipelining: number;
    /** The HTTP section: the pipelining depths it measures every server at (autocannon `-p`), each a run of its own. */
    pipeliningModes: number[];
    /** The HTTP section: paired rounds per depth and route; each round measures every server once, in alternating order. */
    pairedRounds: number;
    /** The HTTP section: length of one paired round, in seconds. */
    pairedRoundSec: number;
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

/** The full run: 20 paired rounds of 0.5 s per HTTP server, route and pipelining depth (-p 10 and -p 1), 1 000 / 5 000 / 10 000 SSE clients. */
export const FULL: BenchConfig = {
  profile: "full",
  http: {
    systems: HTTP_SYSTEM_IDS,
    warmupSec: 2,
    durationSec: 2,
    rounds: 5,
    connections: 100,
    pipelining: 10,
    pipeliningModes: [10, 1],
    pairedRounds: 20,
    pairedRoundSec: 0.5,
  },
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

/** `--quick`: 6 paired rounds of 0.5 s per HTTP server, route and depth, 1 000 SSE clients, 1 000 Redis-section clients. */
export const QUICK: BenchConfig = {
  profile: "quick",
  http: { ...FULL.http, warmupSec: 1, durationSec: 1, rounds: 3, pairedRounds: 6 },
  sse: { ...FULL.sse, clients: [1000], publishMs: 1000, drainIdleMs: 1000, drainMaxMs: 5000 },
  redis: { ...FULL.redis, clients: [1000], publishMs: 1000, drainIdleMs: 1000, drainMaxMs: 5000 },
  postgres: { ...FULL.postgres, clients: [1000], publishMs: 1000, drainIdleMs: 1000, drainMaxMs: 5000 },
};

/** The smoke test's: two 0.5 s HTTP rounds per depth, 50 SSE clients held by two load processes, two loads; 20 Redis-section clients, one load. */
export const SMOKE: BenchConfig = {
  profile: "smoke",
  http: {
    systems: ["node-http", "cello-functions"],
    warmupSec: 0,
    durationSec: 1,
    rounds: 1,
    connections: 10,
    pipelining: 1,
    pipeliningModes: [10, 1],
    pairedRounds: 2,
    pairedRoundSec: 0.5,
  },
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
