/**
 * A PostgreSQL store for `app.enableRateLimit()`: rate-limiter-flexible's
 * RateLimiterPostgres on the broker's pool, so every instance counts against
 * the same limits. Its table is created with the broker's (see sql.ts), never
 * by the limiter: a limiter made while the database is away would otherwise
 * stay without one.
 */
import type { RateLimitStore } from "@cellojs/core";
import type pg from "pg";
import { RateLimiterMemory, RateLimiterPostgres } from "rate-limiter-flexible";

/** @internal Options of {@link postgresRateLimitStore}. */
export interface PostgresRateLimitStoreOptions {
  pool: pg.Pool;
  schema: string;
  table: string;
  tableCreated: boolean;
}

/**
 * @internal Counters in `<schema>.<table>`. While PostgreSQL does not answer, counts go to
 * an in-memory insurance limiter: limits then hold per instance rather than not at all.
 */
export function postgresRateLimitStore(options: PostgresRateLimitStoreOptions): RateLimitStore {
  return (limiter) =>
    new RateLimiterPostgres(
      {
        ...limiter,
        storeClient: options.pool,
        storeType: "pool",
        schemaName: options.schema,
        tableName: options.table,
        tableCreated: options.tableCreated,
        clearExpiredByTimeout: false,
        insuranceLimiter: new RateLimiterMemory({ ...limiter, keyPrefix: `${limiter.keyPrefix}:insurance` }),
      },
      () => {},
    );
}
