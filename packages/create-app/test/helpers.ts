/**
 * Shared by the CLI tests: run the real CLI (and npm) as child processes, in temp folders.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { expect } from "vitest";
import { childEnv } from "../src/vendor.js";

/** The CLI exactly as `npx create-app` runs it. */
export const CLI = fileURLToPath(new URL("../bin/create-app.js", import.meta.url));
export const TEMPLATES = fileURLToPath(new URL("../templates/", import.meta.url));

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment children get: no variables of the test runner around us
 * (vitest's, or npm/pnpm's pointing at this package), so a nested `npm` or
 * `vitest` acts on the generated app only.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = childEnv();
  for (const key of Object.keys(env)) {
    if (key.startsWith("VITEST") || key === "NODE_ENV" || key === "TEST" || key === "NODE_OPTIONS") delete env[key];
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/** Run a command to completion (stdin closed, so never a TTY), killing it after `timeoutMs`. */
export function run(command: string, args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const { timeoutMs = 60_000, ...spawnOptions } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: cleanEnv(), ...spawnOptions, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** npm as the platform names it. */
export const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

/**
 * `npm install` in `dir` as a user types it (plus `specs`: tarballs, folders, names), and
 * expect it to succeed with no npm error and no registry request retried for want of this machine's CA (see {@link failedRequests}).
 *
 * @param dir - the project folder
 * @param specs - what to add; default: none (install what package.json lists)
 * @param timeoutMs - killed after this long; default 8 minutes
 */
export async function npmInstall(dir: string, specs: string[] = [], timeoutMs = 8 * 60_000): Promise<void> {
  // `--loglevel=http`: npm then logs each registry request, and each retry.
  const result = await run(NPM, ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=http", ...specs], { cwd: dir, timeoutMs });
  const output = result.stderr + result.stdout;
  expect(output).not.toMatch(/npm error/);
  expect(failedRequests(output), "npm retried registry requests over a certificate error: did this machine's CA or proxy settings reach it?").toEqual([]);
  expect(result.code).toBe(0);
}

/**
 * The registry requests npm had to retry, from its `http` log ("GET <url> attempt 1 failed
 * with SELF_SIGNED_CERT_IN_CHAIN"). Each retry backs off 10 s, then 60 s, and the install
 * still succeeds when the cache stands in or the package is optional: minutes lost silently,
 * as when the Node 24 run of .ci/run left npm without the CA of the TLS proxy before the registry.
 *
 * @param output - npm's stdout and stderr at `--loglevel=http` or more verbose
 */
export function failedRequests(output: string): string[] {
  // Only failures that say this machine's settings did not reach npm (a certificate it cannot
  // verify): a passing network blip (ECONNRESET, ETIMEDOUT) is retried by npm and is no defect here.
  return output.split("\n").filter((line) => / attempt \d+ failed with \S*(CERT|SSL|TLS)\S*/i.test(line));
}

/** A server started by {@link startServer}. */
export interface StartedServer {
  child: ChildProcess;
  /** Resolves once every process of the group has let go of the output pipes. */
  closed: Promise<void>;
  /** Everything printed so far, stdout and stderr interleaved. */
  output: () => string;
  /** The URL of the "Cello.ts running on <url>" line; rejects if the process exits first or prints none within 60 s. */
  url: Promise<string>;
}

/**
 * Start a server command in its own process group (so the whole tree, e.g.
 * npm, sh, tsx and node, can be stopped) and watch for its "running on" line.
 */
export function startServer(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): StartedServer {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "running on" line within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: string) => {
      output += chunk;
      const match = /Cello\.ts running on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.setEncoding("utf8").on("data", onData);
    child.stderr!.setEncoding("utf8").on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before listening:\n${output}`));
    });
  });
  return { child, closed, output: () => output, url };
}

/**
 * Stop a process group started by {@link startServer} (SIGTERM, SIGKILL after 10 s), and wait
 * until every process in it has let go of the output pipes (`close`, not the leader's own `exit`):
 * the app's last lines may be written by a grandchild that outlives npm by a few milliseconds.
 *
 * `stallAppMs`: hold the app's own process stopped (SIGSTOP) when the SIGTERM comes and for
 * that long, as a loaded machine leaves it unscheduled: whatever the processes around it do
 * meanwhile shows (the tsx CLI, for one, SIGKILLs a child that has not answered the signal
 * it relays within 60 ms). Linux only (it reads /proc); elsewhere it stops without the stall.
 */
export async function stopServer(server: StartedServer, options: { stallAppMs?: number } = {}): Promise<void> {
  const group = server.child.pid!;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-group, name);
    } catch {
      // the whole group is gone already
    }
  };
  const stalled = options.stallAppMs !== undefined && existsSync("/proc") ? appProcess(group) : undefined;
  if (stalled !== undefined) process.kill(stalled, "SIGSTOP");
  signal("SIGTERM");
  const resume = stalled === undefined ? undefined : setTimeout(() => sendTo(stalled, "SIGCONT"), options.stallAppMs);
  const timer = setTimeout(() => signal("SIGKILL"), 10_000);
  await server.closed;
  clearTimeout(timer);
  clearTimeout(resume);
  if (stalled !== undefined) sendTo(stalled, "SIGCONT");
}

function sendTo(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // gone already
  }
}

/**
 * The app's own process in process group `group` (Linux): the node process that no other node
 * process descends from (npm, sh and a wrapper such as the tsx CLI are its ancestors; what it
 * runs itself, such as esbuild's service, is not node).
 */
function appProcess(group: number): number {
  const members: Array<{ pid: number; ppid: number; command: string; program: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let command: string;
    let program: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      command = readFileSync(`/proc/${entry}/comm`, "utf8").trim();
      // The executable, not the name: Node 24 names its main thread "MainThread", and npm retitles itself.
      program = basename(readlinkSync(`/proc/${entry}/exe`));
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ")".
    const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === group) members.push({ pid: Number(entry), ppid: Number(ppid), command, program });
  }
  const parentOf = new Map(members.map((member) => [member.pid, member.ppid]));
  const nodes = members.filter((member) => member.program === "node");
  const ancestors = new Set<number>();
  for (const node of nodes) for (let pid = parentOf.get(node.pid); pid !== undefined; pid = parentOf.get(pid)) ancestors.add(pid);
  const apps = nodes.filter((node) => !ancestors.has(node.pid));
  if (apps.length !== 1) throw new Error(`expected one app process in group ${group}, found ${JSON.stringify(members)}`);
  return apps[0]!.pid;
}

/** Read `url` as an SSE stream until one whole event block has arrived; return it. */
export async function firstEventBlock(url: string): Promise<{ status: number; contentType: string; block: string }> {
  const controller = new AbortController();
  const res = await request(url, { signal: controller.signal, headers: { accept: "text/event-stream" } });
  let text = "";
  try {
    for await (const chunk of res.body) {
      text += Buffer.from(chunk).toString("utf8");
      // A block ends at a blank line; the first may be a comment-only block (": ok").
      const blocks = text.split("\n\n").slice(0, -1);
      const event = blocks.find((block) => block.split("\n").some((line) => line.startsWith("data:")));
      if (event !== undefined) return { status: res.statusCode, contentType: String(res.headers["content-type"]), block: event };
    }
    throw new Error(`stream ended without an event:\n${text}`);
  } finally {
    controller.abort();
    res.body.on("error", () => {});
  }
}

/** Run the CLI with `args` in `cwd`. */
export function runCli(args: string[], cwd: string, timeoutMs = 120_000): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { cwd, timeoutMs });
}

/** A fresh temp folder; `removeTempDirs()` deletes every one made so far. */
const made: string[] = [];
export function tempDir(prefix = "create-app-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Every file under `dir`, relative, `/`-separated, sorted (folders themselves not listed). */
export function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1).split("\\").join("/"))
    .sort();
}

/**
 * Run the CLI on a real pseudo-terminal (util-linux `script`), answering each
 * prompt when it appears: `answers` pairs the prompt text with what to type.
 * Resolves with everything the terminal showed, `\r\n` turned into `\n`.
 */
export function runCliInTerminal(args: string[], cwd: string, answers: Array<[prompt: string, answer: string]>, timeoutMs = 120_000): Promise<RunResult> {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd, env: cleanEnv({ TERM: "dumb" }), stdio: ["pipe", "pipe", "pipe"] });
    let screen = "";
    let stderr = "";
    let next = 0;
    let searchFrom = 0;
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      screen += chunk.replace(/\r\n/g, "\n");
      while (next < answers.length) {
        const [prompt, answer] = answers[next]!;
        const at = screen.indexOf(prompt, searchFrom);
        if (at === -1) break;
        searchFrom = at + prompt.length;
        next++;
        child.stdin!.write(`${answer}\r`);
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: screen, stderr });
    });
  });
}
