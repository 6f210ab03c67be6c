// Guards from decorators (`@controller(prefix, { guards })`, `@get(path, { guards })`,
// `@app.get`) merge the same under both decorator semantics: vitest runs the
// legacy ones, tsx the standard (TC39) ones (vitest 4 cannot, see decorators-tools.test.ts).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const coreDir = fileURLToPath(new URL("../..", import.meta.url));
const fixture = join(coreDir, "src/fixtures/guarded-app.ts");
const expected = {
  "/outer/inner/c/r": ["app", "app-late", "outer", "inner", "controller", "route"],
  "/c/r": ["app", "app-late", "controller", "route"],
  "/direct": ["app", "app-late", "route"],
};

describe("guards merge app > blueprint > controller > route under both decorator semantics", () => {
  it("legacy (vitest)", async () => {
    const { guardOrders, semantics } = await import("../fixtures/guarded-app.js");
    expect({ semantics, orders: await guardOrders() }).toEqual({ semantics: "legacy", orders: expected });
  });

  it("standard (tsx)", () => {
    const dir = mkdtempSync(join(coreDir, ".tsc-out-"));
    const tsconfig = join(dir, "tsconfig.json");
    writeFileSync(tsconfig, JSON.stringify({ extends: "../../../tsconfig.base.json", compilerOptions: { experimentalDecorators: false }, include: ["../src/**/*.ts"] }));
    try {
      const out = execFileSync(process.execPath, ["--import", "tsx", fixture], { cwd: coreDir, encoding: "utf8", env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig } });
      expect(JSON.parse(out)).toEqual({ semantics: "standard", orders: expected });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
