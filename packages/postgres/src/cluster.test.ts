/**
 * Several app instances, each its own process on its own port, sharing one
 * PostgreSQL: what a client sees when it moves between them, when one dies,
 * when their connections are terminated (the shared cluster fault suite,
 * packages/testing/src/cluster-faults.test-support.ts), and when the server restarts.
 */
import type pg from "pg";
import { expect, it } from "vitest";
import { describeClusterFaults } from "../../testing/src/cluster-faults.test-support.js";
import {
  adminPool,
  canRestartServer,
  connectionCount,
  dropTables,
  openStream,
  restartServer,
  sequence,
  skipWithoutPostgres,
  sleep,
  startFixture,
  terminate,
  uniquePrefix,
  until,
  warmUp,
  type StreamEvent,
} from "./postgres.test-support.js";

const ci = process.env.CI === "true" || process.env.CI === "1";
const prefix = uniquePrefix("cluster");
let admin: pg.Pool | undefined;
const pool = (): pg.Pool => (admin ??= adminPool());

describeClusterFaults({
  name: "instances sharing one PostgreSQL",
  skip: skipWithoutPostgres,
  start: () => startFixture(prefix),
  /** Whether `payload` is in the history (asked again until the database answers: it may be restarting). */
  async stored(payload) {
    for (let attempt = 0; ; attempt++) {
      try {
        const { rowCount } = await pool().query(`SELECT 1 FROM "${prefix}events" WHERE channel = 'ticks' AND data = convert_to($1, 'UTF8')`, [payload]);
        return (rowCount ?? 0) > 0;
      } catch (err) {
        if (attempt > 100) throw err;
        await sleep(100);
      }
    }
  },
  after: (a, b) => Number(b) > Number(a),
  async cleanup() {
    await dropTables(pool(), prefix);
    await pool().end();
  },
  cut: {
    what: "A's connections are terminated (pg_terminate_backend)",
    listening: (instance) => connectionCount(pool(), `cello-listener-${instance.pid}`),
    cut: (instance) => terminate(pool(), [`cello-listener-${instance.pid}`, `cello-pool-${instance.pid}`]),
    lostLog: /@cellojs\/postgres: the listening connection to postgres:\/\/\S+ (closed|failed)[^\n]*; reconnecting/,
    backLog: /@cellojs\/postgres: the listening connection to postgres:\/\/\S+ is back/,
  },
  extra(ctx) {
    // Under CI it always runs (and fails, saying why, where the server cannot be restarted); elsewhere it needs root.
    it.skipIf(!ci && !canRestartServer())("subscribers on both instances miss nothing and get nothing twice across a restart of the PostgreSQL server", async () => {
      if (!canRestartServer()) throw new Error("restarting PostgreSQL needs root and pg_ctlcluster on the machine that runs it (DATABASE_URL local)");
      const payloads = sequence(300, "restart");
      const onA = await openStream(`${ctx.a().url}/ticks`);
      const onB = await openStream(`${ctx.b().url}/ticks`);
      await warmUp(ctx.a().url, [onA, onB], "before restart");
      const publisher = ctx.publishAll(ctx.b().url, payloads);
      await until(() => onA.events.some((e) => e.data === "restart100"), "event 100 on A", 20_000);
      await restartServer();
      const { retries } = await publisher;
      const relevant = (events: StreamEvent[]) => events.filter((e) => e.data.startsWith("restart"));
      await until(() => relevant(onA.events).length >= 300 && relevant(onB.events).length >= 300, "300 events on both", 30_000);
      await sleep(100);
      for (const stream of [onA, onB]) {
        expect(relevant(stream.events).map((e) => e.data)).toEqual(payloads);
        expect(ctx.strictlyIncreasing(stream.events)).toBe(true);
        expect(stream.ended).toBe(false);
      }
      expect(retries).toBeGreaterThan(0);
      console.log(`cluster test: server restarted, ${retries} publishes retried`);
      onA.close();
      onB.close();
    }, 90_000);
  },
});
