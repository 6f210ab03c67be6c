/**
 * Shared by the PostgreSQL tests: is PostgreSQL there (and what to do when it is
 * not), a table prefix per run, cleanup of exactly our tables, provoking outages
 * (pg_terminate_backend, a server restart), fixture processes, and a small SSE
 * reader for servers in other processes.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createParser } from "@cellojs/client";
import pg from "pg";
import { Agent, request } from "undici";

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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `ready` every 10 ms until it is true, or fail after `timeoutMs` saying `what`. */
export async function until(ready: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A fixture app in its own process. */
export interface FixtureServer {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout (its URL, the broker's "is back" lines). */
  stdout: () => string;
  /** Everything the process wrote to stderr (the broker's outage warnings). */
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const fixturePath = fileURLToPath(new URL("./fixtures/server.ts", import.meta.url));
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Start src/fixtures/server.ts with `node --import tsx` on a free port, sharing the database under the table prefix `prefix`. */
export function startFixture(prefix: string): Promise<FixtureServer> {
  const child = spawn(process.execPath, ["--import", "tsx", fixturePath, "--port", "0"], {
    cwd: packageDir,
    env: { ...process.env, CELLO_TEST_PREFIX: prefix, DATABASE_URL },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (chunk) => (err += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not start in 20 s\nstdout: ${out}\nstderr: ${err}`)), 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited with ${code}\nstdout: ${out}\nstderr: ${err}`));
    });
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = /running on (http:\/\/\S+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: match[1]!,
        pid: child.pid!,
        child,
        stdout: () => out,
        stderr: () => err,
        async stop(signal = "SIGTERM") {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
  });
}

/** One received event. */
export interface StreamEvent {
  id: string;
  event: string;
  data: string;
}

/** An SSE connection to a server in another process. */
export interface RemoteStream {
  readonly events: StreamEvent[];
  readonly status: number;
  readonly ended: boolean;
  close(): void;
}

const agent = new Agent({ connections: 64, pipelining: 0 });

/** Open `url` as an event stream (sending `Last-Event-ID` when given) and collect its events as they come. */
export async function openStream(url: string, lastEventId?: string): Promise<RemoteStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const res = await request(url, { headers, dispatcher: agent, signal: controller.signal });
  const events: StreamEvent[] = [];
  let ended = false;
  const parser = createParser({ onEvent: (e) => events.push({ id: e.id, event: e.event, data: e.data }) });
  void (async () => {
    try {
      for await (const chunk of res.body) parser.feed(chunk as Uint8Array);
    } catch {
      // aborted by close(), or the server went away
    }
    ended = true;
  })();
  return {
    events,
    status: res.statusCode,
    get ended() {
      return ended;
    },
    close() {
      controller.abort();
      res.body.destroy();
    },
  };
}

/** POST `data` to a fixture's /publish: the id, or the 503 body when the broker was unavailable. */
export async function publishVia(base: string, data: string): Promise<{ id: string } | { unavailable: string; mayHaveApplied: boolean }> {
  const res = await request(`${base}/publish`, { method: "POST", body: data, dispatcher: agent });
  const body = (await res.body.json()) as { id?: string; error?: string; mayHaveApplied?: boolean };
  if (res.statusCode === 200) return { id: body.id! };
  if (res.statusCode === 503) return { unavailable: body.error!, mayHaveApplied: body.mayHaveApplied! };
  throw new Error(`publish answered ${res.statusCode}: ${JSON.stringify(body)}`);
}

/** Close the shared HTTP agent (after all tests of a file). */
export function closeAgent(): Promise<void> {
  return agent.close();
}
