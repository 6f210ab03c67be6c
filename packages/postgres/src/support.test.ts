/**
 * The rule every PostgreSQL test file follows through postgres.test-support.ts:
 * without PostgreSQL, CI fails loudly and a developer's run skips with one line
 * saying why. Checked in a child process pointed at a port where nothing listens.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { freePort, importInChild } from "../../testing/src/processes.test-support.js";

const loadSupport = (env: Record<string, string>) => importInChild(fileURLToPath(new URL("..", import.meta.url)), "./src/postgres.test-support.ts", env);

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
