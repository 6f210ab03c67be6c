import { defineConfig } from "vitest/config";
import { sourceResolution } from "../../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    // The templates' own tests run here too, in place, against the workspace packages;
    // test/e2e.test.ts runs them again in a generated, npm-installed app.
    include: ["test/**/*.test.ts", "templates/*/src/**/*.test.ts"],
    // Generous: the first scaffold builds and packs the workspace packages it vendors, which
    // took over 30 s once on a loaded 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
