/**
 * End to end, per template, as a user would: scaffold with the real CLI, then
 * `npm install` (from the registry and the vendored tarballs), `npm test`,
 * `npm run typecheck`, `npm start` on a free port, and read an SSE event over HTTP.
 * Slow by nature (an npm install each): generous timeouts, nothing timed.
 */
import { join } from "node:path";
import { request } from "undici";
import { afterAll, describe, expect, test } from "vitest";
import { cleanEnv, firstEventBlock, NPM, npmInstall, removeTempDirs, run, runCli, startServer, stopServer, tempDir, type StartedServer } from "./helpers.js";

afterAll(removeTempDirs);

const INSTALL_TIMEOUT_MS = 8 * 60_000;

interface Case {
  template: string;
  /** How the port is chosen: `app.run()` honours both. */
  port: { env: Record<string, string>; args: string[] };
  event: string;
  /** A JSON route and what it answers. */
  json: { path: string; check: (body: any) => void };
}

const cases: Case[] = [
  {
    template: "basic",
    port: { env: { PORT: "0" }, args: [] },
    event: "tick",
    json: { path: "/api/hello?name=e2e", check: (body) => expect(body).toEqual({ message: "Hello, e2e!" }) },
  },
  {
    template: "sse-dashboard",
    port: { env: {}, args: ["--", "--port", "0"] },
    event: "metrics",
    json: { path: "/api/metrics", check: (body) => expect(body.rssMb).toBeGreaterThan(0) },
  },
];

/** Start `npm start` in its own process group, so the whole tree (npm, sh, node) can be stopped. */
function start(appDir: string, testCase: Case): StartedServer {
  return startServer(NPM, ["start", ...testCase.port.args], { cwd: appDir, env: cleanEnv(testCase.port.env) });
}

describe.each(cases)("a generated $template app", (testCase) => {
  const cwd = tempDir("create-app-e2e-");
  const appDir = join(cwd, `e2e-${testCase.template}`);

  test("scaffolds", async () => {
    const result = await runCli([`e2e-${testCase.template}`, "--template", testCase.template, "--no-interactive"], cwd);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  }, 300_000);

  test("installs with plain npm", async () => {
    await npmInstall(appDir, [], INSTALL_TIMEOUT_MS);
  }, INSTALL_TIMEOUT_MS + 10_000);

  test("passes its own tests (npm test)", async () => {
    const result = await run(NPM, ["test"], { cwd: appDir, timeoutMs: 180_000 });
    expect(result.stdout).toMatch(/Tests +\d+ passed/);
    expect(result.stdout).not.toMatch(/failed/);
    expect(result.code).toBe(0);
  }, 190_000);

  test("type-checks (npm run typecheck)", async () => {
    const result = await run(NPM, ["run", "typecheck"], { cwd: appDir, timeoutMs: 180_000 });
    expect(result.stdout).not.toMatch(/error TS/);
    expect(result.code).toBe(0);
  }, 190_000);

  test("npm start serves JSON and SSE over HTTP", async () => {
    const server = start(appDir, testCase);
    try {
      const url = await server.url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(url).not.toMatch(/:8000$/);

      const json = await request(`${url}${testCase.json.path}`);
      expect(json.statusCode).toBe(200);
      testCase.json.check(await json.body.json());

      const sse = await firstEventBlock(`${url}/events`);
      expect(sse.status).toBe(200);
      expect(sse.contentType).toMatch(/^text\/event-stream/);
      expect(sse.block).toMatch(new RegExp(`^event: ${testCase.event}\ndata: \\{.*\\}$`));
    } finally {
      // As Ctrl+C or a service manager does, to the whole group, while the app is not
      // scheduled (a loaded machine): nothing around it may cut it off meanwhile.
      await stopServer(server, { stallAppMs: 300 });
    }
    // SIGTERM reached the app itself: it closed gracefully rather than being cut off.
    expect(server.output()).toContain("SIGTERM: closing gracefully");
  }, 120_000);
});
