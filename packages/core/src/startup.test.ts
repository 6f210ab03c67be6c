/**
 * What a user sees when starting an app goes wrong: a port already taken, run()
 * called twice, a @controller class never registered or registered with no routes.
 */
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "./app.js";
import { Blueprint } from "./blueprint.js";
import { controller, get } from "./decorators.js";
import { CelloError } from "./errors.js";
import { recordingLogger } from "./testing.js";

const coreDir = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Run a fixture as `npx tsx` would and resolve with its exit code and everything it printed. */
function runFixture(file: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", join(coreDir, "src/fixtures", file), ...args], {
    cwd: coreDir,
    env: { ...process.env, HOST: "", PORT: "", NODE_ENV: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** A port some other process (here: a plain TCP server) holds. */
async function takenPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("app.run() on a port in use", () => {
  it("prints one line naming the port and the --port flag, no stack trace, and exits with 1", async () => {
    const port = await takenPort();
    const { code, output } = await runFixture("run-app.ts", ["--port", String(port)]);
    expect(code).toBe(1);
    expect(output).toBe(
      `Port ${port} is already in use on 127.0.0.1: stop the other server, or start on another port with --port ${port + 1} (or PORT=${port + 1}).\n`,
    );
  }, 30_000);

  it("app.listen() rejects with CELLO_PORT_IN_USE and can try another port", async () => {
    const port = await takenPort();
    const app = new App();
    app.get("/", () => "ok");
    const err = await app.listen({ port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CelloError);
    expect([(err as CelloError).code, (err as CelloError).message]).toEqual(["CELLO_PORT_IN_USE", `Port in use: port ${port} on 127.0.0.1 is taken by another process`]);
    const { url } = await app.listen({ port: 0 });
    expect(await (await fetch(url)).text()).toBe("ok");
    await app.close();
  });
});

describe("run()/listen() called twice", () => {
  it("app.run() twice names the mistake and the address already served", async () => {
    const { code, output } = await runFixture("run-twice.ts", ["--port", "0"]);
    expect(code).toBe(1);
    const url = /running on (http:\/\/\S+)/.exec(output)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toContain(
      `CelloError: App already listening: app.run() was called twice: it already serves ${url}. Call it once per app; for a second server, create another App.`,
    );
    expect(output).not.toContain("Invalid option");
  }, 30_000);

  it("listen() after listen(), and after close(), throw CELLO_ALREADY_LISTENING", async () => {
    const app = new App();
    const first = app.listen({ port: 0 });
    await expect(app.listen({ port: 0 })).rejects.toThrow("App already listening: app.listen() was called twice: it is already starting.");
    const { url } = await first;
    await expect(app.listen({ port: 0 })).rejects.toThrow(`App already listening: app.listen() was called twice: it already serves ${url}.`);
    await expect(app.run()).rejects.toThrow(`App already listening: app.run() was called after app.listen(): it already serves ${url}.`);
    await app.close();
    await expect(app.listen({ port: 0 })).rejects.toThrow("App already listening: app.listen() after app.close(): an app listens once; create a new App to serve again");
  });
});

describe("@controller classes at startup", () => {
  it("warns about a @controller class never registered, naming it and its routes, once", async () => {
    @controller("/users")
    class ForgottenUsers {
      @get("/{id}")
      show() {}
      @get("/")
      list() {}
    }
    @controller("/orders")
    class RegisteredOrders {
      @get("/")
      list() {}
    }
    const logger = recordingLogger();
    const app = new App({ logger });
    app.register(RegisteredOrders);
    await app.ready();
    const mine = logger.warnings.filter((w) => /ForgottenUsers|RegisteredOrders/.test(w));
    expect(mine).toEqual([
      "@controller class ForgottenUsers was never passed to app.register(), so its 2 routes (GET /users/{id}, GET /users) are not served. " +
        "Add app.register(ForgottenUsers) (or blueprint.register(ForgottenUsers)) before the app starts.",
    ]);
    const again = recordingLogger();
    await new App({ logger: again }).ready();
    expect(again.warnings.filter((w) => w.includes("ForgottenUsers"))).toEqual([]);
    void ForgottenUsers;
  });

  it("says nothing about a controller registered through a blueprint or a second app", async () => {
    @controller("/a")
    class ViaSecondApp {
      @get("/")
      a() {}
    }
    @controller("/b")
    class ViaBlueprint {
      @get("/")
      b() {}
    }
    const other = new App({ logger: recordingLogger() });
    other.register(ViaSecondApp);
    const logger = recordingLogger();
    const app = new App({ logger });
    app.registerBlueprint(new Blueprint("/api").register(ViaBlueprint));
    await app.ready();
    expect(app.routes()).toEqual([{ method: "GET", path: "/api/b", options: {} }]);
    expect(logger.warnings.filter((w) => /ViaSecondApp|ViaBlueprint/.test(w))).toEqual([]);
  });

  it("warns when app.register() gets a class with no routes", () => {
    class NoRoutes {
      show() {}
    }
    const logger = recordingLogger();
    const app = new App({ logger });
    app.register(NoRoutes);
    expect(logger.warnings).toEqual([
      "app.register(NoRoutes): no method of NoRoutes carries a route decorator (@get, @post, ... from @cellojs/core), so it adds no route.",
    ]);
    // A class whose routes use @app.get(...) is registered by that app at startup: no warning.
    class ViaAppDecorator {
      @app.get("/x")
      x() {}
    }
    app.register(ViaAppDecorator);
    expect(logger.warnings).toHaveLength(1);
  });

  it("warns, once the blueprint is registered, when blueprint.register() got a class with no routes", () => {
    class Placeholder {
      show() {}
    }
    const logger = recordingLogger();
    const app = new App({ logger });
    const inner = new Blueprint("/inner").register(Placeholder);
    expect(logger.warnings).toEqual([]);
    app.registerBlueprint(new Blueprint("/outer").registerBlueprint(inner));
    expect(logger.warnings).toEqual([
      "blueprint.register(Placeholder): no method of Placeholder carries a route decorator (@get, @post, ... from @cellojs/core), so it adds no route.",
    ]);
  });
});
