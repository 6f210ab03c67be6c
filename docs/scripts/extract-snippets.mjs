#!/usr/bin/env node
/**
 * Extract every ```ts / ```typescript block of the docs' Markdown pages into
 * `.snippets/<page>-<n>.ts`, one module per block, so `tsc -p
 * tsconfig.snippets.json` type-checks the docs exactly as a reader would paste
 * them. Run from anywhere: `node docs/scripts/extract-snippets.mjs`.
 *
 * Each file starts with one comment line naming the page and the line the
 * block's code starts on, so line L of a snippet is line `start + L - 2` of the page.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Fence languages whose blocks are extracted and type-checked. */
export const CHECKED_LANGUAGES = new Set(["ts", "typescript"]);

/**
 * @typedef {object} CodeBlock
 * @property {string} lang   The fence's language (first word of the info string), lower case.
 * @property {string} code   The block's content, without the fences and the fence's indentation.
 * @property {number} line   1-based line of the page where the block's content starts.
 */

/**
 * Find the fenced code blocks of a Markdown text (CommonMark fences: three or
 * more backticks or tildes, closed by a fence of the same character at least
 * as long). VitePress info strings such as `ts{2,4}`, `ts:line-numbers` and
 * `ts [app.ts]` give the language `ts`.
 *
 * @param {string} markdown
 * @returns {CodeBlock[]}
 * @example findCodeBlocks("```ts\nconst a = 1;\n```\n") // [{ lang: "ts", code: "const a = 1;\n", line: 2 }]
 */
export function findCodeBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  /** @type {CodeBlock[]} */
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})(.*)$/.exec(/** @type {string} */ (lines[i]));
    if (!open) continue;
    const [, indent = "", fence = "", info = ""] = open;
    // A backtick fence's info string may not contain a backtick (CommonMark 4.5).
    if (fence[0] === "`" && info.includes("`")) continue;
    const lang = (/^\s*([^\s{:[]*)/.exec(info)?.[1] ?? "").toLowerCase();
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = /** @type {string} */ (lines[j]);
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
      if (close && close[1]?.[0] === fence[0] && /** @type {string} */ (close[1]).length >= fence.length) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    blocks.push({ lang, code: body.length ? `${body.join("\n")}\n` : "", line: i + 2 });
    i = j;
  }
  return blocks;
}

/**
 * Every Markdown page under `root`, as paths relative to it with `/`
 * separators, sorted; folders starting with `.`, node_modules and the
 * top-level README.md (not a page of the site) are skipped.
 *
 * @param {string} root
 * @returns {string[]}
 */
export function listPages(root) {
  /** @type {string[]} */
  const pages = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md") && !(dir === root && entry.name === "README.md")) {
        pages.push(relative(root, path).split(sep).join("/"));
      }
    }
  };
  walk(root);
  return pages.sort();
}

/**
 * The snippet file name of block `n` (1-based) of `page`:
 * `guide/sse.md`, 2 -> `guide-sse-2.ts`.
 *
 * @param {string} page
 * @param {number} n
 */
export function snippetName(page, n) {
  return `${page.replace(/\.md$/, "").replaceAll("/", "-")}-${n}.ts`;
}

/**
 * @typedef {object} Snippet
 * @property {string} file   Path relative to the output folder.
 * @property {string} page   The page it came from, relative to the docs root.
 * @property {number} line   Line of the page where the code starts.
 * @property {string} source The file's full text.
 */

/**
 * Build the snippet files of the pages under `root` (without writing them).
 * Throws for a fence language that looks like TypeScript but would escape the
 * check (`ts-nocheck`, `tsx`, ...): docs blocks either type-check or are `text`.
 *
 * @param {string} root
 * @returns {Snippet[]}
 */
export function collectSnippets(root) {
  /** @type {Snippet[]} */
  const snippets = [];
  for (const page of listPages(root)) {
    let n = 0;
    for (const block of findCodeBlocks(readFileSync(join(root, page), "utf8"))) {
      if (!CHECKED_LANGUAGES.has(block.lang)) {
        if (/^(ts|typescript|tsx|mts|cts)\b/.test(block.lang)) {
          throw new Error(`${page}:${block.line - 1}: fence language "${block.lang}" is not type-checked; use \`ts\` (checked) or \`text\``);
        }
        continue;
      }
      n++;
      const file = snippetName(page, n);
      // `export {}` makes every block its own module, so names never clash across blocks.
      const source = `// ${page}:${block.line} (generated by scripts/extract-snippets.mjs; edit the page, not this file)\n${block.code}\nexport {};\n`;
      snippets.push({ file, page, line: block.line, source });
    }
  }
  return snippets;
}

/**
 * Replace the contents of `outDir` with the snippets of the pages under `root`.
 *
 * @param {string} root
 * @param {string} outDir
 * @returns {Snippet[]}
 */
export function writeSnippets(root, outDir) {
  const snippets = collectSnippets(root);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  for (const snippet of snippets) writeFileSync(join(outDir, snippet.file), snippet.source);
  return snippets;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const snippets = writeSnippets(root, join(root, ".snippets"));
  const pages = new Set(snippets.map((s) => s.page)).size;
  console.log(`extracted ${snippets.length} TypeScript blocks from ${pages} pages into docs/.snippets/`);
}
