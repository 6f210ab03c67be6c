import { defineConfig } from "vitest/config";
import { sourceResolution } from "../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**"],
    testTimeout: 30_000,
  },
});
