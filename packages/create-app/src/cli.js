// @ts-check
/**
 * The create-app command: parse flags, ask what is missing (on a TTY only),
 * refuse to clobber, vendor local packages, copy the template, say what next.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CancelledError, createPrompter } from "./prompt.js";
import { copyTemplate, DEFAULT_TEMPLATE, emptyDir, isEmptyDir, listTemplates, packageNameFor, TEMPLATES_DIR } from "./scaffold.js";
import { findMonorepo, vendorPackages } from "./vendor.js";

/** The project folder used when none is given. */
export const DEFAULT_PROJECT_NAME = "cello-app";

/** Dependency fields of a template whose `@cellojs/*` entries get vendored. */
const TEMPLATE_DEPENDENCY_FIELDS = ["dependencies", "devDependencies"];

/**
 * Streams and folder the CLI talks to; tests and embedders pass their own.
 * @typedef {object} CliIo
 * @property {string} cwd
 * @property {NodeJS.ReadableStream & { isTTY?: boolean }} stdin
 * @property {NodeJS.WritableStream & { isTTY?: boolean }} stdout
 * @property {NodeJS.WritableStream} stderr
 */

/**
 * The usage text printed by `--help`.
 * @param {string[]} templates
 * @returns {string}
 * @example
 * usage(["basic", "sse-dashboard"]).startsWith("Usage: create-app"); // true
 */
export function usage(templates) {
  const width = Math.max(...templates.map((name) => name.length));
  const lines = templates.map((name) => `  ${name.padEnd(width)}  ${templateDescription(name)}`);
  return `Usage: create-app [directory] [options]

Create a Cello.ts app in <directory> (default: ${DEFAULT_PROJECT_NAME}).

Options:
  -t, --template <name>  template to use (default: ${DEFAULT_TEMPLATE})
      --overwrite        empty a non-empty directory first (a .git folder is kept)
      --no-interactive   never prompt: take the defaults for what is not given
  -h, --help             show this help

Prompts for the directory and template appear only when stdin and stdout are
terminals and --no-interactive is absent.

Templates:
${lines.join("\n")}

Examples:
  npx create-app my-app
  npx create-app my-dashboard --template sse-dashboard
  npx create-app my-app --template basic --overwrite --no-interactive

Run \`npx create-app\` at the root of a Cello.ts checkout. The published package
is @cellojs/create-app: \`npm create @cellojs/app my-app\` or
\`npx @cellojs/create-app my-app\` (the bare create-app on the npm registry is
an unrelated package).
`;
}

/** @param {string} name */
function templateDescription(name) {
  try {
    return String(JSON.parse(readFileSync(join(TEMPLATES_DIR, name, "package.json"), "utf8")).description ?? "");
  } catch {
    return "";
  }
}

/**
 * Run the CLI. Resolves to the process exit code; never throws.
 *
 * @param {string[]} argv - the arguments after `create-app`
 * @param {Partial<CliIo>} [io] - default: the process's cwd and standard streams
 * @returns {Promise<number>}
 * @example
 * process.exitCode = await main(["my-app", "--template", "basic", "--no-interactive"]);
 */
export async function main(argv, io = {}) {
  const { cwd = process.cwd(), stdin = process.stdin, stdout = process.stdout, stderr = process.stderr } = io;
  const templates = listTemplates();
  /** @param {string} message */
  const fail = (message) => {
    stderr.write(`create-app: ${message}\n`);
    return 1;
  };

  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        template: { type: "string", short: "t" },
        overwrite: { type: "boolean", default: false },
        "no-interactive": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    return fail(`${/** @type {Error} */ (err).message}\nRun create-app --help for usage.`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(usage(templates));
    return 0;
  }
  if (positionals.length > 1) return fail(`expected one directory, got ${positionals.length}: ${positionals.join(" ")}\nRun create-app --help for usage.`);
  if (values.template !== undefined && !templates.includes(values.template)) {
    return fail(`unknown template "${values.template}". Available templates: ${templates.join(", ")}`);
  }

  const interactive = !values["no-interactive"] && stdin.isTTY === true && stdout.isTTY === true;
  const prompter = interactive ? createPrompter(stdin, stdout) : undefined;
  try {
    let directory = positionals[0];
    if (directory === undefined) {
      directory = prompter
        ? await prompter.text("Project name", DEFAULT_PROJECT_NAME, (value) => (value.trim() === "" ? "The project name cannot be empty." : undefined))
        : DEFAULT_PROJECT_NAME;
    }
    directory = directory.trim();
    // Trailing slashes from shell completion would otherwise name the package "".
    if (directory.length > 1) directory = directory.replace(/[\\/]+$/, "");
    const targetDir = resolve(cwd, directory);
    const shownDir = relative(cwd, targetDir) || ".";

    if (existsSync(targetDir) && !statSync(targetDir).isDirectory()) return fail(`"${shownDir}" exists and is not a directory.`);
    let replace = false;
    if (!isEmptyDir(targetDir)) {
      if (values.overwrite) {
        replace = true;
      } else if (prompter) {
        replace = await prompter.confirm(`Directory "${shownDir}" is not empty. Remove its files (a .git folder is kept) and continue?`);
        if (!replace) return fail("cancelled: nothing was changed.");
      } else {
        return fail(`directory "${shownDir}" is not empty. Nothing was changed.\nUse --overwrite to replace its contents, or choose another directory.`);
      }
    }

    const template =
      values.template ??
      (prompter
        ? await prompter.select(
            "Select a template:",
            templates.map((name) => ({ value: name, hint: templateDescription(name) })),
          )
        : DEFAULT_TEMPLATE);
    prompter?.close();

    const packageName = packageNameFor(directory, cwd);
    const templateDir = join(TEMPLATES_DIR, template);

    // Everything that can fail runs before the target is touched.
    const vendored = vendorLocalPackages(templateDir, (line) => stdout.write(`${line}\n`));

    stdout.write(`\nScaffolding "${template}" in ${targetDir}...\n`);
    if (replace) emptyDir(targetDir);
    copyTemplate({
      templateDir,
      targetDir,
      packageName,
      editManifest: (manifest) => pointAtVendored(manifest, vendored),
    });
    if (vendored.length > 0) {
      mkdirSync(join(targetDir, "vendor"), { recursive: true });
      for (const pkg of vendored) copyFileSync(pkg.tarball, join(targetDir, "vendor", pkg.fileName));
      stdout.write(`Packed ${vendored.map((pkg) => `${pkg.name}@${pkg.version}`).join(", ")} from this checkout into vendor/ (not on a registry yet).\n`);
    }

    const cd = shownDir === "." ? [] : [`cd ${/\s/.test(shownDir) ? JSON.stringify(shownDir) : shownDir}`];
    stdout.write(`\nDone. Now run:\n\n${[...cd, "npm install", "npm run dev"].map((line) => `  ${line}`).join("\n")}\n\n`);
    return 0;
  } catch (err) {
    if (err instanceof CancelledError) {
      stdout.write("\n");
      return fail("cancelled: nothing was changed.");
    }
    return fail(err instanceof Error ? err.message : String(err));
  } finally {
    prompter?.close();
  }
}

/**
 * When this CLI runs from a Cello.ts checkout, build and pack the `@cellojs/*`
 * packages the template depends on. Outside one, nothing is vendored and the
 * template's registry ranges stay.
 * @param {string} templateDir
 * @param {(line: string) => void} log
 * @returns {import("./vendor.js").VendoredPackage[]}
 */
function vendorLocalPackages(templateDir, log) {
  const root = findMonorepo(dirname(fileURLToPath(import.meta.url)));
  if (root === undefined) return [];
  const manifest = JSON.parse(readFileSync(join(templateDir, "package.json"), "utf8"));
  const names = TEMPLATE_DEPENDENCY_FIELDS.flatMap((field) => Object.keys(manifest[field] ?? {})).filter((name) => name.startsWith("@cellojs/"));
  if (names.length === 0) return [];
  return vendorPackages({ root, names, log });
}

/**
 * Point the app's `@cellojs/*` dependencies at the vendored tarballs. The
 * `overrides` matter for the packages' own dependencies on each other
 * (`@cellojs/testing` -> `@cellojs/core@0.1.0`), which npm would otherwise
 * look up on the registry; npm accepts an override of a direct dependency
 * only when both specs are identical, hence the same `file:` spec in both.
 * @param {Record<string, any>} manifest
 * @param {import("./vendor.js").VendoredPackage[]} vendored
 */
function pointAtVendored(manifest, vendored) {
  if (vendored.length === 0) return;
  /** @type {Record<string, string>} */
  const overrides = { ...manifest.overrides };
  for (const pkg of vendored) {
    const spec = `file:vendor/${pkg.fileName}`;
    for (const field of TEMPLATE_DEPENDENCY_FIELDS) {
      if (manifest[field]?.[pkg.name] !== undefined) manifest[field][pkg.name] = spec;
    }
    overrides[pkg.name] = spec;
  }
  manifest.overrides = overrides;
}
