/**
 * Which content types are worth compressing.
 *
 * Why not the `compressible` package (what Express's `compression` uses): it
 * loads mime-db, about 190 KB of JSON parsed into every app that imports
 * @cellojs/core, whether it compresses or not. The types it marks compressible
 * fit in one expression: the same approach Hono's compress middleware takes.
 */

// text/* (SSE is handled on its own: text/event-stream is opted in per route), JSON, XML,
// JavaScript, YAML and +json/+xml/+text/+yaml suffixes, forms, SVG, WebAssembly, and
// the few uncompressed font and image formats. Everything else (JPEG, PNG, WebP, video,
// zip, woff2, ...) is already compressed: a second pass costs CPU and saves nothing.
const COMPRESSIBLE =
  /^\s*(?:text\/[^;\s]+|application\/(?:javascript|ecmascript|json|x-ndjson|ld\+json|manifest\+json|xml|xml-dtd|xhtml\+xml|rss\+xml|atom\+xml|yaml|x-yaml|toml|graphql|x-www-form-urlencoded|x-javascript|wasm|postscript|rtf|x-sh|x-tar|vnd\.ms-fontobject|x-font-ttf|x-font-otf|x-font-opentype)|font\/(?:otf|ttf|collection)|image\/(?:svg\+xml|bmp|x-ms-bmp|x-icon|vnd\.microsoft\.icon)|[^;\s/]+\/[^;\s]+\+(?:json|xml|text|yaml))\s*(?:;|$)/i;

/**
 * Whether a body of `contentType` is worth compressing: text, JSON, XML, JavaScript, SVG,
 * WebAssembly and the like. Images, audio, video, archives and woff2 fonts are not.
 * @example isCompressible("application/json; charset=utf-8") // true
 * @example isCompressible("image/png") // false
 */
export function isCompressible(contentType: string): boolean {
  return COMPRESSIBLE.test(contentType);
}
