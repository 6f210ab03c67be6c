/**
 * broker.rateLimitStore(): `app.enableRateLimit()` without a store counts in
 * PostgreSQL (the broker's table), so two instances share one limit.
 */
import { App, silentLogger } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import { afterAll, describe, expect, it } from "vitest";
import { postgresBroker } from "./index.js";
import { adminPool, DATABASE_URL, dropTables, skipWithoutPostgres, uniquePrefix } from "./postgres.test-support.js";

describe.skipIf(skipWithoutPostgres)("rate limits counted in PostgreSQL", () => {
  const tablePrefix = uniquePrefix("rl");
  afterAll(async () => {
    const admin = adminPool();
    await dropTables(admin, tablePrefix);
    await admin.end();
  });

  it("two instances share one limit: 3 requests per minute in all, the 4th on either is a 429", async () => {
    const instance = async () => {
      const broker = postgresBroker({ url: DATABASE_URL, tablePrefix, poolSize: 2, logger: silentLogger });
      await broker.ready();
      const app = new App({ broker, logger: silentLogger });
      app.enableRateLimit({ points: 3, duration: 60, key: () => "one-client" });
      app.get("/", () => ({ ok: true }));
      return TestClient.start(app);
    };
    const [a, b] = await Promise.all([instance(), instance()]);
    try {
      const statuses = [];
      for (const client of [a, b, a, b, a]) statuses.push((await client.get("/")).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const admin = adminPool();
      const { rows } = await admin.query<{ points: number }>(`SELECT points FROM "${tablePrefix}rate_limits"`);
      await admin.end();
      // One counter row, shared: the count lives in PostgreSQL, not in either process.
      expect(rows).toHaveLength(1);
      expect(rows[0]!.points).toBeGreaterThanOrEqual(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
