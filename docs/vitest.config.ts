import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { sourceResolution } from "../vitest.shared.js";
import { writeSnippets } from "./scripts/extract-snippets.mjs";

const root = fileURLToPath(new URL(".", import.meta.url));

// A page's TypeScript block that imports vitest is a test file as a reader would
// paste it (guide/testing.md): extract the blocks afresh and run those, so the
// examples' assertions are checked against the real packages, not only their types.
const snippetTests = writeSnippets(root, join(root, ".snippets"))
  .filter((snippet) => /^import\s[^;]*\sfrom\s+"vitest";/m.test(snippet.source))
  .map((snippet) => `.snippets/${snippet.file}`);

export default defineConfig({
  ...sourceResolution,
  test: {
    include: ["test/**/*.test.ts", ...snippetTests],
    testTimeout: 30_000,
  },
});
