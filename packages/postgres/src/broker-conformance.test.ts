// The ChannelBroker conformance suite of @cellojs/testing, on a real PostgreSQL: the same
// suite core's in-memory broker and the Redis broker run. Tables under a prefix of this run only.
import { silentLogger } from "@cellojs/core";
import { runBrokerConformance } from "@cellojs/testing/conformance";
import { afterAll } from "vitest";
import { postgresBroker } from "./index.js";
import { TRIM_EVERY } from "./sql.js";
import { adminPool, DATABASE_URL, dropTables, skipWithoutPostgres, uniquePrefix } from "./postgres.test-support.js";

const tablePrefix = uniquePrefix("conformance");

// The history is trimmed each time the ids pass a multiple of 100 (TRIM_EVERY): a channel keeps up to 99 more than `history`.
runBrokerConformance(() => postgresBroker({ url: DATABASE_URL, tablePrefix, poolSize: 3, logger: silentLogger }), { name: "postgresBroker", skip: skipWithoutPostgres, historySlack: TRIM_EVERY - 1 });

afterAll(async () => {
  if (skipWithoutPostgres) return;
  const admin = adminPool();
  await dropTables(admin, tablePrefix);
  await admin.end();
});
