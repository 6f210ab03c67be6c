import { defineConfig } from "vitest/config";
import { sourceResolution } from "../../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    // The templates' own tests run here too, in place, against the workspace packages;
    // test/e2e.test.ts runs them again in a generated, npm-installed app.
    include: ["test/**/*.test.ts", "templates/*/src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
