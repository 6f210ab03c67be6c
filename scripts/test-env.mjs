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

function redisTarget() {
  const url = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  return { host: url.hostname || "127.0.0.1", port: Number(url.port || 6379), custom: process.env.REDIS_URL !== undefined };
}

function ping({ host, port }) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => done(data.toString().startsWith("+PONG")));
  });
}

const target = redisTarget();
if (!(await ping(target))) {
  const local = target.host === "127.0.0.1" || target.host === "localhost";
  if (local && !target.custom && spawnSync("which", ["redis-server"]).status === 0) {
    console.log("test-env: Redis is not answering on 127.0.0.1:6379; starting redis-server");
    execFileSync("redis-server", ["--daemonize", "yes", "--bind", "127.0.0.1", "--port", String(target.port), "--save", "", "--appendonly", "no"]);
    for (let i = 0; i < 50 && !(await ping(target)); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await ping(target))) problems.push(`Redis is not reachable at ${target.host}:${target.port} (set REDIS_URL or install redis-server)`);
}

// PostgreSQL: a TCP connect, then the server's answer to an SSLRequest (one byte, "S" or
// "N"): enough to know a PostgreSQL listens, without a driver in this script.
function postgresTarget() {
  const url = new URL(process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test");
  return { host: url.hostname || "127.0.0.1", port: Number(url.port || 5432), custom: process.env.DATABASE_URL !== undefined };
}

function pingPostgres({ host, port }) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    // SSLRequest: length 8, code 80877103.
    socket.once("connect", () => socket.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])));
    socket.once("data", (data) => done(data[0] === 0x53 || data[0] === 0x4e));
  });
}

const postgres = postgresTarget();
if (!(await pingPostgres(postgres))) {
  const local = postgres.host === "127.0.0.1" || postgres.host === "localhost";
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (local && !postgres.custom && root && spawnSync("which", ["pg_ctlcluster"]).status === 0 && existsSync("/etc/postgresql")) {
    for (const version of readdirSync("/etc/postgresql")) {
      console.log(`test-env: PostgreSQL is not answering on 127.0.0.1:${postgres.port}; starting cluster ${version}/main`);
      spawnSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"], { stdio: "inherit" });
    }
    for (let i = 0; i < 100 && !(await pingPostgres(postgres)); i++) await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await pingPostgres(postgres))) problems.push(`PostgreSQL is not reachable at ${postgres.host}:${postgres.port} (set DATABASE_URL, or start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)`);
}

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(chromium)) {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
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
