/**
 * Child processes of a run: each server under test and each load generator
 * runs in its own process (pinned to its own core when possible) and is driven
 * over IPC by the runner.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { IpcReady, IpcReply } from "./ipc.js";

/** The bench package folder: children run from here so tsx finds bench/tsconfig.json (decorator settings). */
export const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));

/** How to start a child. */
export interface WorkerOptions {
  /** A short name for error messages, e.g. `"server cello"`. */
  label: string;
  /** Core to pin to with taskset; undefined runs unpinned. */
  core?: number;
  /** Run with `--expose-gc` (servers whose memory is measured). */
  exposeGc?: boolean;
  /** Raise the child's soft open-file limit to this (via `ulimit -n`), when it is above the inherited one. */
  fdLimit?: number;
  /** Extra node flags, e.g. `["--cpu-prof"]`. */
  nodeFlags?: string[];
  /** Arguments after the script. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** How long to wait for the ready message. Default 30 s. */
  readyTimeoutMs?: number;
  /** A command node runs under, e.g. `["valgrind", "--tool=callgrind"]` (src/http/instructions.ts); its process is the child. */
  wrapper?: string[];
}

/**
 * A running child: `ready` resolves with what it announced; `request` sends a
 * command and resolves with the reply.
 *
 * @example
 * const server = await Worker.start("src/http/servers/node-http.ts", { label: "server node:http", core: 0 });
 * const { port } = server.info as { port: number };
 * await server.stop();
 */
export class Worker {
  readonly info: Record<string, unknown>;
  readonly #child: ChildProcess;
  readonly #label: string;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  #nextId = 1;
  #exited = false;
  readonly #tail: () => string;
  readonly #exit: Promise<void>;

  private constructor(child: ChildProcess, label: string, info: Record<string, unknown>, stderrTail: () => string, exit: Promise<void>) {
    this.#child = child;
    this.#label = label;
    this.info = info;
    this.#tail = stderrTail;
    this.#exit = exit;
    child.on("message", (message: IpcReply) => {
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${label}: ${message.error}`));
    });
    void exit.then(() => {
      this.#exited = true;
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`${label} exited\n${stderrTail()}`));
      this.#pending.clear();
    });
  }

  /** The child's process id (node's own: taskset and the ulimit shell exec into it). */
  get pid(): number {
    return this.#child.pid!;
  }

  /** The last few KB the child wrote to stdout and stderr (for error messages). */
  get stderr(): string {
    return this.#tail();
  }

  /**
   * Start `script` (a .ts file run with `node --import tsx`) and wait for its ready message.
   * @param script - Absolute path, or relative to the bench folder.
   * @param options - See {@link WorkerOptions}.
   */
  static async start(script: string, options: WorkerOptions): Promise<Worker> {
    const nodeArgs = [...(options.exposeGc ? ["--expose-gc"] : []), ...(options.nodeFlags ?? []), "--import", "tsx", script, ...(options.args ?? [])];
    let command = process.execPath;
    let args = nodeArgs;
    if (options.wrapper !== undefined && options.wrapper.length > 0) {
      args = [...options.wrapper.slice(1), command, ...args];
      command = options.wrapper[0]!;
    }
    if (options.fdLimit !== undefined) {
      // Children inherit the runner's soft limit; raising it needs a shell's `ulimit`, which then execs node.
      args = ["-c", `ulimit -n ${options.fdLimit} 2>/dev/null; exec "$0" "$@"`, command, ...args];
      command = "sh";
    }
    if (options.core !== undefined) {
      args = ["-c", String(options.core), command, ...args];
      command = "taskset";
    }
    const child = spawn(command, args, {
      cwd: BENCH_DIR,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: { ...process.env, TSX_TSCONFIG_PATH: `${BENCH_DIR}tsconfig.json`, ...options.env },
    });
    let tail = "";
    const keepTail = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4096);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[${options.label}] ${chunk.toString()}`);
    };
    child.stdout!.on("data", keepTail);
    child.stderr!.on("data", keepTail);
    const exit = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${options.label} did not start within ${options.readyTimeoutMs ?? 30_000} ms\n${tail}`));
      }, options.readyTimeoutMs ?? 30_000);
      child.on("message", function onMessage(message: IpcReady) {
        if (message.type !== "ready") return;
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve(message.info);
      });
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`${options.label} exited before it was ready\n${tail}`));
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`${options.label} could not be started: ${err.message}`));
      });
    });
    return new Worker(child, options.label, info, () => tail, exit);
  }

  /**
   * Send a command and wait for its reply.
   * @param cmd - The command name the child handles.
   * @param payload - Extra fields of the request.
   * @param timeoutMs - Reject after this long. Default 60 s.
   */
  request<T>(cmd: string, payload: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.#label} has exited\n${this.stderr}`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.#label}: no reply to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.#child.send({ id, cmd, ...payload });
    });
  }

  /**
   * Stop the child: close IPC (it exits on disconnect), then SIGTERM, then SIGKILL.
   * @param graceMs - How long to wait for each step. Default 2000.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#exited) return;
    const waitExit = (ms: number) => Promise.race([this.#exit.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false).unref())]);
    if (this.#child.connected) this.#child.disconnect();
    if (await waitExit(graceMs)) return;
    this.#child.kill("SIGTERM");
    if (await waitExit(graceMs)) return;
    this.#child.kill("SIGKILL");
    await this.#exit;
  }
}
