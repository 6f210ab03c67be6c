// Smoke test of the validation section: the whole section on the smoke profile
// (1 s rounds, 10 connections). It checks that every variant answered every
// request with the exact body, and the result's shape; nothing about speed.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SMOKE } from "../config.js";
import { runBench } from "../harness.js";
import { VALIDATION_ROUTES, VALIDATION_SECTION, VALIDATION_VARIANTS, type ValidationRow } from "./section.js";

describe("bench harness, validation section (smoke profile)", () => {
  it("measures every variant on both routes with no failure, and renders its table", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "cello-bench-validation-"));
    const { result, markdown } = await runBench({ config: SMOKE, sections: ["validation"], extraSections: [VALIDATION_SECTION], outDir, log: () => {} });
    expect(JSON.parse(readFileSync(join(outDir, "latest.json"), "utf8"))).toEqual(JSON.parse(JSON.stringify(result)));
    const rows = (result.extra.validation!.result as { rows: ValidationRow[] }).rows;
    expect(rows.map((r) => `${r.route} ${r.variant}`)).toEqual(VALIDATION_ROUTES.flatMap((route) => VALIDATION_VARIANTS.map((v) => `${route.id} ${v.id}`)));
    for (const row of rows) {
      expect(row.error, `${row.route} ${row.variant}`).toBeUndefined();
      expect(row.failures, `${row.route} ${row.variant}`).toBe(0);
      expect(row.reqPerSec).toBeGreaterThan(0);
      expect(row.ratio).not.toBeNull();
    }
    expect(markdown).toContain(`## ${VALIDATION_SECTION.title}`);
    expect(markdown).not.toContain("**FAIL**");
  });
});
