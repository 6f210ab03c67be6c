/**
 * Shared by the Redis tests: is Redis there (and what to do when it is not),
 * a key prefix per run, cleanup of exactly our keys, and fixture processes; the
 * process and SSE-reading helpers are the ones @cellojs/postgres and @cellojs/mcp
 * use too (packages/testing/src/processes.test-support.ts).
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { startFixtureProcess, type FixtureProcess } from "../../testing/src/processes.test-support.js";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** PING over a raw socket: undefined when Redis answers, else why not. */
function ping(): Promise<string | undefined> {
  const url = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname || "127.0.0.1", port: Number(url.port || 6379) });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(1000, () => done("no answer within 1 s"));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    // An AUTH-protected Redis answers -NOAUTH: it is there, and the broker's URL carries the password.
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString()) ? undefined : `unexpected answer ${JSON.stringify(data.toString().trim())}`));
  });
}

const ci = process.env.CI === "true" || process.env.CI === "1";
const problem = await ping();
if (problem !== undefined && ci) {
  throw new Error(`Redis is required under CI but ${REDIS_URL} does not answer (${problem}); start it or set REDIS_URL`);
}
if (problem !== undefined) console.log(`@cellojs/redis tests skipped: Redis at ${REDIS_URL} does not answer (${problem}); start redis-server or set REDIS_URL`);

/** True when Redis is missing outside CI: use with `describe.skipIf`. */
export const skipWithoutRedis = problem !== undefined;

/** A key prefix no other run (or developer) uses: tests never touch keys they did not make. */
export function uniquePrefix(label: string): string {
  return `cello-test:${label}:${process.pid}-${randomBytes(4).toString("hex")}:`;
}

/** A plain connection for inspecting and provoking Redis from a test. */
export function adminConnection(): Redis {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  admin.on("error", () => {});
  return admin;
}

/** Delete every key under `prefix` (SCAN, never FLUSHDB: the Redis may be shared). */
export async function deleteKeys(admin: Redis, prefix: string): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  for (let round = 0; round < 10_000; round++) {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    if (keys.length > 0) deleted += await admin.del(...keys);
    cursor = next;
    if (cursor === "0") break;
  }
  return deleted;
}

/** Kill the connections whose CLIENT SETNAME name is one of `names`; returns how many were killed. */
export async function killConnections(admin: Redis, names: string[]): Promise<number> {
  const list = String(await admin.client("LIST"));
  let killed = 0;
  for (const line of list.split("\n")) {
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    if (name && id && names.includes(name)) killed += Number(await admin.client("KILL", "ID", id));
  }
  return killed;
}

/** The ids of the connections named `name`. */
export async function connectionIds(admin: Redis, name: string): Promise<string[]> {
  const list = String(await admin.client("LIST"));
  return list
    .split("\n")
    .filter((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] === name)
    .map((line) => /(?:^| )id=(\d+)/.exec(line)![1]!);
}

export { closeAgent, openStream, publishExactlyOnce, publishVia, sequence, sleep, until, warmUp, type RemoteStream, type StreamEvent } from "../../testing/src/processes.test-support.js";

/** A fixture app in its own process. */
export interface FixtureServer extends Omit<FixtureProcess, "match"> {
  url: string;
}

const fixturePath = fileURLToPath(new URL("./fixtures/server.ts", import.meta.url));
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Start src/fixtures/server.ts (or another fixture of src/fixtures/) with `node --import tsx` on a free port, sharing Redis under `prefix`. */
export async function startFixture(prefix: string, fixture = "server.ts"): Promise<FixtureServer> {
  const script = fixture === "server.ts" ? fixturePath : fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url));
  const { match, ...server } = await startFixtureProcess({ script, args: ["--port", "0"], cwd: packageDir, env: { CELLO_TEST_PREFIX: prefix, REDIS_URL } });
  return { url: match[1]!, ...server };
}
