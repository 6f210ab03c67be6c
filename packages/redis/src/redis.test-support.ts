/**
 * Shared by the Redis tests: is Redis there (and what to do when it is not),
 * a key prefix per run, cleanup of exactly our keys, fixture processes, and a
 * small SSE reader for servers in other processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { createParser } from "@cellojs/client";
import { Redis } from "ioredis";
import { Agent, request } from "undici";

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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `ready` every 10 ms until it is true, or fail after `timeoutMs` saying `what`. */
export async function until(ready: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A fixture app in its own process. */
export interface FixtureServer {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout (its URL, the broker's "is back" lines). */
  stdout: () => string;
  /** Everything the process wrote to stderr (the broker's outage warnings). */
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const fixturePath = fileURLToPath(new URL("./fixtures/server.ts", import.meta.url));
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Start src/fixtures/server.ts (or another fixture of src/fixtures/) with `node --import tsx` on a free port, sharing Redis under `prefix`. */
export function startFixture(prefix: string, fixture = "server.ts"): Promise<FixtureServer> {
  const path = fixture === "server.ts" ? fixturePath : fileURLToPath(new URL(`./fixtures/${fixture}`, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", path, "--port", "0"], {
    cwd: packageDir,
    env: { ...process.env, CELLO_TEST_PREFIX: prefix, REDIS_URL },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (chunk) => (err += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not start in 20 s\nstdout: ${out}\nstderr: ${err}`)), 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited with ${code}\nstdout: ${out}\nstderr: ${err}`));
    });
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = /running on (http:\/\/\S+)/.exec(out);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: match[1]!,
        pid: child.pid!,
        child,
        stdout: () => out,
        stderr: () => err,
        async stop(signal = "SIGTERM") {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
  });
}

/** One received event. */
export interface StreamEvent {
  id: string;
  event: string;
  data: string;
}

/** An SSE connection to a server in another process. */
export interface RemoteStream {
  readonly events: StreamEvent[];
  readonly status: number;
  readonly ended: boolean;
  close(): void;
}

const agent = new Agent({ connections: 64, pipelining: 0 });

/** Open `url` as an event stream (sending `Last-Event-ID` when given) and collect its events as they come. */
export async function openStream(url: string, lastEventId?: string): Promise<RemoteStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const res = await request(url, { headers, dispatcher: agent, signal: controller.signal });
  const events: StreamEvent[] = [];
  let ended = false;
  const parser = createParser({ onEvent: (e) => events.push({ id: e.id, event: e.event, data: e.data }) });
  void (async () => {
    try {
      for await (const chunk of res.body) parser.feed(chunk as Uint8Array);
    } catch {
      // aborted by close(), or the server went away
    }
    ended = true;
  })();
  return {
    events,
    status: res.statusCode,
    get ended() {
      return ended;
    },
    close() {
      controller.abort();
      res.body.destroy();
    },
  };
}

/** POST `data` to a fixture's /publish: the id, or the 503 body when the broker was unavailable. */
export async function publishVia(base: string, data: string): Promise<{ id: string } | { unavailable: string; mayHaveApplied: boolean }> {
  const res = await request(`${base}/publish`, { method: "POST", body: data, dispatcher: agent });
  const body = (await res.body.json()) as { id?: string; error?: string; mayHaveApplied?: boolean };
  if (res.statusCode === 200) return { id: body.id! };
  if (res.statusCode === 503) return { unavailable: body.error!, mayHaveApplied: body.mayHaveApplied! };
  throw new Error(`publish answered ${res.statusCode}: ${JSON.stringify(body)}`);
}

/** Close the shared HTTP agent (after all tests of a file). */
export function closeAgent(): Promise<void> {
  return agent.close();
}
