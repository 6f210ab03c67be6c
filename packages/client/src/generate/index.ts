/**
 * `@cellojs/client/generate`: types for `createClient` from an OpenAPI 3.1/3.2
 * document. Node only (it is what the `cello-client generate` command runs);
 * the browser entry, `@cellojs/client`, never loads it.
 */
export { generateClientTypes, type GenerateOptions } from "./generate.js";
export { OpenApiDocumentError } from "../errors.js";
