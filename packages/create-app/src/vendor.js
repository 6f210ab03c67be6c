// @ts-check
/**
 * Vendoring: no @cellojs package is on a registry yet, so when the CLI runs from
 * a Cello.ts checkout it builds the packages a template needs, packs each into a
 * tarball, and the generated app depends on `file:vendor/<tarball>`.
 *
 * Why build instead of packing the sources: in the repo, `exports` point at
 * `src/index.ts`. Installed under node_modules, that breaks twice: vitest
 * externalizes node_modules and hands the .ts file to Node 20, which cannot
 * load it, and tsc type-checks foreign .ts sources with the app's settings.
 * So each package is compiled to `dist/` and its `publishConfig` is applied,
 * exactly what a publish would ship.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

/**
 * Bumped whenever what goes into a tarball changes, so cached tarballs built
 * by an older CLI are never reused.
 */
const TARBALL_FORMAT = "2";

/** Dependency fields whose `workspace:` ranges must become real ranges in a tarball. */
const DEPENDENCY_FIELDS = /** @type {const} */ (["dependencies", "peerDependencies", "optionalDependencies"]);

/**
 * `publishConfig` keys that replace the top-level field on publish (pnpm's list).
 * `access`, `registry`, `tag` and the like only steer the upload and are dropped.
 */
const PUBLISH_OVERRIDES = new Set(["bin", "main", "exports", "types", "typings", "module", "browser", "esnext", "es2015", "unpkg", "umd:main", "typesVersions", "cpu", "os", "imports"]);

/**
 * @typedef {object} PackageJson
 * @property {string} name
 * @property {string} version
 * @property {Record<string, string>} [dependencies]
 * @property {Record<string, string>} [devDependencies]
 * @property {Record<string, string>} [peerDependencies]
 * @property {Record<string, string>} [optionalDependencies]
 * @property {Record<string, unknown>} [publishConfig]
 * @property {Record<string, string>} [scripts]
 * @property {string[]} [files]
 */

/**
 * One workspace package packed into a tarball.
 * @typedef {object} VendoredPackage
 * @property {string} name - e.g. `@cellojs/core`
 * @property {string} version - e.g. `0.1.0`
 * @property {string} fileName - e.g. `cellojs-core-0.1.0.tgz`
 * @property {string} tarball - absolute path of the tarball (in the cache)
 * @property {boolean} cached - true when a tarball built earlier from the same inputs was reused
 */

/**
 * Find the Cello.ts monorepo that contains `fromDir`: the closest ancestor whose
 * `packages/core/package.json` is `@cellojs/core`.
 *
 * @param {string} fromDir - where to start (the CLI passes its own folder)
 * @returns {string | undefined} the monorepo root, or undefined when the CLI runs from an installed copy
 * @example
 * findMonorepo(dirname(fileURLToPath(import.meta.url))); // "/work/main"
 */
export function findMonorepo(fromDir) {
  let dir = fromDir;
  for (;;) {
    const corePackage = join(dir, "packages", "core", "package.json");
    if (existsSync(join(dir, "package.json")) && existsSync(corePackage)) {
      try {
        if (readJson(corePackage).name === "@cellojs/core") return dir;
      } catch {
        // A broken package.json is not the monorepo we are looking for: keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Map every workspace package under `<root>/packages/*` from name to folder.
 *
 * @param {string} root - the monorepo root
 * @returns {Map<string, string>}
 * @example
 * workspacePackages("/work/main").get("@cellojs/core"); // "/work/main/packages/core"
 */
export function workspacePackages(root) {
  /** @type {Map<string, string>} */
  const packages = new Map();
  const packagesDir = join(root, "packages");
  for (const entry of readdirSync(packagesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const manifest = join(packagesDir, entry.name, "package.json");
    if (!existsSync(manifest)) continue;
    const { name } = readJson(manifest);
    if (typeof name === "string") packages.set(name, join(packagesDir, entry.name));
  }
  return packages;
}

/**
 * Turn a `workspace:` range into the range a publish would write, as pnpm does:
 * `workspace:*` -> `1.2.3`, `workspace:^` -> `^1.2.3`, `workspace:~` -> `~1.2.3`,
 * `workspace:^1.0.0` -> `^1.0.0`. Other ranges are returned unchanged.
 *
 * @param {string} range - the range as written in package.json
 * @param {string} version - the workspace package's version
 * @returns {string}
 * @example
 * resolveWorkspaceRange("workspace:^", "0.1.0"); // "^0.1.0"
 */
export function resolveWorkspaceRange(range, version) {
  if (!range.startsWith("workspace:")) return range;
  const rest = range.slice("workspace:".length);
  if (rest === "*" || rest === "") return version;
  if (rest === "^" || rest === "~") return `${rest}${version}`;
  return rest;
}

/**
 * The package.json a publish would ship: `publishConfig` applied, `workspace:`
 * ranges resolved, and scripts and devDependencies dropped (npm would run an
 * install script from a tarball; devDependencies may hold `workspace:` ranges
 * that npm cannot parse).
 *
 * @param {PackageJson} manifest - the package.json as in the repo
 * @param {Map<string, string>} versions - workspace package name -> version
 * @returns {PackageJson}
 * @example
 * publishManifest({ name: "a", version: "1.0.0", dependencies: { b: "workspace:*" } }, new Map([["b", "2.0.0"]]));
 * // { name: "a", version: "1.0.0", dependencies: { b: "2.0.0" } }
 */
export function publishManifest(manifest, versions) {
  /** @type {Record<string, unknown>} */
  const result = { ...manifest };
  const publishConfig = manifest.publishConfig ?? {};
  for (const [key, value] of Object.entries(publishConfig)) {
    if (PUBLISH_OVERRIDES.has(key)) result[key] = value;
  }
  delete result.publishConfig;
  delete result.scripts;
  delete result.devDependencies;
  for (const field of DEPENDENCY_FIELDS) {
    const dependencies = manifest[field];
    if (!dependencies) continue;
    /** @type {Record<string, string>} */
    const resolved = {};
    for (const [name, range] of Object.entries(dependencies)) {
      if (range.startsWith("workspace:")) {
        const version = versions.get(name);
        if (version === undefined) throw new Error(`${manifest.name} depends on ${name}@${range}, which is not a package of this workspace`);
        resolved[name] = resolveWorkspaceRange(range, version);
      } else {
        resolved[name] = range;
      }
    }
    result[field] = resolved;
  }
  return /** @type {PackageJson} */ (result);
}

/**
 * The workspace packages `names` need, themselves included, dependencies first.
 *
 * @param {string[]} names - packages the template depends on directly
 * @param {Map<string, string>} packages - from {@link workspacePackages}
 * @returns {string[]}
 * @example
 * workspaceClosure(["@cellojs/testing"], packages); // ["@cellojs/client", "@cellojs/core", "@cellojs/testing"]
 */
export function workspaceClosure(names, packages) {
  /** @type {string[]} */
  const ordered = [];
  /** @type {Set<string>} */
  const visiting = new Set();
  /** @param {string} name */
  const visit = (name) => {
    if (ordered.includes(name) || visiting.has(name)) return;
    const dir = packages.get(name);
    if (dir === undefined) throw new Error(`${name} is not a package of this workspace`);
    visiting.add(name);
    const manifest = /** @type {PackageJson} */ (readJson(join(dir, "package.json")));
    for (const field of DEPENDENCY_FIELDS) {
      for (const dependency of Object.keys(manifest[field] ?? {}).sort()) {
        if (packages.has(dependency)) visit(dependency);
      }
    }
    visiting.delete(name);
    ordered.push(name);
  };
  for (const name of names) visit(name);
  return ordered;
}

/**
 * Build and pack the workspace packages `names` need into tarballs, reusing a
 * tarball from `<root>/node_modules/.cache/cellojs-create-app/` when its inputs
 * (sources, manifests, tsconfigs, lockfile, TypeScript version) are unchanged.
 *
 * @param {object} options
 * @param {string} options.root - the monorepo root
 * @param {string[]} options.names - packages the template depends on directly
 * @param {(line: string) => void} [options.log] - progress lines; default: none
 * @returns {VendoredPackage[]} dependencies first
 * @example
 * const vendored = vendorPackages({ root: "/work/main", names: ["@cellojs/core"] });
 * // [{ name: "@cellojs/core", version: "0.1.0", fileName: "cellojs-core-0.1.0.tgz", tarball: "/work/main/node_modules/.cache/...", cached: false }]
 */
export function vendorPackages({ root, names, log = () => {} }) {
  const packages = workspacePackages(root);
  /** @type {Map<string, string>} */
  const versions = new Map();
  for (const [name, dir] of packages) versions.set(name, readJson(join(dir, "package.json")).version);
  const cacheDir = join(root, "node_modules", ".cache", "cellojs-create-app");
  mkdirSync(cacheDir, { recursive: true });
  const shared = sharedInputs(root);
  /** @type {Map<string, string>} */
  const keys = new Map();
  /** @type {VendoredPackage[]} */
  const vendored = [];
  for (const name of workspaceClosure(names, packages)) {
    const dir = /** @type {string} */ (packages.get(name));
    const manifest = /** @type {PackageJson} */ (readJson(join(dir, "package.json")));
    const hash = createHash("sha256").update(`${TARBALL_FORMAT}\0${shared}\0`);
    for (const field of DEPENDENCY_FIELDS) {
      // The emitted .d.ts files name types of workspace dependencies, so their inputs count too.
      for (const dependency of Object.keys(manifest[field] ?? {}).sort()) {
        const key = keys.get(dependency);
        if (key !== undefined) hash.update(`dep:${dependency}:${key}\0`);
      }
    }
    hashTree(hash, dir, [".", "src"], (path) => path === "package.json" || path === "README.md" || path === "LICENSE" || path === "tsconfig.build.json" || path.startsWith("src/"));
    const key = hash.digest("hex").slice(0, 16);
    keys.set(name, key);
    const fileName = `${name.replace(/^@/, "").replace(/\//g, "-")}-${manifest.version}.tgz`;
    const cached = join(cacheDir, `${key}-${fileName}`);
    if (existsSync(cached)) {
      vendored.push({ name, version: manifest.version, fileName, tarball: cached, cached: true });
      continue;
    }
    log(`Building ${name}@${manifest.version} from ${relative(root, dir) || "."}`);
    const built = buildTarball({ dir, manifest, versions });
    try {
      // Rename is atomic: two CLIs building the same package at once both end with a whole file.
      const partial = `${cached}.${process.pid}.tmp`;
      cpSync(built.tarball, partial);
      renameSync(partial, cached);
    } finally {
      rmSync(built.workDir, { recursive: true, force: true });
    }
    vendored.push({ name, version: manifest.version, fileName, tarball: cached, cached: false });
  }
  return vendored;
}

/**
 * Inputs every package's build shares: the base tsconfig, the lockfile (the
 * dependency types a build sees) and the TypeScript version.
 * @param {string} root
 */
function sharedInputs(root) {
  const hash = createHash("sha256");
  for (const file of ["tsconfig.base.json", "pnpm-lock.yaml"]) {
    const path = join(root, file);
    if (existsSync(path)) hash.update(`${file}\0`).update(readFileSync(path)).update("\0");
  }
  hash.update(`typescript:${readJson(join(dirname(typescriptCompiler(root)), "..", "package.json")).version}`);
  return hash.digest("hex");
}

/**
 * Feed the paths and contents of the files under `dir` that `keep` accepts into `hash`, in a stable order.
 * @param {import("node:crypto").Hash} hash
 * @param {string} dir
 * @param {string[]} folders - folders (relative to dir) to list; "." lists the top level only
 * @param {(path: string) => boolean} keep
 */
function hashTree(hash, dir, folders, keep) {
  /** @type {string[]} */
  const files = [];
  for (const folder of folders) {
    const base = join(dir, folder);
    if (!existsSync(base)) continue;
    const entries = folder === "." ? readdirSync(base) : readdirSync(base, { recursive: true }).map(String);
    for (const entry of entries) {
      const path = folder === "." ? entry : `${folder}/${entry.split("\\").join("/")}`;
      if (keep(path) && statSync(join(dir, path)).isFile()) files.push(path);
    }
  }
  for (const path of files.sort()) hash.update(`${path}\0`).update(readFileSync(join(dir, path))).update("\0");
}

/**
 * Compile one package into a staging folder and pack it with `npm pack`.
 * @param {{ dir: string, manifest: PackageJson & { exports?: unknown }, versions: Map<string, string> }} options
 * @returns {{ tarball: string, workDir: string }}
 */
function buildTarball({ dir, manifest, versions }) {
  const buildConfig = join(dir, "tsconfig.build.json");
  if (!existsSync(buildConfig)) throw new Error(`cannot pack ${manifest.name}: ${buildConfig} is missing`);
  const entryPoints = sourceEntryPoints(manifest.exports).map((path) => join(dir, path));
  if (entryPoints.length === 0) throw new Error(`cannot pack ${manifest.name}: its package.json "exports" names no .ts entry point`);
  const workDir = mkdtempSync(join(tmpdir(), "cellojs-pack-"));
  try {
    const stage = join(workDir, "package");
    mkdirSync(stage);
    // The package's own build settings, narrowed to what its exports reach: a
    // file under src/ that only tests import is neither compiled nor shipped.
    // Sources stay where they are (imports resolve through the package's own
    // node_modules); output goes to the staging folder, so the repo's dist/ is
    // never touched. No source maps: their paths would point into this checkout.
    const config = {
      extends: buildConfig,
      compilerOptions: {
        rootDir: join(dir, "src"),
        outDir: join(stage, "dist"),
        sourceMap: false,
        inlineSources: false,
        declarationMap: false,
        // `types: ["node"]` is looked up from the config's folder, which is now a temp folder.
        typeRoots: typeRoots(dir),
      },
      files: entryPoints,
      include: [],
    };
    const configPath = join(workDir, "tsconfig.json");
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    run(process.execPath, [typescriptCompiler(dir), "-p", configPath], dir, `tsc for ${manifest.name}`);
    /** @type {string[]} */
    const files = ["dist"];
    for (const file of ["README.md", "LICENSE"]) {
      if (!existsSync(join(dir, file))) continue;
      cpSync(join(dir, file), join(stage, file));
      files.push(file);
    }
    writeFileSync(join(stage, "package.json"), `${JSON.stringify({ ...publishManifest(manifest, versions), files }, null, 2)}\n`);
    // The folder is named explicitly: under npx, npm_config_local_prefix would otherwise pick the package to pack.
    const packed = run(npmCommand(), ["pack", stage, "--json", "--ignore-scripts", "--pack-destination", workDir], stage, `npm pack for ${manifest.name}`);
    const [{ filename }] = /** @type {Array<{ filename: string }>} */ (JSON.parse(packed.slice(packed.indexOf("["))));
    return { tarball: join(workDir, filename), workDir };
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The `.ts` files an in-repo `exports` field points at (any nesting of conditions and subpaths).
 * @param {unknown} exports
 * @returns {string[]}
 * @example
 * sourceEntryPoints({ ".": "./src/index.ts", "./sse": { default: "./src/sse.ts" } }); // ["./src/index.ts", "./src/sse.ts"]
 */
export function sourceEntryPoints(exports) {
  if (typeof exports === "string") return /\.[cm]?ts$/.test(exports) && !exports.endsWith(".d.ts") ? [exports] : [];
  if (Array.isArray(exports)) return exports.flatMap(sourceEntryPoints);
  if (exports !== null && typeof exports === "object") return [...new Set(Object.values(exports).flatMap(sourceEntryPoints))];
  return [];
}

/**
 * Every `node_modules/@types` folder from `dir` up, the places tsc would search from `dir`.
 * @param {string} dir
 */
function typeRoots(dir) {
  /** @type {string[]} */
  const roots = [];
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, "node_modules", "@types");
    if (existsSync(candidate)) roots.push(candidate);
    if (dirname(current) === current) return roots;
  }
}

/**
 * The tsc entry point that `fromDir` resolves (the package's own TypeScript first).
 * @param {string} fromDir
 */
function typescriptCompiler(fromDir) {
  const require = createRequire(join(fromDir, "package.json"));
  return join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
}

function npmCommand() {
  return process.platform === "win32" ? "npm.cmd" : "npm";
}

/**
 * Run a command to completion; throw with its output when it fails.
 * @param {string} command
 * @param {string[]} args
 * @param {string} cwd
 * @param {string} what - named in the error
 * @returns {string} stdout
 */
function run(command, args, cwd, what) {
  const result = spawnSync(command, args, { cwd, env: childEnv(), encoding: "utf8", shell: process.platform === "win32", maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${what} could not start: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status}):\n${result.stdout}${result.stderr}`.trimEnd());
  return result.stdout;
}

/** npm settings that say where things are fetched from, kept when a child npm runs. */
const KEPT_NPM_SETTINGS = new Set(["npm_config_registry", "npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig", "npm_config_cafile"]);

/**
 * The environment for a child npm: this process's, less what an enclosing
 * `npx`/`npm run`/`pnpm run` exported about *its* project (`npm_config_local_prefix`,
 * `npm_package_*`, lifecycle variables), which would make the child act on that project.
 *
 * @param {NodeJS.ProcessEnv} [env] - default: `process.env`
 * @returns {NodeJS.ProcessEnv}
 * @example
 * spawnSync("npm", ["install"], { cwd: appDir, env: childEnv() });
 */
export function childEnv(env = process.env) {
  /** @type {NodeJS.ProcessEnv} */
  const clean = {};
  for (const [key, value] of Object.entries(env)) {
    const lower = key.toLowerCase();
    if (lower.startsWith("npm_") && !KEPT_NPM_SETTINGS.has(lower)) continue;
    if (lower === "init_cwd" || lower.startsWith("pnpm_")) continue;
    clean[key] = value;
  }
  return clean;
}

/**
 * @param {string} path
 * @returns {any}
 */
function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}
