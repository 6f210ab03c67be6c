/**
 * Scalar's API reference as the docs UI of `app.enableOpenapi()`, served from the
 * standalone bundle inside the installed `@scalar/api-reference` package: no CDN,
 * no fonts or telemetry from the network, and SSE routes shown with each event's
 * schema (OpenAPI 3.2 `itemSchema`).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { OpenapiUi } from "@cellojs/core";

/** Options of {@link scalarUi}. */
export interface ScalarUiOptions {
  /**
   * More Scalar configuration, merged over Cello's defaults (`withDefaultFonts: false`,
   * `telemetry: false`, `showToolbar: "never"`, `showDeveloperTools: "never"`,
   * `agent: { disabled: true }`, which keep the page off the network). Must be JSON:
   * it is written into the page. `url` is always the app's document.
   * @example { theme: "purple", layout: "classic" }
   */
  configuration?: Record<string, unknown>;
}

/** What keeps Scalar from loading anything but the page, its bundle and the document. */
const OFFLINE_DEFAULTS = {
  withDefaultFonts: false,
  telemetry: false,
  showToolbar: "never",
  showDeveloperTools: "never",
  agent: { disabled: true },
};

/**
 * Scalar's API reference as the docs UI of `app.enableOpenapi()`, served at `/docs`
 * (the page) and `/docs/scalar.js` (the bundle, read from disk on first request).
 * Throws at call time when `@scalar/api-reference` is not installed.
 * @example
 * import { App } from "@cellojs/core";
 * import { scalarUi } from "@cellojs/openapi";
 * const app = new App();
 * app.enableOpenapi({ title: "Notifications", ui: scalarUi() });
 */
export function scalarUi(options: ScalarUiOptions = {}): OpenapiUi {
  const bundle = join(packageRoot("@scalar/api-reference"), "dist", "browser", "standalone.js");
  if (!existsSync(bundle)) throw new Error(`@cellojs/openapi: Scalar's standalone bundle is missing at ${bundle}; reinstall @scalar/api-reference`);
  const extra = options.configuration ?? {};
  return {
    name: "Scalar",
    page({ title, documentUrl, assetsUrl }) {
      const configuration = { ...OFFLINE_DEFAULTS, ...extra, url: documentUrl };
      return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
</head>
<body>
<div id="app"></div>
<script src="${escapeHtml(assetsUrl)}scalar.js"></script>
<script>Scalar.createApiReference("#app", ${scriptJson(configuration)});</script>
</body>
</html>
`;
    },
    assets: { "scalar.js": { file: bundle, contentType: "text/javascript; charset=utf-8" } },
  };
}

/** The folder of an installed package, found from its main entry (its `exports` hide package.json). */
function packageRoot(name: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === name) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`@cellojs/openapi: cannot find the folder of ${name}`);
    dir = parent;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element: no `</script>` or `<!--` can end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
