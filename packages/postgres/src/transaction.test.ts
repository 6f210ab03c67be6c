/**
 * publishIn(): an event published inside the caller's transaction reaches
 * subscribers (on this instance and another) only if that transaction commits,
 * with the id it was given, in commit order; a rollback delivers nothing and
 * leaves no trace in the history or the numbering.
 */
import { App, silentLogger, type ChannelMessage } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { postgresBroker, type PostgresBroker } from "./index.js";
import { adminPool, DATABASE_URL, dropTables, skipWithoutPostgres, sleep, uniquePrefix, until } from "./postgres.test-support.js";

describe.skipIf(skipWithoutPostgres)("publishIn: publishing inside the caller's transaction", () => {
  const tablePrefix = uniquePrefix("tx");
  let admin: pg.Pool;
  let pool: pg.Pool;
  const opened: Array<{ close(): Promise<void> }> = [];
  const broker = (): PostgresBroker => {
    const made = postgresBroker({ url: DATABASE_URL, tablePrefix, poolSize: 2, logger: silentLogger });
    opened.push(made);
    return made;
  };

  beforeAll(async () => {
    admin = adminPool();
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 });
    await admin.query(`CREATE TABLE IF NOT EXISTS "${tablePrefix}orders" (id int PRIMARY KEY, total int NOT NULL)`);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((made) => made.close()));
  });
  afterAll(async () => {
    await pool.end();
    await admin.query(`DROP TABLE IF EXISTS "${tablePrefix}orders"`);
    await dropTables(admin, tablePrefix);
    await admin.end();
  });

  /** Run `work` in a transaction on its own connection; roll back when it throws or when `rollback` is set. */
  async function transaction<T>(work: (tx: pg.PoolClient) => Promise<T>, rollback = false): Promise<T> {
    const tx = await pool.connect();
    try {
      await tx.query("BEGIN");
      const result = await work(tx);
      await tx.query(rollback ? "ROLLBACK" : "COMMIT");
      return result;
    } catch (err) {
      await tx.query("ROLLBACK");
      throw err;
    } finally {
      tx.release();
    }
  }

  it("a committed transaction delivers its event, with the id publishIn returned, to a client over SSE; a rolled-back one delivers nothing", async () => {
    const publisher = broker();
    const app = new App({ broker: broker(), sse: { heartbeatMs: 0 } });
    const orders = app.channel("orders");
    app.get("/orders", (req) => orders.subscribe(req));
    const client = await TestClient.start(app);
    try {
      const reader = await client.openSse("/orders");
      await expect.poll(() => orders.size).toBe(1);
      // Rolled back: the row and the event go together.
      await transaction(async (tx) => {
        await tx.query(`INSERT INTO "${tablePrefix}orders" VALUES (1, 10)`);
        await publisher.publishIn(tx, "orders", { order: 1 }, { event: "created" });
      }, true);
      const id = await transaction(async (tx) => {
        await tx.query(`INSERT INTO "${tablePrefix}orders" VALUES (2, 20)`);
        return publisher.publishIn(tx, orders, { order: 2 }, { event: "created", to: undefined });
      });
      const [event] = await reader.waitForEvents(1);
      expect(event).toMatchObject({ id, event: "created", data: '{"order":2}' });
      // Nothing of the rolled-back one, live or in the history; and it took no number.
      await sleep(200);
      expect(reader.events).toHaveLength(1);
      expect((await publisher.replay("orders", "")).events.map((e) => e.data)).toEqual(['{"order":2}']);
      expect(id).toBe("1");
      const rows = await admin.query(`SELECT id FROM "${tablePrefix}orders" ORDER BY id`);
      expect(rows.rows).toEqual([{ id: 2 }]);
      reader.close();
    } finally {
      await client.close();
    }
  });

  it("nothing is visible before the commit, on another instance either; a failed statement after it rolls the event back", async () => {
    const publisher = broker();
    const other = broker();
    const seen: ChannelMessage[] = [];
    other.subscribe("audit", (message) => seen.push(message));
    await other.ready();
    const tx = await pool.connect();
    try {
      await tx.query("BEGIN");
      const id = await publisher.publishIn(tx, "audit", "pending");
      await sleep(300);
      expect(seen).toEqual([]);
      expect(await other.lastId("audit")).toBeUndefined();
      await tx.query("COMMIT");
      await until(() => seen.length === 1, "the committed event on the other instance");
      expect(seen).toEqual([{ id, data: "pending" }]);
    } finally {
      tx.release();
    }
    // A transaction that fails after publishing (a duplicate key) delivers nothing.
    await expect(
      transaction(async (t) => {
        await t.query(`INSERT INTO "${tablePrefix}orders" VALUES (5, 1)`);
        await publisher.publishIn(t, "audit", "doomed");
        await t.query(`INSERT INTO "${tablePrefix}orders" VALUES (5, 2)`);
      }),
    ).rejects.toThrow(/duplicate key/);
    await sleep(200);
    expect(seen.map((m) => m.data)).toEqual(["pending"]);
  });

  it("ids follow commit order: a transaction that publishes first but commits last gets the later id, and waits for the channel meanwhile", async () => {
    const publisher = broker();
    const seen: ChannelMessage[] = [];
    publisher.subscribe("sequenced", (message) => seen.push(message));
    await publisher.ready();
    const first = await pool.connect();
    try {
      await first.query("BEGIN");
      const firstId = await publisher.publishIn(first, "sequenced", "first");
      // The channel's row is locked until `first` ends: a plain publish waits for it.
      let otherId: string | undefined;
      const other = publisher.publish("sequenced", { data: "second" }).then((id) => (otherId = id));
      await sleep(300);
      expect(otherId).toBeUndefined();
      await first.query("COMMIT");
      await other;
      expect([firstId, otherId]).toEqual(["1", "2"]);
      await until(() => seen.length === 2, "both events");
      expect(seen.map((m) => [m.id, m.data])).toEqual([
        ["1", "first"],
        ["2", "second"],
      ]);
    } finally {
      first.release();
    }
  });

  it("refuses what channel.publish() refuses, before anything is sent, and a client that is not a connection", async () => {
    const publisher = broker();
    const tx = { query: async () => ({ rows: [] }) };
    await expect(publisher.publishIn(tx, "c", undefined)).rejects.toMatchObject({ code: "CELLO_INVALID_SSE_FIELD" });
    await expect(publisher.publishIn(tx, "c", "x", { event: "bad\nname" })).rejects.toMatchObject({ code: "CELLO_INVALID_SSE_FIELD" });
    await expect(publisher.publishIn(tx, "c", "x", { to: [1 as unknown as string] })).rejects.toMatchObject({ code: "CELLO_INVALID_OPTION" });
    await expect(publisher.publishIn({} as never, "c", "x")).rejects.toMatchObject({ code: "CELLO_INVALID_OPTION" });
    await expect(publisher.publishIn(tx, "", "x")).rejects.toMatchObject({ code: "CELLO_INVALID_CHANNEL_NAME" });
  });
});
