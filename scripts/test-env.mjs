#!/usr/bin/env node
// Makes sure the real services the test suite talks to are there before it runs:
// Redis on 127.0.0.1:6379 (or REDIS_URL), PostgreSQL on 127.0.0.1:5432 (or
// DATABASE_URL) and Debian's Chromium for browser tests.
// Under CI (CI=true) anything missing fails the run loudly; elsewhere it says
// once, on one line, what will be skipped and why.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { connect } from "node:net";

const ci = process.env.CI === "true" || process.env.CI === "1";
const problems = [];

// Where a service is: its URL variable, else the default local one.
function serviceTarget(variable, fallback, defaultPort) {
  const url = new URL(process.env[variable] ?? fallback);
  return { host: url.hostname || "127.0.0.1", port: Number(url.port || defaultPort), custom: process.env[variable] !== undefined };
}

// Connect, send `hello`, and resolve whether the first reply is the service's.
function probe({ host, port }, hello, answered) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    // A server that hangs up without answering (another service on that port) is not ours.
    socket.once("close", () => done(false));
    socket.once("connect", () => socket.write(hello));
    socket.once("data", (data) => done(answered(data)));
  });
}

// When the service does not answer and it is the default local one this script
// may start, start it and wait up to `waits` x 100 ms; still silent: a problem.
async function ensureService({ target, ping, canStart, start, waits, problem }) {
  if (await ping(target)) return;
  const local = target.host === "127.0.0.1" || target.host === "localhost";
  if (local && !target.custom && canStart()) {
    start();
    for (let i = 0; i < waits && !(await ping(target)); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await ping(target))) problems.push(problem);
}

const root = typeof process.getuid === "function" && process.getuid() === 0;

const redis = serviceTarget("REDIS_URL", "redis://127.0.0.1:6379", 6379);
await ensureService({
  target: redis,
  ping: (target) => probe(target, "PING\r\n", (data) => data.toString().startsWith("+PONG")),
  canStart: () => spawnSync("which", ["redis-server"]).status === 0,
  start: () => {
    console.log("test-env: Redis is not answering on 127.0.0.1:6379; starting redis-server");
    execFileSync("redis-server", ["--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(redis.port), "--save", "", "--appendonly", "no"]);
  },
  waits: 50,
  problem: `Redis is not reachable at ${redis.host}:${redis.port} (set REDIS_URL or install redis-server)`,
});

// PostgreSQL: a TCP connect, then the server's answer to an SSLRequest (one byte, "S" or
// "N"): enough to know a PostgreSQL listens, without a driver in this script.
const postgres = serviceTarget("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test", 5432);
await ensureService({
  target: postgres,
  // SSLRequest: length 8, code 80877103.
  ping: (target) => probe(target, Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]), (data) => data[0] === 0x53 || data[0] === 0x4e),
  canStart: () => root && spawnSync("which", ["pg_ctlcluster"]).status === 0 && existsSync("/etc/postgresql"),
  start: () => {
    for (const version of readdirSync("/etc/postgresql")) {
      console.log(`test-env: PostgreSQL is not answering on 127.0.0.1:${postgres.port}; starting cluster ${version}/main`);
      spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { stdio: "inherit" });
    }
  },
  waits: 100,
  problem: `PostgreSQL is not reachable at ${postgres.host}:${postgres.port} (set DATABASE_URL, or start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)`,
});

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(chromium)) {
  if (root && spawnSync("which", ["apt-get"]).status === 0) {
    console.log("test-env: installing Debian's chromium for the browser tests (apt-get)");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env });
  }
  if (!existsSync(chromium)) problems.push(`Chromium is missing at ${chromium} (apt-get install chromium)`);
}

if (problems.length > 0) {
  if (ci) {
    for (const problem of problems) console.error(`test-env: FAIL: ${problem}`);
    process.exit(1);
  }
  for (const problem of problems) console.log(`test-env: ${problem}; the tests that need it will be skipped`);
}
