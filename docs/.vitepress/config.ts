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
  // public/favicon.ico is served at /favicon.ico in dev too, where the page asks for it before
  // VitePress adds these links (a data: URL here left `vitepress dev` answering that request with a 404).
  head: [
    ["link", { rel: "icon", href: "/favicon.ico", sizes: "48x48" }],
    ["link", { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" }],
  ],
  themeConfig: {
    nav,
    sidebar,
    search: { provider: "local" },
    outline: { level: [2, 3] },
    footer: { message: "MIT licensed." },
  },
});
