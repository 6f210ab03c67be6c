import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // The smoke test spawns real servers and load processes.
    testTimeout: 120_000,
    hookTimeout: 30_000,
  },
});
