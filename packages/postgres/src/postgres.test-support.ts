/**
 * Shared by the PostgreSQL tests: is PostgreSQL there (and what to do when it is
 * not), a table prefix per run, cleanup of exactly our tables, provoking outages
 * (pg_terminate_backend, a server restart), and fixture processes; the process
 * and SSE-reading helpers are the ones @cellojs/redis and @cellojs/mcp use too
 * (packages/testing/src/processes.test-support.ts).
 */
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startFixtureProcess, type FixtureProcess } from "../../testing/src/processes.test-support.js";

export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** SELECT 1 on a new connection: undefined when PostgreSQL answers, else why not. */
async function ping(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (err) {
    const error = err as NodeJS.ErrnoException;
    return error.code ?? (error.message || String(err));
  } finally {
    await client.end().catch(() => {});
  }
}

const ci = process.env.CI === "true" || process.env.CI === "1";
const problem = await ping();
if (problem !== undefined && ci) {
  throw new Error(`PostgreSQL is required under CI but ${DATABASE_URL} does not answer (${problem}); start it or set DATABASE_URL`);
}
if (problem !== undefined) console.log(`@cellojs/postgres tests skipped: PostgreSQL at ${DATABASE_URL} does not answer (${problem}); start PostgreSQL or set DATABASE_URL`);

/** True when PostgreSQL is missing outside CI: use with `describe.skipIf`. */
export const skipWithoutPostgres = problem !== undefined;

/** A table prefix no other run (or developer) uses: tests never touch tables they did not make. */
export function uniquePrefix(label: string): string {
  return `t_${label}_${process.pid}_${randomBytes(4).toString("hex")}_`;
}

/** A plain pool for inspecting and provoking PostgreSQL from a test. */
export function adminPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  pool.on("error", () => {});
  return pool;
}

/** Drop the tables under `prefix` (in `schema`), never anything else. */
export async function dropTables(admin: pg.Pool, prefix: string, schema = "public"): Promise<void> {
  for (const table of ["events", "channels", "rate_limits"]) await admin.query(`DROP TABLE IF EXISTS "${schema}"."${prefix}${table}"`);
}

/** pg_terminate_backend every connection whose application_name is one of `names`; returns how many. */
export async function terminate(admin: pg.Pool, names: string[]): Promise<number> {
  const { rows } = await admin.query<{ killed: boolean }>("SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = ANY($1::text[])", [names]);
  return rows.filter((row) => row.killed).length;
}

/** How many connections are named `name`. */
export async function connectionCount(admin: pg.Pool, name: string): Promise<number> {
  const { rows } = await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1", [name]);
  return Number(rows[0]!.n);
}

/**
 * Restart the PostgreSQL server (`pg_ctlcluster <version> main restart`, as root on
 * these machines). Returns false when this process cannot (not root, no
 * pg_ctlcluster, a remote DATABASE_URL): the caller then cuts a proxy instead.
 */
export function canRestartServer(): boolean {
  const local = /@(127\.0\.0\.1|localhost)(:5432)?\//.test(DATABASE_URL) || !/@/.test(DATABASE_URL);
  return local && typeof process.getuid === "function" && process.getuid() === 0 && spawnSync("which", ["pg_ctlcluster"]).status === 0 && spawnSync("ls", ["/etc/postgresql"]).stdout.toString().trim() !== "";
}

/** Restart the local cluster (fast shutdown: every connection is cut), without blocking this process meanwhile. */
export function restartServer(): Promise<void> {
  const version = spawnSync("ls", ["/etc/postgresql"]).stdout.toString().trim().split("\n")[0]!;
  return new Promise((resolve, reject) => {
    execFile("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"], { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`pg_ctlcluster restart failed (${err.message}): ${stderr}`));
      else resolve();
    });
  });
}

export { closeAgent, openStream, publishExactlyOnce, publishVia, sequence, sleep, until, warmUp, type RemoteStream, type StreamEvent } from "../../testing/src/processes.test-support.js";

/** A fixture app in its own process. */
export interface FixtureServer extends Omit<FixtureProcess, "match"> {
  url: string;
}

const fixturePath = fileURLToPath(new URL("./fixtures/server.ts", import.meta.url));
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Start src/fixtures/server.ts with `node --import tsx` on a free port, sharing the database under the table prefix `prefix`. */
export async function startFixture(prefix: string): Promise<FixtureServer> {
  const { match, ...server } = await startFixtureProcess({ script: fixturePath, args: ["--port", "0"], cwd: packageDir, env: { CELLO_TEST_PREFIX: prefix, DATABASE_URL } });
  return { url: match[1]!, ...server };
}
