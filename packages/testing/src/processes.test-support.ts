/**
 * Test support shared by the packages whose tests run apps in other processes
 * (@cellojs/redis, @cellojs/postgres, @cellojs/mcp): start a fixture process and
 * wait for its "running on" line, read an SSE stream over a real socket, publish
 * through a fixture's /publish (each payload exactly once, across outages), wait
 * until every subscriber is live, poll until a condition holds, import a module in
 * a child process, find a port where nothing listens. Not part of the
 * package's API: imported by relative path from those packages' *.test-support.ts
 * files, and kept out of dist/ (tsconfig.build.json).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createParser } from "@cellojs/client";
import { Agent, request } from "undici";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Poll `ready` every 10 ms until it is true, or fail after `timeoutMs` saying `what`. */
export async function until(ready: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** An app in its own process, once it said where it listens. */
export interface FixtureProcess {
  /** The match of the `ready` pattern on its stdout. */
  match: RegExpExecArray;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout (its URL, the broker's "is back" lines). */
  stdout: () => string;
  /** Everything the process wrote to stderr (the broker's outage warnings). */
  stderr: () => string;
  /** Signal the process (SIGTERM by default) unless it already exited, and wait for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** How to start a fixture process. */
export interface FixtureProcessOptions {
  /** The fixture script, run with `node --import tsx`. */
  script: string;
  /** Arguments after the script. */
  args?: string[];
  /** Working directory (the package, so `tsx` and its dependencies resolve). */
  cwd: string;
  /** Added to this process's environment. */
  env: Record<string, string | undefined>;
  /** The stdout line that says it is ready (default: `running on <url>`, the URL in group 1). */
  ready?: RegExp;
  /** The process's name in errors. Default `fixture`. */
  name?: string;
}

/** Start a fixture script with `node --import tsx` and resolve once its stdout matches `ready` (20 s at most; an early exit rejects). */
export function startFixtureProcess(options: FixtureProcessOptions): Promise<FixtureProcess> {
  const { ready = /running on (http:\/\/\S+)/, name = "fixture" } = options;
  const child = spawn(process.execPath, ["--import", "tsx", options.script, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr!.on("data", (chunk) => (err += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 20 s\nstdout: ${out}\nstderr: ${err}`)), 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}\nstdout: ${out}\nstderr: ${err}`));
    });
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = ready.exec(out);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        match,
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
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ended: boolean;
  close(): void;
}

const agent = new Agent({ connections: 64, pipelining: 0 });

/** A request other than a plain GET: a POST that answers with a stream, extra headers. */
export interface StreamRequest {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
}

/** Open `url` as an event stream (sending `Last-Event-ID` when given) and collect its events as they come. */
export async function openStream(url: string, lastEventId?: string, init: StreamRequest = {}): Promise<RemoteStream> {
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: "text/event-stream", ...init.headers };
  if (lastEventId !== undefined) headers["last-event-id"] = lastEventId;
  const res = await request(url, { method: init.method ?? "GET", headers, body: init.body, dispatcher: agent, signal: controller.signal });
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
    headers: res.headers,
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

/** `n1`..`nN`: what a test publishes, in order. */
export const sequence = (count: number, tag: string) => Array.from({ length: count }, (_, i) => `${tag}${i + 1}`);

/**
 * Publish `payloads` on `base` one by one, at a steady pace. A publish the
 * broker rejected is retried after a short wait; when it may have been stored
 * before the connection failed, `stored` is asked first, so each payload is
 * stored exactly once.
 */
export async function publishExactlyOnce(base: string, payloads: string[], stored: (payload: string) => Promise<boolean>, pauseEvery = 10): Promise<{ retries: number }> {
  let retries = 0;
  for (let i = 0; i < payloads.length; i++) {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 200) throw new Error(`publishing ${payloads[i]} kept failing`);
      const result = await publishVia(base, payloads[i]!);
      if ("id" in result) break;
      retries++;
      if (result.mayHaveApplied && (await stored(payloads[i]!))) break;
      await sleep(20);
    }
    if (i % pauseEvery === pauseEvery - 1) await sleep(2);
  }
  return { retries };
}

/**
 * A subscription starts once its instance has read where the channel ends, one
 * broker round trip after it opened. Publish `label` on `base` until every
 * subscriber has an event: from then on all of them are live.
 */
export async function warmUp(base: string, subscribers: Array<{ events: StreamEvent[] }>, label: string): Promise<void> {
  await until(async () => {
    await publishVia(base, label);
    return subscribers.every((s) => s.events.some((e) => e.data === label));
  }, `a ${label} event on every subscriber`);
}

/** Close the shared HTTP agent (after all tests of a file). */
export function closeAgent(): Promise<void> {
  return agent.close();
}

/** A loopback port nothing listens on: bound, then closed. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Import `module` (a path relative to `cwd`) in a child `node --import tsx` with `env` added: its exit code and output. */
export function importInChild(cwd: string, module: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", `await import(${JSON.stringify(module)})`],
      { cwd, env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}
