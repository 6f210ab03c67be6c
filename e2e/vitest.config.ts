import { defineConfig } from "vitest/config";
import { sourceResolution } from "../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["src/**/*.test.ts"],
    // Packs every package once (pnpm pack runs each package's build) for all test files.
    globalSetup: ["src/pack.ts"],
    // Installs, compiles and starts real processes: generous, nothing timed.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
