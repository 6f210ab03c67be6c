/**
 * The runner's own connection to PostgreSQL: is it there, how much CPU its
 * processes have used, and dropping the tables a run made. The servers under
 * test never use it.
 */
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";

/**
 * Where the PostgreSQL section looks for PostgreSQL: `DATABASE_URL`, else the local test database.
 * @example postgresUrl() // "postgres://postgres@127.0.0.1:5432/test" when DATABASE_URL is unset
 */
export function postgresUrl(): string {
  return process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
}

export { redactUrl } from "@cellojs/postgres";

/**
 * A plain connection for the runner; it fails at once when PostgreSQL is away.
 * @example
 * const admin = await PostgresAdmin.connect(postgresUrl());
 * const before = admin.cpuSeconds();
 * await admin.dropTables("bench_1234_");
 * await admin.close();
 */
export class PostgresAdmin {
  readonly #client: pg.Client;
  /** The server's version (`server_version`). */
  readonly version: string;
  /** Whether the server runs on this machine (its processes are in /proc). */
  readonly local: boolean;

  private constructor(client: pg.Client, version: string, local: boolean) {
    this.#client = client;
    this.version = version;
    this.local = local;
  }

  /**
   * Connect and ask the version.
   * @param url - The database URL.
   * @param timeoutMs - How long to wait for the connection. Default 2000.
   */
  static async connect(url: string, timeoutMs = 2000): Promise<PostgresAdmin> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, application_name: `cello-bench-admin-${process.pid}` });
    client.on("error", () => {});
    try {
      await client.connect();
      const { rows } = await client.query<{ server_version: string }>("SHOW server_version");
      return new PostgresAdmin(client, rows[0]!.server_version, postgresPids().length > 0);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  /**
   * CPU seconds (user + system) of every `postgres` process on this machine, ended
   * backends included (the postmaster's reaped children): the server's whole CPU,
   * other clients of it included. 0 when it runs elsewhere.
   */
  cpuSeconds(): number {
    const ticks = 100; // USER_HZ on Linux
    let total = 0;
    for (const pid of postgresPids()) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        // utime, stime, cutime, cstime are fields 14-17 (1-based), so 11-14 after the comm.
        total += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      } catch {
        // Ended meanwhile: its CPU now counts in its parent's cutime/cstime.
      }
    }
    return total / ticks;
  }

  /** Drop the tables under `prefix` (never anything else); returns how many existed. */
  async dropTables(prefix: string): Promise<number> {
    let dropped = 0;
    for (const table of ["events", "channels", "rate_limits"]) {
      const { rows } = await this.#client.query<{ found: boolean }>("SELECT to_regclass($1) IS NOT NULL AS found", [`"public"."${prefix}${table}"`]);
      if (!rows[0]?.found) continue;
      await this.#client.query(`DROP TABLE "public"."${prefix}${table}"`);
      dropped++;
    }
    return dropped;
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => {});
  }
}

/** The pids of the processes named `postgres` (the server and its backends). */
function postgresPids(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") pids.push(Number(entry));
    } catch {
      // Gone.
    }
  }
  return pids;
}
