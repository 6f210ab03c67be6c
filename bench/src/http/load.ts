/**
 * The HTTP load generator process: runs autocannon rounds on request from the
 * runner, in a process of its own (pinned to the other core), so the load
 * generator's own work never lands on the server's core.
 */
import autocannon from "autocannon";
import { announceReady, serveIpc } from "../ipc.js";

/** One autocannon round as the runner asked for it. */
export interface LoadRound {
  url: string;
  durationSec: number;
  connections: number;
  pipelining: number;
  /** The exact body every response must carry; others count as mismatches. */
  expectBody: string;
  /** Default GET. */
  method?: "GET" | "POST";
  /** Request headers, e.g. a Content-Type for `body`. */
  headers?: Record<string, string>;
  /** Request body (the same for every request). */
  body?: string;
}

/** What one round measured. */
export interface LoadResult {
  reqPerSec: number;
  total: number;
  durationSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}

async function round(request: LoadRound): Promise<LoadResult> {
  const result = await autocannon({
    url: request.url,
    connections: request.connections,
    pipelining: request.pipelining,
    duration: request.durationSec,
    expectBody: request.expectBody,
    method: request.method ?? "GET",
    headers: request.headers,
    body: request.body,
  });
  return {
    // total / duration rather than autocannon's per-second average: rounds may be fractions of a second long.
    reqPerSec: result.requests.total / result.duration,
    total: result.requests.total,
    durationSec: result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
  };
}

serveIpc({
  run: (request) => round(request as unknown as LoadRound),
  // The runner reads this around each round: a load generator near 100% of its core set the pace.
  cpu: () => {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  },
});
announceReady({ pid: process.pid });
