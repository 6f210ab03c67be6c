import { defineConfig } from "vitest/config";
import { sourceResolution } from "../../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Type tests (*.test-d.ts): expectTypeOf and @ts-expect-error, checked by tsc.
    typecheck: { enabled: true, include: ["src/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
  },
});
