/**
 * `--reload`: restart the app when its source changes, for development. This
 * process re-runs the same command under Node's own watch mode (`node --watch`,
 * stable since Node 20.13 and 22), which restarts the script when any file it
 * imported changes, sending it SIGTERM first so it closes gracefully. Node's
 * watcher knows the exact module graph, needs no dependency and no globs;
 * chokidar would have to guess which files matter.
 */
import { spawn } from "node:child_process";

/** Set in the environment of the process the watcher runs, so it serves instead of watching again. */
const RELOAD_ENV = "CELLO_RELOAD";

/** True when `--reload` asks for watch mode and this process is not the one being watched. */
export function wantsReload(argv: readonly string[]): boolean {
  return argv.includes("--reload") && process.env[RELOAD_ENV] !== "1";
}

/**
 * Run this same command under `node --watch` and pass it SIGINT/SIGTERM; exit
 * with its exit code. The returned promise never settles: this process only
 * supervises. The watcher runs in a process group of its own, so a Ctrl-C at the
 * terminal reaches the app once (through this process and the watcher), not
 * twice (a second signal means "stop now" to `app.run()`).
 */
export function superviseReload(): Promise<never> {
  const args = [...process.execArgv, "--watch", "--watch-preserve-output", process.argv[1]!, ...process.argv.slice(2)];
  const watcher = spawn(process.execPath, args, { stdio: "inherit", env: { ...process.env, [RELOAD_ENV]: "1" }, detached: true });
  const forward = (signal: NodeJS.Signals) => watcher.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  // Should this process go away some other way, do not leave the watcher behind.
  process.on("exit", () => watcher.kill("SIGTERM"));
  watcher.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  return new Promise<never>(() => {});
}
