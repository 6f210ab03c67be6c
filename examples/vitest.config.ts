import { defineConfig } from "vitest/config";
import { sourceResolution } from "../vitest.shared.js";

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**"],
    testTimeout: 30_000,
    // Type tests (*.test-d.ts): expectTypeOf and @ts-expect-error, checked by tsc.
    typecheck: { enabled: true, include: ["**/*.test-d.ts"], exclude: ["node_modules/**"], tsconfig: "./tsconfig.json" },
  },
});
