// The ChannelBroker conformance suite of @cellojs/testing, on a real Redis: the same
// suite core's in-memory broker runs. Keys under a prefix of this run only.
import { silentLogger } from "@cellojs/core";
import { runBrokerConformance } from "@cellojs/testing/conformance";
import { afterAll } from "vitest";
import { redisBroker } from "./index.js";
import { adminConnection, deleteKeys, skipWithoutRedis, uniquePrefix } from "./redis.test-support.js";

const prefix = uniquePrefix("conformance");

// MAXLEN ~ trims whole stream nodes of 100 entries: a stream keeps up to 100 more than `history`.
runBrokerConformance(() => redisBroker({ prefix, logger: silentLogger }), { name: "redisBroker", skip: skipWithoutRedis, historySlack: 100 });

afterAll(async () => {
  if (skipWithoutRedis) return;
  const admin = adminConnection();
  await deleteKeys(admin, prefix);
  admin.disconnect();
});
