/**
 * `pnpm bench [--quick] [options]`: run the benchmarks, print the markdown
 * table, and write results/latest.json and results/latest.md.
 */
import { fileURLToPath } from "node:url";
import { FULL, QUICK, type BenchConfig } from "./config.js";
import { runBench, type ExtraSection } from "./harness.js";
import { COMPRESSION_SECTION } from "./compression/section.js";
import { connectionsSection, type ConnectionsOptions } from "./connections/section.js";
import { POSTGRES_SECTION } from "./postgres/section.js";
import { REDIS_SECTION } from "./redis/section.js";
import { VALIDATION_SECTION } from "./validation/section.js";
import { WORKERS_SECTION } from "./workers/section.js";

const HELP = `Usage: pnpm bench [--quick] [options]

  --quick               6 paired HTTP rounds per server, route and pipelining depth, 1 000 SSE
                        clients and 1 000 Redis-section clients instead of 20 paired rounds,
                        1 000 / 5 000 / 10 000 SSE and 1 000 / 5 000 Redis clients (about 20 minutes)
  --sections=http,sse,validation,redis,postgres,compression,workers,connections  run only these sections
  --http=a,b            HTTP systems: node-http, cello-functions, cello-decorators, cello-guarded, cello-metrics, cello-ratelimit, fastify, hono, express
  --sse=a,b             SSE systems: raw-net (the floor), raw-per-event, raw-coalesced, cello, cello-checked, cello-shared, cello-metrics, better-sse, fastify-sse, hono, h3
  --clients=1000,5000   SSE client counts
  --load-processes=N    SSE load processes per client count (default: as many as the descriptor limit and
                        the spare cores call for)
  --redis-clients=1000  Redis-section client counts (split across two instances; REDIS_URL, else
                        redis://127.0.0.1:6379)
  --connections=5000,10000,19500  idle connections held by one process in the connections
                        section (default: 5 000 / 10 000 / 19 500; --quick: 1 000 / 2 000 / 4 000)
  --connections-workers=39000  connections held by --workers 2 in that section (0 skips it)
  --postgres-clients=1000  PostgreSQL-section client counts (split across two instances; DATABASE_URL,
                        else postgres://postgres@127.0.0.1:5432/test)
  --cpu-prof=a,b        run these systems' servers with --cpu-prof (files in --prof-dir, default
                        bench/profiles); "redis" / "postgres" profile those sections' instances,
                        "sse-load" the SSE section's load generator
  --out=DIR             where latest.json and latest.md go (default bench/results)
`;

function parseArgs(argv: string[]): { config: BenchConfig; sections?: string[]; profileSystems: string[]; outDir: string; profileDir: string; connections: Partial<ConnectionsOptions> } {
  let config: BenchConfig = structuredClone(FULL);
  const list = (value: string) => value.split(",").map((item) => item.trim()).filter(Boolean);
  const options: { sections?: string[]; profileSystems: string[]; outDir: string; profileDir: string; connections: Partial<ConnectionsOptions> } = {
    profileSystems: [],
    connections: {},
    outDir: fileURLToPath(new URL("../results", import.meta.url)),
    profileDir: fileURLToPath(new URL("../profiles", import.meta.url)),
  };
  // --quick first, so the other flags narrow whichever profile is chosen.
  if (argv.includes("--quick")) config = structuredClone(QUICK);
  for (const arg of argv) {
    const [flag, value = ""] = arg.split("=", 2) as [string, string | undefined];
    switch (flag) {
      case "--quick":
      case "--":
        break;
      case "--help":
      case "-h":
        process.stdout.write(HELP);
        process.exit(0);
        break;
      case "--sections":
        options.sections = list(value);
        break;
      case "--http":
        config.http.systems = list(value);
        break;
      case "--sse":
        config.sse.systems = list(value);
        break;
      case "--clients":
        config.sse.clients = list(value).map(Number);
        break;
      case "--load-processes":
        config.sse.loadProcesses = Number(value);
        if (!Number.isInteger(config.sse.loadProcesses) || config.sse.loadProcesses < 1) {
          process.stderr.write(`--load-processes needs a whole number of at least 1, got ${JSON.stringify(value)}\n`);
          process.exit(2);
        }
        break;
      case "--redis-clients":
        config.redis.clients = list(value).map(Number);
        break;
      case "--connections": {
        const sizes = list(value).map(Number);
        if (sizes.length === 0 || !sizes.every((n, i) => Number.isInteger(n) && n > 0 && (i === 0 || n > sizes[i - 1]!))) {
          process.stderr.write(`--connections takes increasing whole numbers, got ${JSON.stringify(value)}\n`);
          process.exit(2);
        }
        options.connections.sizes = sizes;
        break;
      }
      case "--connections-workers": {
        const total = Number(value);
        if (!Number.isInteger(total) || total < 0) {
          process.stderr.write(`--connections-workers takes a whole number (0 skips it), got ${JSON.stringify(value)}\n`);
          process.exit(2);
        }
        options.connections.workersConnections = total;
        break;
      }
      case "--postgres-clients":
        config.postgres.clients = list(value).map(Number);
        break;
      case "--cpu-prof":
        options.profileSystems = list(value);
        break;
      case "--prof-dir":
        options.profileDir = value;
        break;
      case "--out":
        options.outDir = value;
        break;
      default:
        process.stderr.write(`unknown option ${arg}\n\n${HELP}`);
        process.exit(2);
    }
  }
  return { config, ...options };
}

const args = parseArgs(process.argv.slice(2));
/** Sections beyond HTTP and SSE, run after them in this order. */
const EXTRA_SECTIONS: ExtraSection[] = [VALIDATION_SECTION, REDIS_SECTION, POSTGRES_SECTION, COMPRESSION_SECTION, WORKERS_SECTION, connectionsSection(args.connections)];
const { result, markdown } = await runBench({
  config: args.config,
  sections: args.sections,
  extraSections: EXTRA_SECTIONS,
  profileSystems: args.profileSystems,
  profileDir: args.profileDir,
  outDir: args.outDir,
});
process.stdout.write(`\n${markdown}`);
process.stderr.write(`\nbench: ${result.durationSec} s; wrote ${args.outDir}/latest.json and latest.md\n`);
