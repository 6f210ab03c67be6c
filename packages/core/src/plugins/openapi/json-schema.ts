/**
 * Route schemas to JSON Schema for the OpenAPI document. The schema library
 * converts (Standard JSON Schema, `~standard.jsonSchema`, which zod 4 and
 * arktype implement and valibot's `toStandardJsonSchema()` adds); this module
 * only places the result into the document: `$defs` become
 * `#/components/schemas` entries and a schema that refers to its own root
 * (`"$ref": "#"`, recursion) is stored as a component itself, because inside
 * an OpenAPI document `#` is the document, not the schema.
 */
import { isDeepStrictEqual } from "node:util";
import { CelloError } from "../../errors.js";
import type { OpenapiOptions, StandardSchemaLike } from "./types.js";

/** A JSON Schema object (or a boolean schema). */
export type JsonSchema = Record<string, unknown> | boolean;

/** Whether `value` looks like a Standard Schema (what `options.schema` entries must be). */
export function isStandardSchema(value: unknown): value is StandardSchemaLike {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as { "~standard"?: unknown })["~standard"] === "object";
}

/** Collects the `components.schemas` of one document while its routes' schemas are converted. */
export class SchemaComponents {
  readonly schemas: Record<string, JsonSchema> = {};
  readonly #toJsonSchema: OpenapiOptions["toJsonSchema"];

  constructor(toJsonSchema: OpenapiOptions["toJsonSchema"]) {
    this.#toJsonSchema = toJsonSchema;
  }

  /**
   * The JSON Schema of `schema` ready to sit in the document: `io` "input" for what a
   * client sends (params, query, headers, body), "output" for what it receives.
   * @param where - names the route and the slot in errors, e.g. `GET /users/{id} schema.query`.
   * @param name - the component name used if the schema must become a component (recursion).
   * @throws CelloError `CELLO_OPENAPI_SCHEMA` when it is no schema or has no JSON Schema form.
   */
  convert(schema: unknown, io: "input" | "output", where: string, name: string): JsonSchema {
    if (!isStandardSchema(schema)) {
      throw new CelloError("CELLO_OPENAPI_SCHEMA", `${where} is not a Standard Schema (zod 4, valibot, arktype...)`);
    }
    const raw = this.#raw(schema, io, where);
    return this.#place(structuredClone(raw) as JsonSchema, name);
  }

  #raw(schema: StandardSchemaLike, io: "input" | "output", where: string): JsonSchema {
    const standard = schema["~standard"];
    const vendor = typeof standard.vendor === "string" ? standard.vendor : "unknown";
    let result: unknown;
    try {
      if (standard.jsonSchema !== undefined && typeof standard.jsonSchema[io] === "function") {
        result = standard.jsonSchema[io]({ target: "draft-2020-12" });
      } else if (this.#toJsonSchema !== undefined) {
        result = this.#toJsonSchema(schema, io);
        if (result === undefined) throw new Error("the toJsonSchema option returned undefined for it");
      } else {
        const hint = vendor === "valibot" ? ": wrap it with toStandardJsonSchema() from @valibot/to-json-schema" : ", and no toJsonSchema option was given";
        throw new Error(`the ${vendor} schema does not implement Standard JSON Schema (~standard.jsonSchema)${hint}`);
      }
    } catch (err) {
      throw new CelloError("CELLO_OPENAPI_SCHEMA", `${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (typeof result !== "boolean" && (typeof result !== "object" || result === null || Array.isArray(result))) {
      throw new CelloError("CELLO_OPENAPI_SCHEMA", `${where}: the ${vendor} converter returned ${result === null ? "null" : typeof result}, not a JSON Schema`);
    }
    return result as JsonSchema;
  }

  /** Move `$defs` into components and rewrite every local `$ref` to point into the document. */
  #place(schema: JsonSchema, name: string): JsonSchema {
    if (typeof schema === "boolean") return schema;
    delete schema.$schema;
    const defs = (schema.$defs ?? {}) as Record<string, JsonSchema>;
    delete schema.$defs;
    // Each $def gets a component name; a name already taken by a different schema gets a suffix.
    const renamed = new Map<string, string>();
    for (const key of Object.keys(defs)) renamed.set(key, this.#freeName(key, defs[key]!));
    let rootName: string | undefined;
    const rewrite = (ref: string): string => {
      const def = /^#\/\$defs\/([^/]+)(.*)$/.exec(ref);
      if (def) {
        const key = decodePointer(def[1]!);
        const target = renamed.get(key);
        if (target !== undefined) return `#/components/schemas/${encodePointer(target)}${def[2]}`;
      }
      if (ref === "#" || ref.startsWith("#/")) {
        rootName ??= this.#freeName(name, undefined);
        return `#/components/schemas/${encodePointer(rootName)}${ref.slice(1)}`;
      }
      return ref;
    };
    for (const [key, def] of Object.entries(defs)) {
      const target = renamed.get(key)!;
      this.schemas[target] ??= rewriteRefs(def, rewrite) as JsonSchema;
    }
    const placed = rewriteRefs(schema, rewrite) as Record<string, unknown>;
    if (rootName === undefined) return placed;
    this.schemas[rootName] = placed;
    return { $ref: `#/components/schemas/${encodePointer(rootName)}` };
  }

  /** `wanted` if free (or already holding an equal schema), else `wanted_2`, `wanted_3`... */
  #freeName(wanted: string, schema: JsonSchema | undefined): string {
    const base = wanted.replace(/[^A-Za-z0-9._-]/g, "_") || "Schema";
    for (let n = 1; ; n++) {
      const candidate = n === 1 ? base : `${base}_${n}`;
      const existing = this.schemas[candidate];
      if (existing === undefined) return candidate;
      if (schema !== undefined && isDeepStrictEqual(existing, schema)) return candidate;
    }
  }
}

function rewriteRefs(value: unknown, rewrite: (ref: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteRefs(item, rewrite));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = key === "$ref" && typeof inner === "string" ? rewrite(inner) : rewriteRefs(inner, rewrite);
  }
  return out;
}

function encodePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function decodePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
