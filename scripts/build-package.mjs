#!/usr/bin/env node
/**
 * Build the package in the current folder as it is published: empty `dist/`,
 * then compile `src/` with the package's `tsconfig.build.json` and its own
 * TypeScript. The `build` and `prepack` scripts (`pnpm pack` and `pnpm publish`
 * run the latter) both call this, so a tarball never ships a stale file.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const packageDir = process.cwd();
rmSync(join(packageDir, "dist"), { recursive: true, force: true });
const require = createRequire(join(packageDir, "package.json"));
const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc");
const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: packageDir, stdio: "inherit" });
process.exitCode = result.status ?? 1;
