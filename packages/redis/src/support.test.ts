/**
 * The rule every Redis test file follows through redis.test-support.ts: without
 * Redis, CI fails loudly and a developer's run skips with one line saying why.
 * Checked in a child process pointed at a port where nothing listens.
 */
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function loadSupport(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const cwd = fileURLToPath(new URL("..", import.meta.url));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", "await import('./src/redis.test-support.ts')"],
      { cwd, env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("when Redis is missing", () => {
  it("fails loudly under CI=true, naming the URL", async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const run = await loadSupport({ CI: "true", REDIS_URL: url });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`Redis is required under CI but ${url} does not answer`);
  });

  it("elsewhere skips with one line saying why", async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const run = await loadSupport({ CI: "", REDIS_URL: url });
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^@cellojs/redis tests skipped: Redis at ${url} does not answer \\(.+\\); start redis-server or set REDIS_URL$`))]);
  });
});
