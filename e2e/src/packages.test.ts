/**
 * What `pnpm pack` makes of every publishable package: the tarball holds the
 * built dist/ (JavaScript, declarations, maps), a README and a package.json that
 * points at them, and nothing of the repository's own wiring; and the
 * ecosystem's packaging linters, publint and arethetypeswrong, find no problem.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, inject, test } from "vitest";
import { run, tempDir, removeTempDirs } from "../../packages/create-app/test/helpers.js";
import { ROOT } from "./pack.js";

const packed = inject("packed");
afterAll(removeTempDirs);
/** The script of a root devDependency's `bin` (pnpm links root devDependencies into the root node_modules). */
function binOf(pkg: string, bin: string): string {
  const dir = join(ROOT, "node_modules", pkg);
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { bin: string | Record<string, string> };
  return join(dir, typeof manifest.bin === "string" ? manifest.bin : manifest.bin[bin]!);
}

function tarballFiles(tarball: string): string[] {
  return execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((path) => path.replace(/^package\//, "")).sort();
}

function tarballText(tarball: string, file: string): string {
  return execFileSync("tar", ["-xzOf", tarball, `package/${file}`], { encoding: "utf8" });
}

function tarballManifest(tarball: string): Record<string, any> {
  return JSON.parse(tarballText(tarball, "package.json"));
}

test("every publishable package is packed", () => {
  expect(packed.map((p) => p.name).sort()).toEqual(["@cellojs/client", "@cellojs/core", "@cellojs/create-app", "@cellojs/mcp", "@cellojs/openapi", "@cellojs/postgres", "@cellojs/redis", "@cellojs/testing"]);
});

const libraries = packed.filter((p) => p.name !== "@cellojs/create-app");

describe.each(libraries)("$name's tarball", (pkg) => {
  const files = tarballFiles(pkg.tarball);
  const manifest = tarballManifest(pkg.tarball);

  test("holds dist/ (JavaScript, declarations, source maps), README.md and package.json, nothing else", () => {
    expect(files).toContain("package.json");
    expect(files).toContain("README.md");
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files.filter((file) => !/^dist\/.+\.(js|d\.ts|js\.map)$/.test(file) && file !== "README.md" && file !== "package.json")).toEqual([]);
    // Every module has its declarations and its map; no test or fixture was built.
    for (const js of files.filter((file) => file.endsWith(".js"))) {
      expect(files, js).toContain(js.replace(/\.js$/, ".d.ts"));
      expect(files, js).toContain(`${js}.map`);
    }
    expect(files.filter((file) => /\.test(-support)?\.|\/fixtures\/|\/testing\.|^src\//.test(file))).toEqual([]);
  });

  test("package.json points at dist/ for every resolver, with the repository's wiring removed", () => {
    // @cellojs/testing has a second entry, the vitest conformance suites, apart from its runner-agnostic main one;
    // @cellojs/client has its Node-only generator apart from its browser-safe main entry.
    const subpaths: Record<string, unknown> =
      pkg.name === "@cellojs/testing"
        ? { "./conformance": { types: "./dist/conformance.d.ts", default: "./dist/conformance.js" } }
        : pkg.name === "@cellojs/client"
          ? { "./generate": { types: "./dist/generate/index.d.ts", default: "./dist/generate/index.js" } }
          : {};
    expect(manifest.exports).toEqual({ ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, ...subpaths });
    expect(manifest.main).toBe("./dist/index.js");
    expect(manifest.types).toBe("./dist/index.d.ts");
    expect(manifest.type).toBe("module");
    expect(manifest.engines).toEqual({ node: ">=20.19" });
    expect(manifest.license).toBe("MIT");
    expect(manifest.files).toEqual(["dist", "README.md"]);
    expect(manifest.sideEffects === false || Array.isArray(manifest.sideEffects)).toBe(true);
    const text = JSON.stringify(manifest);
    expect(text).not.toContain("@cellojs/source");
    expect(text).not.toContain("workspace:");
    expect(manifest.publishConfig).toBeUndefined();
    expect(manifest.scripts?.prepack).toBeUndefined();
  });

  test("a package used with the app it is given expects the user's @cellojs/core as a peer", () => {
    const usesUsersCore = pkg.name === "@cellojs/redis" || pkg.name === "@cellojs/postgres" || pkg.name === "@cellojs/testing" || pkg.name === "@cellojs/openapi" || pkg.name === "@cellojs/mcp";
    expect(manifest.peerDependencies?.["@cellojs/core"]).toBe(usesUsersCore ? `^${pkg.version}` : undefined);
    expect(manifest.dependencies?.["@cellojs/core"]).toBeUndefined();
  });

  test("declarations tagged @internal are stripped from the published .d.ts (stripInternal)", () => {
    const declarations = files.filter((file) => file.endsWith(".d.ts"));
    expect(declarations.length).toBeGreaterThan(0);
    const tagged = declarations.filter((file) => tarballText(pkg.tarball, file).includes("@internal"));
    expect(tagged).toEqual([]);
  });

  test("publint finds nothing, warnings included", async () => {
    const result = await run(process.execPath, [binOf("publint", "publint"), "run", "--strict", pkg.tarball], { cwd: ROOT });
    expect(result.stdout + result.stderr).toContain("All good!");
    expect(result.code).toBe(0);
  });

  test("arethetypeswrong finds nothing for node10, node16 (CJS and ESM) and bundler resolution", async () => {
    // The packages are ESM only: from CommonJS, `require()` loads them on Node 20.19+
    // (require(esm); stranger.test.ts checks it) and TypeScript 5.8+, but attw's
    // bundled TypeScript reports it as "dynamic import only", so that one rule is off.
    const result = await run(process.execPath, [binOf("@arethetypeswrong/cli", "attw"), pkg.tarball, "--format", "table-flipped", "--no-color", "--ignore-rules", "cjs-resolves-to-esm"], { cwd: ROOT });
    expect(result.stdout).toContain("No problems found");
    expect(result.code).toBe(0);
  });
});

test("core's internals for other modules stay out of its declarations, its public members stay in", () => {
  const core = packed.find((p) => p.name === "@cellojs/core")!;
  const blueprint = tarballText(core.tarball, "dist/blueprint.d.ts");
  expect(blueprint).toContain("registerBlueprint(child: Blueprint): this;");
  // Called by App.registerBlueprint; tagged @internal in the source.
  expect(blueprint).not.toContain("collectRoutes");
  // A constructor is never stripped: TypeScript would then offer an implicit `new Request()`.
  expect(tarballText(core.tarball, "dist/request.d.ts")).toMatch(/constructor\(raw: RawRequest, /);
});

test("no constructor of a published class is tagged @internal: stripped, it would leave TypeScript's implicit no-argument one", () => {
  const tagged: string[] = [];
  for (const pkg of libraries) {
    for (const file of readdirSync(join(pkg.dir, "src"), { recursive: true, encoding: "utf8" })) {
      if (!file.endsWith(".ts") || /\.test(-support)?\.ts$/.test(file)) continue;
      const source = readFileSync(join(pkg.dir, "src", file), "utf8");
      for (const match of source.matchAll(/\/\*\*(?:(?!\*\/)[\s\S])*@internal(?:(?!\*\/)[\s\S])*\*\/\s*constructor\s*\(/g)) {
        tagged.push(`${pkg.name}/src/${file}:${source.slice(0, match.index).split("\n").length}`);
      }
    }
  }
  expect(tagged).toEqual([]);
});

describe("@cellojs/create-app's tarball", () => {
  const pkg = packed.find((p) => p.name === "@cellojs/create-app")!;
  const files = tarballFiles(pkg.tarball);
  const manifest = tarballManifest(pkg.tarball);

  test("holds the CLI, its modules and the templates, with dotfiles stored under their _ names", () => {
    expect(files.filter((file) => !/^(bin\/create-app\.js|src\/[a-z-]+\.js|templates\/.+|README\.md|package\.json)$/.test(file))).toEqual([]);
    expect(files).toContain("bin/create-app.js");
    expect(files).toContain("templates/basic/_gitignore");
    expect(manifest.bin).toEqual({ "create-app": "bin/create-app.js" });
    expect(manifest.name).toBe("@cellojs/create-app");
  });

  test("npm runs its create-app command from the tarball, as `npx @cellojs/create-app` will once published", async () => {
    const result = await run("npm", ["exec", "--yes", `--package=${pkg.tarball}`, "--", "create-app", "--help"], { cwd: tempDir("cellojs-npx-"), timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Usage: create-app \[directory\] \[options\]/);
    expect(result.stdout).toContain("npm create @cellojs/app my-app");
  });

  test("publint finds nothing, warnings included (attw does not apply: the package is a command, with nothing to import)", async () => {
    const result = await run(process.execPath, [binOf("publint", "publint"), "run", "--strict", pkg.tarball], { cwd: ROOT });
    expect(result.stdout + result.stderr).toContain("All good!");
    expect(result.code).toBe(0);
  });
});
