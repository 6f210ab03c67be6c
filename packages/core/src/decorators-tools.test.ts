import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const coreDir = fileURLToPath(new URL("..", import.meta.url));
const fixture = join(coreDir, "src/fixtures/decorated-app.ts");
const nodeModulesBin = join(coreDir, "node_modules/.bin");

const expected = {
  routes: [
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
    { method: "GET", path: "/stateful" },
    { method: "GET", path: "/static" },
  ],
  bodies: {
    "/direct/7": "7",
    "/users": "hello from a controller",
    "/stateful": "hello from an instance",
    "/static": "hello from a static method",
  },
};

type Semantics = "legacy" | "standard";
const SEMANTICS: Semantics[] = ["legacy", "standard"];
/** A tsconfig for one decorator semantics, in a scratch folder under the package (removed by the caller). */
function scratchConfig(semantics: Semantics, compilerOptions: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): { dir: string; tsconfig: string } {
  const dir = mkdtempSync(join(coreDir, ".tsc-out-"));
  const tsconfig = join(dir, "tsconfig.json");
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: "../../../tsconfig.base.json",
      // Standard decorators are TypeScript's default: no experimentalDecorators. Legacy ones also
      // get emitDecoratorMetadata, to prove nothing depends on design:* metadata.
      compilerOptions: semantics === "legacy" ? { experimentalDecorators: true, emitDecoratorMetadata: true, ...compilerOptions } : { experimentalDecorators: false, ...compilerOptions },
      ...extra,
    }),
  );
  return { dir, tsconfig };
}

describe("decorators register the same routes, with the same `this`, under vitest, tsx and tsc, in both semantics", () => {
  // vitest 4 + vite 8 (oxc) leaves standard decorators untransformed (SyntaxError), so vitest
  // runs the legacy ones only; standard semantics run through spawned tsx and tsc below.
  it("vitest (legacy)", async () => {
    const { app, answers, semantics } = await import("./fixtures/decorated-app.js");
    const bodies = await answers();
    expect({ semantics, routes: app.routes().map(({ method, path }) => ({ method, path })), bodies }).toEqual({ semantics: "legacy", ...expected });
  });

  it.each(SEMANTICS)("tsx, %s decorators", (semantics) => {
    // tsx reads decorator settings from one tsconfig only: the current folder's, or TSX_TSCONFIG_PATH.
    // tsx applies a tsconfig only to the files it includes.
    const { dir, tsconfig } = scratchConfig(semantics, {}, { include: ["../src/**/*.ts"] });
    try {
      const out = execFileSync(process.execPath, ["--import", "tsx", fixture], { cwd: coreDir, encoding: "utf8", env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig } });
      expect(JSON.parse(out)).toEqual({ semantics, ...expected });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  const compilers = [
    { name: "TypeScript 5", tsc: [join(nodeModulesBin, "tsc")] },
    { name: "TypeScript 7", tsc: [process.execPath, join(coreDir, "../../node_modules/typescript7/bin/tsc")] },
  ];
  it.each(compilers.flatMap((compiler) => SEMANTICS.map((semantics) => ({ ...compiler, semantics }))))("tsc ($name), $semantics decorators, run by node", ({ tsc, semantics }) => {
    const { dir, tsconfig } = scratchConfig(semantics, { noEmit: false, outDir: "out", rootDir: "../src", sourceMap: false }, { files: [fixture] });
    try {
      const [command, ...args] = tsc;
      const compiled = spawnSync(command!, [...args, "-p", tsconfig], { cwd: coreDir, encoding: "utf8" });
      expect(compiled.stdout + compiled.stderr).toBe("");
      expect(compiled.status).toBe(0);
      const out = execFileSync(process.execPath, [join(dir, "out/fixtures/decorated-app.js")], { cwd: coreDir, encoding: "utf8" });
      expect(JSON.parse(out)).toEqual({ semantics, ...expected });
    } finally {
      rmSync(dir, { recursive: true, force: true });
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
