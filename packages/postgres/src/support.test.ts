/**
 * The rule every PostgreSQL test file follows through postgres.test-support.ts:
 * without PostgreSQL, CI fails loudly and a developer's run skips with one line
 * saying why. Checked in a child process pointed at a port where nothing listens.
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
      ["--import", "tsx", "--input-type=module", "-e", "await import('./src/postgres.test-support.ts')"],
      { cwd, env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("when PostgreSQL is missing", () => {
  it("fails loudly under CI=true, naming the URL", async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const run = await loadSupport({ CI: "true", DATABASE_URL: url });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(`PostgreSQL is required under CI but ${url} does not answer`);
  });

  it("elsewhere skips with one line saying why", async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
    const run = await loadSupport({ CI: "", DATABASE_URL: url });
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`^@cellojs/postgres tests skipped: PostgreSQL at ${url} does not answer \\(.+\\); start PostgreSQL or set DATABASE_URL$`))]);
  });
});
