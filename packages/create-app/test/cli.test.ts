/**
 * The CLI as a user runs it: `node bin/create-app.js ...` in a temp folder,
 * stdin not a terminal, asserting exit codes, messages and the files written.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { listFiles, removeTempDirs, run, runCli, runCliInTerminal, tempDir, TEMPLATES } from "./helpers.js";

afterAll(removeTempDirs);

const VENDORED = ["vendor/cellojs-client-0.1.0.tgz", "vendor/cellojs-core-0.1.0.tgz", "vendor/cellojs-testing-0.1.0.tgz"];
const BASIC_FILES = [".gitignore", "README.md", "package.json", "src/app.test.ts", "src/app.ts", "src/server.ts", "tsconfig.json", ...VENDORED].sort();
const DASHBOARD_FILES = [...BASIC_FILES, "public/index.html", "src/metrics.ts"].sort();

function readJson(path: string) {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** What `tar` lists inside a tarball, and one file's text. */
function tarList(tarball: string): string[] {
  return execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).trim().split("\n").sort();
}
function tarRead(tarball: string, path: string): string {
  return execFileSync("tar", ["xzOf", tarball, path], { encoding: "utf8" });
}

describe("--help", () => {
  test("prints usage with every flag and template, exit 0", async () => {
    const result = await runCli(["--help"], tempDir());
    expect(result.code).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^Usage: create-app \[directory\] \[options\]\n/);
    for (const flag of ["-t, --template <name>", "--overwrite", "--no-interactive", "-h, --help"]) expect(result.stdout).toContain(flag);
    expect(result.stdout).toMatch(/^ {2}basic {10}A JSON route/m);
    expect(result.stdout).toMatch(/^ {2}sse-dashboard {2}A page with a live canvas chart/m);
    // Both ways in: the checkout's root, and the published, scoped name.
    expect(result.stdout).toContain("Run `npx create-app` at the root of a Cello.ts checkout.");
    expect(result.stdout).toContain("`npm create @cellojs/app my-app` or\n`npx @cellojs/create-app my-app`");
  });

  test("-h is the same and writes nothing", async () => {
    const cwd = tempDir();
    const result = await runCli(["-h", "my-app"], cwd);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Usage: create-app");
    expect(existsSync(join(cwd, "my-app"))).toBe(false);
  });
});

describe("scaffolding", () => {
  test("basic: files copied, _gitignore renamed, name substituted, local packages vendored", async () => {
    const cwd = tempDir();
    const result = await runCli(["my-app", "--template", "basic", "--no-interactive"], cwd);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const app = join(cwd, "my-app");
    expect(listFiles(app)).toEqual(BASIC_FILES);
    expect(readFileSync(join(app, ".gitignore"), "utf8")).toContain("node_modules/");
    for (const file of ["src/app.ts", "src/server.ts", "src/app.test.ts", "tsconfig.json", "README.md"]) {
      expect(readFileSync(join(app, file), "utf8")).toBe(readFileSync(join(TEMPLATES, "basic", file), "utf8"));
    }

    const manifest = readJson(join(app, "package.json"));
    const template = readJson(join(TEMPLATES, "basic", "package.json"));
    expect(manifest.name).toBe("my-app");
    expect(manifest.scripts).toEqual({ dev: "tsx watch src/server.ts", start: "node --import tsx src/server.ts", test: "vitest run", typecheck: "tsc -p tsconfig.json" });
    expect(manifest.dependencies).toEqual({ ...template.dependencies, "@cellojs/core": "file:vendor/cellojs-core-0.1.0.tgz" });
    expect(manifest.devDependencies).toEqual({ ...template.devDependencies, "@cellojs/testing": "file:vendor/cellojs-testing-0.1.0.tgz" });
    expect(manifest.overrides).toEqual({
      "@cellojs/core": "file:vendor/cellojs-core-0.1.0.tgz",
      "@cellojs/client": "file:vendor/cellojs-client-0.1.0.tgz",
      "@cellojs/testing": "file:vendor/cellojs-testing-0.1.0.tgz",
    });

    const tsconfig = readFileSync(join(app, "tsconfig.json"), "utf8");
    for (const setting of ['"experimentalDecorators": true', '"emitDecoratorMetadata": false', '"target": "ES2022"', '"module": "NodeNext"', '"moduleResolution": "NodeNext"', '"types": ["node"]']) {
      expect(tsconfig).toContain(setting);
    }

    expect(result.stdout).toContain("Packed @cellojs/core@0.1.0, @cellojs/client@0.1.0, @cellojs/testing@0.1.0");
    expect(result.stdout).toContain("Done. Now run:\n\n  cd my-app\n  npm install\n  npm run dev\n");
  });

  test("vendored tarballs ship built code, publish exports and no workspace ranges", async () => {
    const cwd = tempDir();
    expect((await runCli(["app", "--no-interactive"], cwd)).code).toBe(0);
    const core = join(cwd, "app", "vendor", "cellojs-core-0.1.0.tgz");
    const files = tarList(core);
    expect(files).toContain("package/dist/index.js");
    expect(files).toContain("package/dist/index.d.ts");
    expect(files).toContain("package/dist/sse/stream.js");
    expect(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual([]);
    const coreManifest = JSON.parse(tarRead(core, "package/package.json"));
    expect(coreManifest.exports).toEqual({ ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } });
    expect(coreManifest.publishConfig).toBeUndefined();
    expect(coreManifest.scripts).toBeUndefined();
    expect(coreManifest.devDependencies).toBeUndefined();

    const testing = JSON.parse(tarRead(join(cwd, "app", "vendor", "cellojs-testing-0.1.0.tgz"), "package/package.json"));
    // The app's own core: a peer, `workspace:^` published as a caret range.
    expect(testing.peerDependencies["@cellojs/core"]).toBe("^0.1.0");
    expect(testing.dependencies["@cellojs/core"]).toBeUndefined();
    expect(testing.dependencies["@cellojs/client"]).toBe("0.1.0");
    expect(JSON.stringify(testing)).not.toContain("workspace:");
  });

  test("sse-dashboard: the page and the metrics module come along", async () => {
    const cwd = tempDir();
    const result = await runCli(["dash", "-t", "sse-dashboard", "--no-interactive"], cwd);
    expect(result.code).toBe(0);
    expect(listFiles(join(cwd, "dash"))).toEqual(DASHBOARD_FILES);
    expect(readJson(join(cwd, "dash", "package.json")).name).toBe("dash");
    expect(readFileSync(join(cwd, "dash", "public", "index.html"), "utf8")).toContain("<canvas");
  });

  test("no directory and no terminal: the defaults, without prompting", async () => {
    const cwd = tempDir();
    const result = await runCli([], cwd);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("Project name");
    expect(listFiles(join(cwd, "cello-app"))).toEqual(BASIC_FILES);
    expect(readJson(join(cwd, "cello-app", "package.json")).name).toBe("cello-app");
  });

  test("the package name comes from the folder name, made valid", async () => {
    const cwd = tempDir();
    const result = await runCli(["apps/My Cool App/", "--no-interactive"], cwd);
    expect(result.code).toBe(0);
    expect(readJson(join(cwd, "apps", "My Cool App", "package.json")).name).toBe("my-cool-app");
    expect(result.stdout).toContain('  cd "apps/My Cool App"\n');
  });

  test("'.' scaffolds into the current folder, named after it, with no cd step", async () => {
    const cwd = join(tempDir(), "here-app");
    mkdirSync(cwd);
    const result = await runCli([".", "--no-interactive"], cwd);
    expect(result.code).toBe(0);
    expect(readJson(join(cwd, "package.json")).name).toBe("here-app");
    expect(result.stdout).toContain("Done. Now run:\n\n  npm install\n");
  });

  test("a folder holding only .git counts as empty", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "app", ".git"), { recursive: true });
    writeFileSync(join(cwd, "app", ".git", "HEAD"), "ref: refs/heads/main\n");
    const result = await runCli(["app", "--no-interactive"], cwd);
    expect(result.code).toBe(0);
    expect(readFileSync(join(cwd, "app", ".git", "HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
    expect(existsSync(join(cwd, "app", "src", "app.ts"))).toBe(true);
  });
});

describe("a non-empty target", () => {
  function occupied(): { cwd: string; target: string } {
    const cwd = tempDir();
    const target = join(cwd, "taken");
    mkdirSync(join(target, "notes", ".git"), { recursive: true });
    mkdirSync(join(target, ".git"));
    writeFileSync(join(target, "keep.txt"), "precious\n");
    writeFileSync(join(target, "notes", "a.md"), "# a\n");
    writeFileSync(join(target, ".git", "HEAD"), "ref: refs/heads/main\n");
    return { cwd, target };
  }

  test("is refused without --overwrite: exit 1, a clear message, nothing touched", async () => {
    const { cwd, target } = occupied();
    const before = listFiles(target);
    const result = await runCli(["taken", "--template", "basic", "--no-interactive"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('create-app: directory "taken" is not empty. Nothing was changed.\nUse --overwrite to replace its contents, or choose another directory.\n');
    expect(result.stdout).toBe("");
    expect(listFiles(target)).toEqual(before);
    expect(readFileSync(join(target, "keep.txt"), "utf8")).toBe("precious\n");
  });

  test("is refused without --overwrite even when interactive mode is not turned off", async () => {
    const { cwd, target } = occupied();
    const before = listFiles(target);
    const result = await runCli(["taken"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('directory "taken" is not empty');
    expect(listFiles(target)).toEqual(before);
  });

  test("is replaced with --overwrite, keeping .git", async () => {
    const { cwd, target } = occupied();
    const result = await runCli(["taken", "--overwrite", "--no-interactive"], cwd);
    expect(result.code).toBe(0);
    expect(listFiles(target)).toEqual([".git/HEAD", ...BASIC_FILES].sort());
    expect(readFileSync(join(target, ".git", "HEAD"), "utf8")).toBe("ref: refs/heads/main\n");
    expect(readJson(join(target, "package.json")).name).toBe("taken");
  });

  test("that is a file is refused", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "file"), "x");
    const result = await runCli(["file", "--overwrite", "--no-interactive"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('create-app: "file" exists and is not a directory.\n');
    expect(readFileSync(join(cwd, "file"), "utf8")).toBe("x");
  });
});

describe("bad input", () => {
  test("an unknown template fails, listing the templates, and writes nothing", async () => {
    const cwd = tempDir();
    const result = await runCli(["my-app", "--template", "vue", "--no-interactive"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('create-app: unknown template "vue". Available templates: basic, sse-dashboard\n');
    expect(existsSync(join(cwd, "my-app"))).toBe(false);
  });

  test("an unknown flag fails with a pointer to --help", async () => {
    const cwd = tempDir();
    const result = await runCli(["my-app", "--force"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^create-app: Unknown option '--force'/);
    expect(result.stderr).toContain("Run create-app --help for usage.");
    expect(existsSync(join(cwd, "my-app"))).toBe(false);
  });

  test("--template without a value fails", async () => {
    const result = await runCli(["my-app", "--template"], tempDir());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^create-app: Option '-t, --template <value>' argument missing/);
  });

  test("two directories fail", async () => {
    const cwd = tempDir();
    const result = await runCli(["a", "b", "--no-interactive"], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("expected one directory, got 2: a b");
    expect(listFiles(cwd)).toEqual([]);
  });
});

describe("on a terminal", () => {
  test("asks for the project name and the template", async () => {
    const cwd = tempDir();
    const result = await runCliInTerminal([], cwd, [
      ["Project name (cello-app): ", "Live Board"],
      ["Choose 1-2 (1): ", "7"],
      ["Choose 1-2 (1): ", "2"],
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Select a template:\n  1) basic          A JSON route");
    expect(result.stdout).toContain("  2) sse-dashboard  A page with a live canvas chart");
    expect(result.stdout).toContain("Type a number from 1 to 2 or a template name.");
    expect(result.stdout).toContain('  cd "Live Board"\n');
    expect(listFiles(join(cwd, "Live Board"))).toEqual(DASHBOARD_FILES);
    expect(readJson(join(cwd, "Live Board", "package.json")).name).toBe("live-board");
  });

  test("Enter takes the defaults", async () => {
    const cwd = tempDir();
    const result = await runCliInTerminal([], cwd, [
      ["Project name (cello-app): ", ""],
      ["Choose 1-2 (1): ", ""],
    ]);
    expect(result.code).toBe(0);
    expect(listFiles(join(cwd, "cello-app"))).toEqual(BASIC_FILES);
  });

  test("a directory and --template given: no questions", async () => {
    const cwd = tempDir();
    const result = await runCliInTerminal(["app", "--template", "basic"], cwd, []);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("Project name");
    expect(result.stdout).not.toContain("Select a template");
    expect(listFiles(join(cwd, "app"))).toEqual(BASIC_FILES);
  });

  test("--no-interactive never asks, even on a terminal", async () => {
    const cwd = tempDir();
    const result = await runCliInTerminal(["--no-interactive"], cwd, []);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain("Project name");
    expect(listFiles(join(cwd, "cello-app"))).toEqual(BASIC_FILES);
  });

  test("a non-empty directory: 'no' (the default) changes nothing", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "taken"));
    writeFileSync(join(cwd, "taken", "keep.txt"), "precious\n");
    const result = await runCliInTerminal(["taken", "-t", "basic"], cwd, [['Directory "taken" is not empty. Remove its files (a .git folder is kept) and continue? (y/N): ', ""]]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("create-app: cancelled: nothing was changed.");
    expect(listFiles(join(cwd, "taken"))).toEqual(["keep.txt"]);
  });

  test("a non-empty directory: 'y' replaces it", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "taken"));
    writeFileSync(join(cwd, "taken", "keep.txt"), "precious\n");
    const result = await runCliInTerminal(["taken", "-t", "basic"], cwd, [["continue? (y/N): ", "y"]]);
    expect(result.code).toBe(0);
    expect(listFiles(join(cwd, "taken"))).toEqual(BASIC_FILES);
  });
});

test("outside a Cello.ts checkout nothing is vendored: the registry ranges stay", async () => {
  // A copy of the package as npm would install it, somewhere no monorepo encloses.
  const installed = join(tempDir(), "node_modules", "@cellojs", "create-app");
  const here = fileURLToPath(new URL("..", import.meta.url));
  for (const part of ["bin", "src", "templates", "package.json"]) {
    cpSync(join(here, part), join(installed, part), { recursive: true, filter: (source) => !source.includes("node_modules") });
  }
  const cwd = tempDir();
  const result = await run(process.execPath, [join(installed, "bin", "create-app.js"), "app", "--no-interactive"], { cwd });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  expect(result.stdout).not.toContain("Packed");
  const manifest = readJson(join(cwd, "app", "package.json"));
  expect(manifest.dependencies["@cellojs/core"]).toBe("^0.1.0");
  expect(manifest.devDependencies["@cellojs/testing"]).toBe("^0.1.0");
  expect(manifest.overrides).toBeUndefined();
  expect(existsSync(join(cwd, "app", "vendor"))).toBe(false);
});
