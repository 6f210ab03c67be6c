/**
 * End to end, as a stranger would start: an empty folder, `npm init -y`,
 * `tsc --init`, and the packed packages installed with plain npm. Nothing of
 * this repository's settings is copied. The stranger's app (stranger-app/:
 * `@app.get` methods, an SSE route, a controller) must then type-check with
 * the unmodified `tsc --init` config of TypeScript 5.9 and of TypeScript 7, run
 * under `node` (after tsc) and under `tsx`, under standard decorators (the
 * default) and legacy ones, and stream events to a real client.
 *
 * The compilers and tsx are this workspace's own copies, run by path: they act
 * on the project they are pointed at, as if installed in it, without a second
 * download of TypeScript.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { cleanEnv, firstEventBlock, NPM, npmInstall, removeTempDirs, run, startServer, stopServer, tempDir } from "../../packages/create-app/test/helpers.js";
import { ROOT } from "./pack.js";

afterAll(removeTempDirs);

const INSTALL_TIMEOUT_MS = 5 * 60_000;
const APP_SOURCES = fileURLToPath(new URL("./stranger-app/", import.meta.url));
const requireFromRoot = createRequire(join(ROOT, "package.json"));
const TSC = { "TypeScript 5.9": join(ROOT, "node_modules/typescript/bin/tsc"), "TypeScript 7": join(ROOT, "node_modules/typescript7/bin/tsc") };
const TSX = join(requireFromRoot.resolve("tsx/package.json"), "..", "dist/cli.mjs");
const libraries = inject("packed").filter((pkg) => pkg.name !== "@cellojs/create-app");

type Semantics = "standard" | "legacy";

/** `npm init -y`, ESM (for top-level await), and `tsc --init` of TypeScript 5.9 in `dir`. */
async function freshProject(dir: string): Promise<void> {
  for (const [command, args] of [
    [NPM, ["init", "-y"]],
    // npm 11 writes "type": "commonjs", where `import` cannot even be written under
    // tsc --init's verbatimModuleSyntax: any ESM project sets this, whatever it installs.
    [NPM, ["pkg", "set", "type=module"]],
    [process.execPath, [TSC["TypeScript 5.9"], "--init"]],
  ] as const) {
    const result = await run(command, [...args], { cwd: dir });
    expect(result.code, `${command} ${args.join(" ")}: ${result.stdout}${result.stderr}`).toBe(0);
  }
}

function copyApp(dir: string, files: string[]): void {
  for (const file of files) copyFileSync(join(APP_SOURCES, file), join(dir, file));
}

/**
 * The one setting a tsc-compiled app run by node needs, given on the command line so
 * the config stays as `tsc --init` wrote it. Legacy decorators are always compiled away;
 * standard ones only for a target below ESNext, and tsc --init's target is ESNext,
 * while no Node release runs decorators natively yet (the test below shows it).
 */
const RUNNABLE: Record<Semantics, string[]> = { standard: ["--target", "es2022"], legacy: ["--experimentalDecorators"] };

/** `tsc -p <config>` with `flags`; expect no diagnostic. */
async function tsc(dir: string, compiler: string, config: string, flags: string[]): Promise<void> {
  const result = await run(process.execPath, [compiler, "-p", config, ...flags], { cwd: dir, timeoutMs: 120_000 });
  expect(result.stdout + result.stderr).toBe("");
  expect(result.code).toBe(0);
}

/** Start the server, check what it says and serves (JSON, controller, SSE), stop it gracefully. */
async function serveAndStream(dir: string, args: string[], semantics: Semantics, env: NodeJS.ProcessEnv = cleanEnv()): Promise<void> {
  const server = startServer(process.execPath, [...args, "--port", "0"], { cwd: dir, env });
  try {
    const url = await server.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.output()).toContain(`decorators: ${semantics}`);

    const hello = await request(`${url}/hello/stranger`);
    expect(hello.statusCode).toBe(200);
    expect(await hello.body.json()).toEqual({ message: "Hello, stranger!" });
    const ping = await request(`${url}/api/ping`);
    expect(await ping.body.json()).toEqual({ pong: true });

    const sse = await firstEventBlock(`${url}/events`);
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    expect(sse.block).toBe('event: tick\ndata: {"tick":1}');
  } finally {
    await stopServer(server);
  }
  expect(server.output()).toContain("SIGTERM: closing gracefully");
}

/** What check.ts prints: @cellojs/testing and @cellojs/client against the app. */
const CHECKED = {
  hello: { message: "Hello, stranger!" },
  ping: { pong: true },
  testing: ['tick {"tick":1}', 'tick {"tick":2}'],
  client: ['tick {"tick":1}', 'tick {"tick":2}'],
};

async function runCheck(dir: string, args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<void> {
  const result = await run(process.execPath, args, { cwd: dir, env, timeoutMs: 60_000 });
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!)).toEqual(CHECKED);
}

describe("a fresh project (npm init -y, tsc --init) with the packed packages installed by npm", () => {
  const project = tempDir("cellojs-stranger-");

  beforeAll(async () => {
    await freshProject(project);
    // TypeScript 7's own `tsc --init`, kept beside it as tsconfig.ts7.json.
    const ts7Init = tempDir("cellojs-ts7-init-");
    const init7 = await run(process.execPath, [TSC["TypeScript 7"], "--init"], { cwd: ts7Init });
    expect(init7.code, init7.stdout + init7.stderr).toBe(0);
    copyFileSync(join(ts7Init, "tsconfig.json"), join(project, "tsconfig.ts7.json"));
    // For tsx with legacy decorators: tsx takes decorator settings from one tsconfig.
    writeFileSync(join(project, "tsconfig.legacy.json"), JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { experimentalDecorators: true } }));
    copyApp(project, ["app.ts", "server.ts", "check.ts"]);
    await npmInstall(project, libraries.map((pkg) => pkg.tarball), INSTALL_TIMEOUT_MS);
  }, INSTALL_TIMEOUT_MS + 60_000);

  test("both TypeScript versions' tsc --init write the same compiler options (module nodenext, no decorator setting)", () => {
    const options = (file: string) => readFileSync(join(project, file), "utf8").split("\n").filter((line) => !/^\s*(\/\/.*)?$/.test(line)).join("\n");
    expect(options("tsconfig.ts7.json")).toBe(options("tsconfig.json"));
    expect(options("tsconfig.json")).toMatch(/"module": "nodenext"/);
    expect(options("tsconfig.json")).not.toMatch(/Decorators/);
  });

  test("npm installed the packages from the tarballs, with their dependencies from the registry", () => {
    for (const pkg of libraries) {
      const installed = JSON.parse(readFileSync(join(project, "node_modules", pkg.name, "package.json"), "utf8"));
      expect(installed.version).toBe(pkg.version);
      expect(installed.exports["."].default).toBe("./dist/index.js");
    }
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies).sort()).toEqual(libraries.map((pkg) => pkg.name).sort());
  });

  test("npx cello-client generate writes a typed client module that both compilers check, wrong event names included", async () => {
    const document = join(ROOT, "packages/client/src/fixtures/notifications.openapi.json");
    const generated = await run(NPM, ["exec", "--no", "--", "cello-client", "generate", document, "--out", "src-gen/api.gen.ts"], { cwd: project, env: cleanEnv(), timeoutMs: 60_000 });
    expect(generated.code, generated.stdout + generated.stderr).toBe(0);
    expect(generated.stderr).toContain("cello-client: wrote src-gen/api.gen.ts\n");
    writeFileSync(
      join(project, "src-gen/typed.ts"),
      [
        'import { createClient, HttpResponseError } from "@cellojs/client";',
        'import { generateClientTypes } from "@cellojs/client/generate";',
        'import { type Api, streams } from "./api.gen.js";',
        "",
        "export const client = createClient<Api>(\"http://127.0.0.1:8000\", { streams });",
        "export async function notices(): Promise<string[]> {",
        "  const texts: string[] = [];",
        '  for await (const event of client.stream("/notifications", { query: { topic: "news" } })) {',
        '    if (event.event === "notice") texts.push(event.data.text);',
        '    // @ts-expect-error: no such event',
        '    else if (event.event === "notices") break;',
        "  }",
        '  const user = await client.get("/users/{id}", { params: { id: 1 }, headers: { "x-tenant": "t" } }).catch((error: unknown) => (error instanceof HttpResponseError ? undefined : Promise.reject(error)));',
        "  return [...texts, user?.name ?? \"\", typeof generateClientTypes];",
        "}",
        "",
      ].join("\n"),
    );
    await tsc(project, TSC["TypeScript 5.9"], "tsconfig.json", ["--noEmit"]);
    await tsc(project, TSC["TypeScript 7"], "tsconfig.ts7.json", ["--noEmit"]);
  });

  test.each(["TypeScript 5.9", "TypeScript 7"] as const)("%s type-checks it with its tsc --init config, unmodified", async (typescript) => {
    await tsc(project, TSC[typescript], typescript === "TypeScript 7" ? "tsconfig.ts7.json" : "tsconfig.json", ["--noEmit"]);
  });

  test("the installed declarations type-check on their own, with skipLibCheck off (nothing stripped that a public type names)", async () => {
    // tsc --init skips checking .d.ts files, which would hide a dangling name in them. @types/node
    // comes from this workspace: the packages' declarations name node:http types, as any Node app has them.
    writeFileSync(
      join(project, "tsconfig.declarations.json"),
      JSON.stringify({
        compilerOptions: { module: "nodenext", target: "es2022", strict: true, skipLibCheck: false, noEmit: true, typeRoots: [join(ROOT, "node_modules/@types")], types: ["node"] },
        files: libraries.map((pkg) => `node_modules/${pkg.name}/dist/index.d.ts`),
      }),
    );
    await tsc(project, TSC["TypeScript 5.9"], "tsconfig.declarations.json", []);
  });

  const compilations = (["TypeScript 5.9", "TypeScript 7"] as const).flatMap((typescript) =>
    (["standard", "legacy"] as const).map((semantics) => ({ typescript, semantics, config: typescript === "TypeScript 7" ? "tsconfig.ts7.json" : "tsconfig.json" })),
  );

  test.each(compilations)("$typescript compiles it ($semantics decorators); node runs the output and streams", async ({ typescript, semantics, config }) => {
    const outDir = `out/${typescript.replace(/\W+/g, "")}-${semantics}`;
    await tsc(project, TSC[typescript], config, ["--outDir", outDir, ...RUNNABLE[semantics]]);
    await serveAndStream(project, [join(outDir, "server.js")], semantics);
    await runCheck(project, [join(outDir, "check.js")]);
  });

  test("with tsc --init's target (ESNext) tsc keeps standard decorators as written, which this Node cannot run yet", async () => {
    await tsc(project, TSC["TypeScript 5.9"], "tsconfig.json", ["--outDir", "out/esnext"]);
    expect(readFileSync(join(project, "out/esnext/app.js"), "utf8")).toContain('@app.get("/hello/{name}")');
    const result = await run(process.execPath, [join("out/esnext", "server.js"), "--port", "0"], { cwd: project, timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("SyntaxError: Invalid or unexpected token");
  });

  test.each(["standard", "legacy"] as const)("tsx runs it (%s decorators) and streams", async (semantics) => {
    // tsx reads the tsconfig.json of the current folder; TSX_TSCONFIG_PATH names another.
    const env = semantics === "legacy" ? cleanEnv({ TSX_TSCONFIG_PATH: "tsconfig.legacy.json" }) : cleanEnv();
    await serveAndStream(project, [TSX, "server.ts"], semantics, env);
    await runCheck(project, [TSX, "check.ts"], env);
  });

  test("CommonJS code can require() the packages (require(esm), Node 20.19 and later)", async () => {
    const script = libraries.map((pkg) => `console.log(${JSON.stringify(pkg.name)}, Object.keys(require(${JSON.stringify(pkg.name)})).length > 0);`).join("\n");
    const result = await run(process.execPath, ["--input-type=commonjs", "-e", script], { cwd: project });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n").sort()).toEqual(libraries.map((pkg) => `${pkg.name} true`).sort());
  });
});

describe("a folder dependency on a built package of this repository (file:, a git checkout, a monorepo link)", () => {
  const project = tempDir("cellojs-folder-dep-");

  beforeAll(async () => {
    // The global setup's `pnpm pack` built packages/core/dist. npm links the folder itself.
    await freshProject(project);
    copyApp(project, ["app.ts", "server.ts"]);
    await npmInstall(project, [join(ROOT, "packages", "core")], INSTALL_TIMEOUT_MS);
  }, INSTALL_TIMEOUT_MS + 60_000);

  test("resolves to the built dist/, never to the TypeScript sources, so tsc --init's config type-checks the app; node runs it", async () => {
    // Before: the folder's exports pointed at src/index.ts, which tsc checked with this config (58 errors).
    await tsc(project, TSC["TypeScript 5.9"], "tsconfig.json", ["--noEmit"]);
    await tsc(project, TSC["TypeScript 5.9"], "tsconfig.json", ["--outDir", "out", ...RUNNABLE.standard]);
    await serveAndStream(project, [join("out", "server.js")], "standard");
  });

  test("runs under tsx too", async () => {
    await serveAndStream(project, [TSX, "server.ts"], "standard");
  });
});

describe("a broker's author runs the conformance suite of the packed @cellojs/testing with vitest from the registry", () => {
  const project = tempDir("cellojs-conformance-");
  // The vitest this workspace tests with: the suite's optional peer dependency.
  const vitest = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies.vitest!;

  beforeAll(async () => {
    await freshProject(project);
    const tarballs = libraries.filter((pkg) => ["@cellojs/core", "@cellojs/client", "@cellojs/testing"].includes(pkg.name)).map((pkg) => pkg.tarball);
    await npmInstall(project, [`vitest@${vitest}`, ...tarballs]);
    writeFileSync(
      join(project, "memory-broker.test.ts"),
      [
        'import { memoryBroker } from "@cellojs/core";',
        'import { runBrokerConformance } from "@cellojs/testing/conformance";',
        'runBrokerConformance(() => memoryBroker(), { name: "memoryBroker" });',
        "",
      ].join("\n"),
    );
  }, INSTALL_TIMEOUT_MS + 60_000);

  test("the suite, loaded from dist/ as a dependency, runs and passes on the in-memory broker", async () => {
    const result = await run(process.execPath, [join(project, "node_modules/vitest/vitest.mjs"), "run", "--reporter=json", "--outputFile=report.json"], { cwd: project, env: cleanEnv(), timeoutMs: 120_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(project, "report.json"), "utf8")) as { numTotalTests: number; numPassedTests: number; testResults: Array<{ assertionResults: Array<{ ancestorTitles: string[] }> }> };
    expect(report.numTotalTests).toBeGreaterThan(15);
    expect(report.numPassedTests).toBe(report.numTotalTests);
    expect(report.testResults[0]!.assertionResults[0]!.ancestorTitles[0]).toBe("ChannelBroker conformance: memoryBroker");
  });

  test("its types resolve under tsc --init's config (module nodenext)", async () => {
    await tsc(project, TSC["TypeScript 5.9"], "tsconfig.json", ["--noEmit"]);
  });
});
