// The ChannelBroker conformance suite of @cellojs/testing, on a real PostgreSQL: the same
// suite core's in-memory broker and the Redis broker run. Tables under a prefix of this run only.
import { silentLogger } from "@cellojs/core";
import { runBrokerConformance } from "@cellojs/testing/conformance";
import { afterAll } from "vitest";
import { postgresBroker } from "./index.js";
import { adminPool, DATABASE_URL, dropTables, skipWithoutPostgres, uniquePrefix } from "./postgres.test-support.js";

const tablePrefix = uniquePrefix("conformance");

// Trimming is exact (a DELETE per publish): no slack beyond `history`.
runBrokerConformance(() => postgresBroker({ url: DATABASE_URL, tablePrefix, poolSize: 3, logger: silentLogger }), { name: "postgresBroker", skip: skipWithoutPostgres });

afterAll(async () => {
  if (skipWithoutPostgres) return;
  const admin = adminPool();
  await dropTables(admin, tablePrefix);
  await admin.end();
});
