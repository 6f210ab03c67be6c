/**
 * vitest global setup: pack every publishable package of the workspace once,
 * exactly as a publish would (`pnpm pack` applies `publishConfig` and runs each
 * package's `prepack` build), and hand the tarballs to the test files.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { cleanEnv, run } from "../../packages/create-app/test/helpers.js";

/** One packed package. */
export interface PackedPackage {
  name: string;
  version: string;
  /** The package's folder in this repository. */
  dir: string;
  /** The `.tgz` that `pnpm pack` wrote. */
  tarball: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    packed: PackedPackage[];
  }
}

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * How to run pnpm: the pnpm that runs us (`pnpm test` sets npm_execpath), else
 * the version `packageManager` names, through npx.
 */
export function pnpmCommand(): string[] {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath)) return [process.execPath, execPath];
  const { packageManager } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { packageManager: string };
  return ["npx", "-y", packageManager];
}

/** Every package under packages/ that is not private, in folder order. */
export function publishablePackages(): Array<{ name: string; version: string; dir: string }> {
  const packages = [];
  for (const entry of readdirSync(join(ROOT, "packages"), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(ROOT, "packages", entry.name);
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string; version: string; private?: boolean };
    if (!manifest.private) packages.push({ name: manifest.name, version: manifest.version, dir });
  }
  return packages;
}

export default async function setup(project: TestProject): Promise<() => void> {
  const destination = mkdtempSync(join(tmpdir(), "cellojs-packed-"));
  const [command, ...prefix] = pnpmCommand();
  const packed: PackedPackage[] = [];
  for (const pkg of publishablePackages()) {
    const result = await run(command!, [...prefix, "pack", "--pack-destination", destination], { cwd: pkg.dir, env: cleanEnv(), timeoutMs: 120_000 });
    const tarball = result.stdout.trim().split("\n").at(-1)?.trim() ?? "";
    if (result.code !== 0 || !tarball.endsWith(".tgz")) throw new Error(`pnpm pack failed in ${pkg.dir} (exit ${result.code}):\n${result.stdout}${result.stderr}`);
    packed.push({ ...pkg, tarball });
  }
  project.provide("packed", packed);
  return () => rmSync(destination, { recursive: true, force: true });
}
