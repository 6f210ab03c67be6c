/**
 * The shapes the OpenAPI plugin reads and takes: its options, a route's own
 * docs (`RouteOptions.openapi`), a docs UI, and the Standard JSON Schema view
 * of a schema it converts. Guards and schemas are the real `Guard` (guards/)
 * and `RouteSchema` (validation/) types.
 */
import type { RouteInfo } from "../../routes.js";

/** What a route says about itself in the OpenAPI document: `RouteOptions.openapi`. */
export interface OperationDocs {
  /** One line shown next to the path. */
  summary?: string;
  /** Longer text (CommonMark). */
  description?: string;
  /** Groups in the docs UI. */
  tags?: string[];
  /** Default: derived from method and path, e.g. `get_notifications_stream`. Must be unique. */
  operationId?: string;
  /** Marks the operation deprecated. */
  deprecated?: boolean;
  /** Leave this route out of the document. */
  exclude?: boolean;
}

/** A docs UI the plugin serves at `docsPath`: its page and the files that page loads. */
export interface OpenapiUi {
  /** Name for messages (`"Scalar"`). */
  name: string;
  /**
   * The HTML page. URLs are relative to the page (`documentUrl` is e.g. `openapi.json`,
   * `assetsUrl` e.g. `docs/`), so the page works behind a proxy that adds a prefix.
   */
  page(context: { title: string; documentUrl: string; assetsUrl: string }): string;
  /** Files the page loads, by file name: each served at `<docsPath>/<name>`. */
  assets: Record<string, { file: string; contentType: string }>;
}

/** Options of `app.enableOpenapi(options)` and `openapi(options)`. */
export interface OpenapiOptions {
  /** `"3.2.0"` (default) or `"3.1.1"`. In 3.1 an SSE response has no `itemSchema`: see the guide. */
  openapi?: "3.2.0" | "3.1.1";
  /** `info.title`. Default `"Cello.ts API"`. */
  title?: string;
  /** `info.version` (of your API). Default `"1.0.0"`. */
  version?: string;
  /** `info.description` (CommonMark). */
  description?: string;
  /** `servers`, e.g. `[{ url: "https://api.example.com" }]`. Default: none (the document's own origin). */
  servers?: Array<{ url: string; description?: string }>;
  /** Where the document is served. Default `/openapi.json`. */
  path?: string;
  /** Where the docs UI is served (with `ui`). Default `/docs`; `false` for none. */
  docsPath?: string | false;
  /** The docs UI, e.g. `scalarUi()` from `@cellojs/openapi`. Without it only the document is served. */
  ui?: OpenapiUi;
  /** Routes to leave out: exact paths, RegExps over the path, or a predicate. The document and docs routes are always left out. */
  exclude?: Array<string | RegExp> | ((route: RouteInfo) => boolean);
  /**
   * Converts a schema that does not implement Standard JSON Schema (`~standard.jsonSchema`),
   * e.g. a plain valibot schema: `(schema, io) => toJsonSchema(schema)`. Return undefined to refuse.
   */
  toJsonSchema?: (schema: StandardSchemaLike, io: "input" | "output") => Record<string, unknown> | undefined;
}

/** The part of a Standard Schema (and Standard JSON Schema) the document reads. */
export interface StandardSchemaLike {
  readonly "~standard": {
    readonly vendor: string;
    readonly jsonSchema?: {
      input(options: { target: string }): Record<string, unknown>;
      output(options: { target: string }): Record<string, unknown>;
    };
  };
}
