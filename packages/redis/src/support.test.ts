/**
 * The rule every Redis test file follows through redis.test-support.ts: without
 * Redis, CI fails loudly and a developer's run skips with one line saying why.
 * Checked in a child process pointed at a port where nothing listens.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { freePort, importInChild } from "../../testing/src/processes.test-support.js";

const loadSupport = (env: Record<string, string>) => importInChild(fileURLToPath(new URL("..", import.meta.url)), "./src/redis.test-support.ts", env);

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
