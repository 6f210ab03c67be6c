import { execFileSync, spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const coreDir = fileURLToPath(new URL("..", import.meta.url));
const fixture = join(coreDir, "src/fixtures/decorated-app.ts");
const nodeModulesBin = join(coreDir, "node_modules/.bin");

const expected = [
  { method: "GET", path: "/users" },
  { method: "POST", path: "/users/{id}" },
  { method: "DELETE", path: "/users/{id}" },
  { method: "GET", path: "/users/bulk" },
  { method: "POST", path: "/users/bulk" },
  { method: "GET", path: "/api/ping" },
  { method: "GET", path: "/api/users" },
  { method: "POST", path: "/api/users/{id}" },
  { method: "DELETE", path: "/api/users/{id}" },
  { method: "GET", path: "/api/users/bulk" },
  { method: "POST", path: "/api/users/bulk" },
  { method: "GET", path: "/direct/{id}" },
  { method: "POST", path: "/direct" },
  { method: "PUT", path: "/direct/multi" },
  { method: "PATCH", path: "/direct/multi" },
];

describe("decorators register the same routes under vitest, tsx and tsc", () => {
  it("vitest", async () => {
    const { app } = await import("./fixtures/decorated-app.js");
    await app.ready();
    expect(app.routes()).toEqual(expected);
  });

  it("tsx", () => {
    const out = execFileSync(process.execPath, ["--import", "tsx", fixture], { cwd: coreDir, encoding: "utf8" });
    expect(JSON.parse(out)).toEqual(expected);
  });

  it("tsc (with emitDecoratorMetadata on, to prove nothing depends on design:* metadata)", () => {
    const outDir = mkdtempSync(join(coreDir, ".tsc-out-"));
    try {
      const tsconfig = join(outDir, "tsconfig.json");
      writeFileSync(
        tsconfig,
        JSON.stringify({
          extends: "../../../tsconfig.base.json",
          compilerOptions: { noEmit: false, outDir: "out", rootDir: "../src", emitDecoratorMetadata: true, sourceMap: false },
          files: [fixture],
        }),
      );
      execFileSync(join(nodeModulesBin, "tsc"), ["-p", tsconfig], { cwd: coreDir, stdio: "pipe" });
      const out = execFileSync(process.execPath, [join(outDir, "out/fixtures/decorated-app.js")], { cwd: coreDir, encoding: "utf8" });
      expect(JSON.parse(out)).toEqual(expected);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("app.run()", () => {
  function runFixture(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ["--import", "tsx", join(coreDir, "src/fixtures/run-app.ts"), ...args], {
      cwd: coreDir,
      env: { ...process.env, HOST: "", PORT: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const url = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed: ${output}`)), 15_000);
      child.stdout.on("data", () => {
        const match = /running on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, url, exited, output: () => output };
  }

  it("honours --host/--port flags over HOST/PORT env, prints the URL, and closes gracefully on SIGTERM", async () => {
    const run = runFixture(["--host", "127.0.0.1", "--port=0"], { PORT: "1" });
    const url = await run.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:1$/);
    expect((await (await fetch(url)).json()).pid).toBe(run.child.pid);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain("shutdown handler ran");
  }, 30_000);

  it("reads PORT from the environment when no flag is given", async () => {
    const free = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as AddressInfo).port;
        server.close(() => resolve(port));
      });
    });
    const run = runFixture([], { PORT: String(free) });
    expect(await run.url).toBe(`http://127.0.0.1:${free}`);
    run.child.kill("SIGINT");
    expect(await run.exited).toBe(0);
  }, 30_000);
});
