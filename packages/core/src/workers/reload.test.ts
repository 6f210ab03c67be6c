/**
 * `--reload` over a real socket: an app in a temporary directory, started with --reload,
 * answers from a module it imports; editing that module restarts it and it answers anew.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const coreDir = join(dirname(fileURLToPath(import.meta.url)), "../..");
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function answer(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    return await res.text();
  } catch {
    return undefined; // restarting
  }
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("--reload", () => {
  it("restarts the app when a file it imports changes, and stops with it on SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cello-reload-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const core = pathToFileURL(join(coreDir, "src/index.ts")).href;
    writeFileSync(join(dir, "package.json"), `{ "type": "module" }\n`);
    writeFileSync(join(dir, "message.ts"), `export const message = "first";\n`);
    writeFileSync(
      join(dir, "app.ts"),
      `import { App } from ${JSON.stringify(core)};\nimport { message } from "./message.ts";\n` +
        `const app = new App();\napp.get("/", () => message);\n` +
        `app.onEvent("shutdown", () => console.log("closed " + message));\nawait app.run();\n`,
    );
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(dir, "app.ts"), "--reload", "--port", String(port)], {
      cwd: coreDir, // where tsx resolves
      env: { ...process.env, HOST: "", PORT: "", NODE_ENV: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });

    await until("the first answer", async () => (await answer(port)) === "first");
    writeFileSync(join(dir, "message.ts"), `export const message = "second";\n`);
    await until("the answer after the edit", async () => (await answer(port)) === "second");
    // The old process closed gracefully (its shutdown handler ran) before the new one served.
    expect(output).toContain("closed first");

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain("closed second");
    expect(output.match(/Cello\.ts running on/g)).toHaveLength(2);
  }, 90_000);
});
