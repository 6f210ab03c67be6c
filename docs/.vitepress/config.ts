import { defineConfig } from "vitepress";
import { nav, sidebar } from "./sidebar.js";

// Everything the site needs ships in the build: the default theme's fonts are
// bundled by VitePress, search is the local (in-page) index, and there are no
// analytics or external scripts. scripts/check-offline.mjs checks the output.
export default defineConfig({
  title: "Cello.ts",
  description: "Cello's App API for TypeScript, with Server-Sent Events that really stream.",
  lang: "en-US",
  cleanUrls: true,
  lastUpdated: false,
  // Dead links fail the build (VitePress's default): never set ignoreDeadLinks.
  srcExclude: ["README.md", "node_modules/**", ".snippets/**"],
  // No icon file to fetch: browsers would otherwise ask for /favicon.ico and log a 404.
  head: [["link", { rel: "icon", href: "data:," }]],
  themeConfig: {
    nav,
    sidebar,
    search: { provider: "local" },
    outline: { level: [2, 3] },
    footer: { message: "MIT licensed." },
  },
});
