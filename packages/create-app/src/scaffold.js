// @ts-check
/**
 * Template copying: the templates are real folders under `templates/`; a copy
 * renames stored dotfiles and writes the project's own package.json.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the templates live, beside this file's folder. */
export const TEMPLATES_DIR = fileURLToPath(new URL("../templates/", import.meta.url));

/**
 * Files stored under another name, because a package's `.gitignore` is dropped
 * by `npm pack` (and would hide files from git in this repo).
 */
const RENAMES = /** @type {Record<string, string>} */ ({ _gitignore: ".gitignore", _npmrc: ".npmrc" });

/** What trying the template in place leaves behind; never copied. */
const SKIPPED = new Set(["node_modules", "package-lock.json", "vendor", "dist", ".turbo"]);

/** The template used when none is chosen. */
export const DEFAULT_TEMPLATE = "basic";

/**
 * The templates this CLI ships, `basic` first.
 *
 * @param {string} [templatesDir] - default: the package's `templates/`
 * @returns {string[]}
 * @example
 * listTemplates(); // ["basic", "sse-dashboard"]
 */
export function listTemplates(templatesDir = TEMPLATES_DIR) {
  const names = readdirSync(templatesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(templatesDir, entry.name, "package.json")))
    .map((entry) => entry.name)
    .sort();
  return [...names.filter((name) => name === DEFAULT_TEMPLATE), ...names.filter((name) => name !== DEFAULT_TEMPLATE)];
}

/**
 * True when `dir` is missing or holds nothing but a `.git` folder (so running
 * the CLI right after `git init` needs no `--overwrite`).
 *
 * @param {string} dir
 * @returns {boolean}
 * @example
 * isEmptyDir("./new-app"); // true when new-app does not exist yet
 */
export function isEmptyDir(dir) {
  if (!existsSync(dir)) return true;
  const entries = readdirSync(dir);
  return entries.length === 0 || (entries.length === 1 && entries[0] === ".git");
}

/**
 * Remove everything in `dir` except `.git`, which holds history no scaffold should destroy.
 *
 * @param {string} dir
 * @example
 * emptyDir("./my-app");
 */
export function emptyDir(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    if (entry === ".git") continue;
    rmSync(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Make a valid npm package name from a folder name: lower case, spaces and other
 * disallowed characters become `-`, no leading `.` or `_`.
 *
 * @param {string} name
 * @returns {string}
 * @example
 * toValidPackageName("My Cello App"); // "my-cello-app"
 */
export function toValidPackageName(name) {
  const valid = name
    .trim()
    .toLowerCase()
    .replace(/\s+/g, "-")
    .replace(/^[._]+/, "")
    .replace(/[^a-z\d\-~._]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return valid === "" ? "cello-app" : valid;
}

/**
 * True when `name` is usable as a package.json name (scoped names included).
 *
 * @param {string} name
 * @returns {boolean}
 * @example
 * isValidPackageName("@acme/dashboard"); // true
 */
export function isValidPackageName(name) {
  return /^(?:@[a-z\d\-*~][a-z\d\-*._~]*\/)?[a-z\d\-~][a-z\d\-._~]*$/.test(name) && name.length <= 214;
}

/**
 * The package.json name for a target folder: the folder's own name, made valid.
 *
 * @param {string} targetDir - as typed (may be `.` or a nested path)
 * @param {string} [cwd] - default: `process.cwd()`
 * @returns {string}
 * @example
 * packageNameFor("apps/My Dashboard"); // "my-dashboard"
 */
export function packageNameFor(targetDir, cwd = process.cwd()) {
  const name = basename(resolve(cwd, targetDir));
  return isValidPackageName(name) ? name : toValidPackageName(name);
}

/**
 * Copy a template into `targetDir` (created if missing): stored dotfiles are
 * renamed, and package.json gets `packageName` and whatever `editManifest` changes.
 *
 * @param {object} options
 * @param {string} options.templateDir - the template folder
 * @param {string} options.targetDir - where the project goes
 * @param {string} options.packageName - written as package.json `name`
 * @param {(manifest: Record<string, any>) => void} [options.editManifest] - changes package.json in place before it is written
 * @returns {string[]} the files written, relative to `targetDir`, sorted
 * @example
 * copyTemplate({ templateDir: join(TEMPLATES_DIR, "basic"), targetDir: "my-app", packageName: "my-app" });
 */
export function copyTemplate({ templateDir, targetDir, packageName, editManifest }) {
  /** @type {string[]} */
  const written = [];
  /**
   * @param {string} from
   * @param {string} to
   * @param {string} relativeDir
   */
  const copyDir = (from, to, relativeDir) => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from)) {
      if (SKIPPED.has(entry)) continue;
      const source = join(from, entry);
      const name = RENAMES[entry] ?? entry;
      const relativePath = relativeDir === "" ? name : `${relativeDir}/${name}`;
      if (statSync(source).isDirectory()) {
        copyDir(source, join(to, name), relativePath);
      } else if (relativePath === "package.json") {
        /** @type {Record<string, any>} */
        const manifest = JSON.parse(readFileSync(source, "utf8"));
        manifest.name = packageName;
        editManifest?.(manifest);
        writeFileSync(join(to, name), `${JSON.stringify(manifest, null, 2)}\n`);
        written.push(relativePath);
      } else {
        copyFileSync(source, join(to, name));
        written.push(relativePath);
      }
    }
  };
  copyDir(templateDir, targetDir, "");
  return written.sort();
}
