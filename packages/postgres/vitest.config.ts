import { defineConfig } from "vitest/config";
import { sourceResolution } from "../../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // One file at a time: cluster.test.ts restarts the PostgreSQL server, which would
    // cut the connections of any other file running at that moment.
    fileParallelism: false,
  },
});
