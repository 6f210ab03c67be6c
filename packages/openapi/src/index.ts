/**
 * @cellojs/openapi: the docs UI for `app.enableOpenapi()` (the document itself is
 * built by @cellojs/core, which needs no dependency for it).
 * @packageDocumentation
 */
export { scalarUi, type ScalarUiOptions } from "./scalar.js";
