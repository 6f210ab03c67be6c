import { defineConfig } from "vitest/config";
import { sourceResolution } from "../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["src/**/*.test.ts"],
    // The smoke test spawns real servers and load processes.
    testTimeout: 120_000,
    hookTimeout: 30_000,
  },
});
