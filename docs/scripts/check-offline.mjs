#!/usr/bin/env node
/**
 * After `vitepress build`: fail if the site would fetch anything from another
 * host when opened (scripts, stylesheets, fonts, images). The docs must work
 * offline and load no third-party code.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const dist = fileURLToPath(new URL("../.vitepress/dist/", import.meta.url));

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

// What a browser loads by itself: <script src>, <link href> (stylesheet, preload, icon),
// <img>/<source>/<iframe> src, and CSS url()/@import. Plain <a href> links are fine.
const HTML_LOADS = /<(?:script|img|source|iframe|audio|video)\b[^>]*\ssrc="(?:https?:)?\/\/|<link\b[^>]*\shref="(?:https?:)?\/\//gi;
const CSS_LOADS = /url\(\s*["']?(?:https?:)?\/\/|@import\s+["'](?:https?:)?\/\//gi;

const problems = [];
for (const file of files(dist)) {
  const pattern = file.endsWith(".html") ? HTML_LOADS : file.endsWith(".css") ? CSS_LOADS : undefined;
  if (!pattern) continue;
  const text = readFileSync(file, "utf8");
  for (const match of text.matchAll(pattern)) {
    problems.push(`${relative(dist, file)}: ${text.slice(match.index, match.index + 120).replace(/\s+/g, " ")}`);
  }
}
if (problems.length > 0) {
  console.error(`The built site loads ${problems.length} external resource(s):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`offline check: ${files(dist).length} files, no external scripts, stylesheets or fonts`);
