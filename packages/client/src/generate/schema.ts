/**
 * JSON Schema (the 2020-12 dialect of OpenAPI 3.1 and 3.2) checked and
 * rewritten for json-schema-to-typescript, which compiles the draft-07 style:
 *
 * - only the keywords that shape a TypeScript type are copied (a whitelist:
 *   nothing from the document, such as json-schema-to-typescript's own
 *   `tsType`, can put text of its choice into the generated module);
 * - a `$ref` to `#/components/schemas/<name>` becomes a reference to that
 *   component's generated type; any other local `$ref` is inlined; no `$ref`
 *   reaches json-schema-to-typescript, so it never reads a file or a URL;
 * - `prefixItems` + `items` become draft-07 tuples (`items: [...]` + `additionalItems`);
 * - keywords that only narrow the values (`not`, `if`/`then`/`else`,
 *   `pattern`, `minimum`...) are dropped: the type is wider, never wrong;
 * - constructs that cannot be typed soundly are refused with an
 *   {@link OpenApiDocumentError} naming their JSON Pointer: `$dynamicRef`,
 *   `$recursiveRef`, a remote or unresolvable `$ref`, OpenAPI 3.0's `nullable`,
 *   an unknown `type`, a schema that is neither an object nor a boolean.
 */
import { OpenApiDocumentError } from "../errors.js";
import { describe, escapePointer, isObject, lookupPointer } from "./json.js";

/** A JSON Schema as handed to json-schema-to-typescript (`tsType` is its escape hatch for a literal TypeScript type). */
export type JsonSchema = Record<string, unknown>;

const TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);
const COMPONENT_PREFIX = "#/components/schemas/";
/** Deeper than any schema a person writes; far from the stack's limit. */
const MAX_DEPTH = 100;
/** Names the generated module declares itself, or uses from the global scope. */
const RESERVED = new Set(["Api", "Blob", "Streams", "streams"]);

export class SchemaReader {
  readonly #document: Record<string, unknown>;
  /** Component name -> generated type name. */
  readonly #names = new Map<string, string>();
  /** Pointers being inlined, to refuse a cycle that does not go through a component. */
  readonly #inlining = new Set<string>();
  /** How deep read() is, to refuse a nesting that would overflow the stack (here or in the compiler). */
  #depth = 0;

  constructor(document: Record<string, unknown>) {
    this.#document = document;
    const components = document.components;
    if (components === undefined) return;
    if (!isObject(components)) throw new OpenApiDocumentError("#/components", `expected an object, got ${describe(components)}`);
    const schemas = components.schemas ?? {};
    if (!isObject(schemas)) throw new OpenApiDocumentError("#/components/schemas", `expected an object, got ${describe(schemas)}`);
    const taken = new Set(RESERVED);
    for (const name of Object.keys(schemas)) {
      const base = typeName(name);
      let unique = base;
      for (let suffix = 2; taken.has(unique); suffix += 1) unique = `${base}${suffix}`;
      taken.add(unique);
      this.#names.set(name, unique);
    }
  }

  /** Every component schema, read, with its generated type name. */
  components(): Array<{ name: string; pointer: string; schema: JsonSchema }> {
    const schemas = (this.#document.components as { schemas?: Record<string, unknown> } | undefined)?.schemas ?? {};
    return [...this.#names].map(([name, typeName]) => {
      const pointer = `${COMPONENT_PREFIX}${escapePointer(name)}`;
      return { name: typeName, pointer, schema: this.read(schemas[name], pointer) };
    });
  }

  /** Follows `$ref`s (local ones only) to an object schema, for reading its structure. */
  resolve(value: unknown, pointer: string): { value: Record<string, unknown>; pointer: string } {
    let current = value;
    let currentPointer = pointer;
    for (let hops = 0; isObject(current) && typeof current.$ref === "string"; hops += 1) {
      if (hops > 20) throw new OpenApiDocumentError(pointer, `$ref chain too long or circular`);
      const ref = current.$ref;
      current = this.#target(ref, `${currentPointer}/$ref`);
      currentPointer = ref;
    }
    if (!isObject(current)) throw new OpenApiDocumentError(currentPointer, `expected a schema object, got ${describe(current)}`);
    return { value: current, pointer: currentPointer };
  }

  /** Checks `value` as a schema and returns its rewritten copy. */
  read(value: unknown, pointer: string): JsonSchema {
    if (this.#depth >= MAX_DEPTH) throw new OpenApiDocumentError(pointer, `schemas nested more than ${MAX_DEPTH} levels deep are not supported`);
    this.#depth += 1;
    try {
      return this.#read(value, pointer);
    } finally {
      this.#depth -= 1;
    }
  }

  #read(value: unknown, pointer: string): JsonSchema {
    if (value === true) return {};
    if (value === false) return { tsType: "never" };
    if (!isObject(value)) throw new OpenApiDocumentError(pointer, `expected a schema (an object or a boolean), got ${describe(value)}`);
    for (const keyword of ["$dynamicRef", "$recursiveRef"] as const) {
      if (value[keyword] !== undefined) throw new OpenApiDocumentError(`${pointer}/${keyword}`, `${keyword} is not supported: use a $ref to #/components/schemas/`);
    }
    if (value.nullable !== undefined) {
      throw new OpenApiDocumentError(`${pointer}/nullable`, `"nullable" is OpenAPI 3.0, not JSON Schema: write type: [..., "null"] (OpenAPI 3.1+)`);
    }

    const out: JsonSchema = {};
    if (typeof value.description === "string") out.description = value.description;
    if (value.deprecated === true) out.deprecated = true;
    if (value.type !== undefined) out.type = checkType(value.type, `${pointer}/type`);
    if (value.const !== undefined) out.const = value.const;
    if (value.enum !== undefined) {
      if (!Array.isArray(value.enum)) throw new OpenApiDocumentError(`${pointer}/enum`, `expected an array, got ${describe(value.enum)}`);
      out.enum = value.enum;
    }
    if (value.required !== undefined) {
      if (!Array.isArray(value.required) || !value.required.every((name) => typeof name === "string")) {
        throw new OpenApiDocumentError(`${pointer}/required`, `expected an array of property names`);
      }
      out.required = value.required;
    }
    for (const keyword of ["properties", "patternProperties"] as const) {
      const map = value[keyword];
      if (map === undefined) continue;
      if (!isObject(map)) throw new OpenApiDocumentError(`${pointer}/${keyword}`, `expected an object of schemas, got ${describe(map)}`);
      out[keyword] = Object.fromEntries(Object.entries(map).map(([name, schema]) => [name, this.read(schema, `${pointer}/${keyword}/${escapePointer(name)}`)]));
    }
    if (value.additionalProperties !== undefined) out.additionalProperties = this.#schemaOrBoolean(value.additionalProperties, `${pointer}/additionalProperties`);
    for (const keyword of ["allOf", "anyOf", "oneOf"] as const) {
      const list = value[keyword];
      if (list === undefined) continue;
      if (!Array.isArray(list) || list.length === 0) throw new OpenApiDocumentError(`${pointer}/${keyword}`, `expected a non-empty array of schemas`);
      out[keyword] = list.map((schema, index) => this.read(schema, `${pointer}/${keyword}/${index}`));
    }
    this.#readItems(value, pointer, out);

    if (typeof value.$ref === "string") {
      const reference = this.#reference(value.$ref, `${pointer}/$ref`);
      // 2020-12 lets keywords sit beside $ref: both apply.
      const siblings = Object.keys(out).filter((key) => key !== "description" && key !== "deprecated");
      if (siblings.length === 0) return { ...reference, ...out };
      const { description, deprecated, ...rest } = out;
      return { ...(description === undefined ? {} : { description }), ...(deprecated === undefined ? {} : { deprecated }), allOf: [reference, rest] };
    } else if (value.$ref !== undefined) {
      throw new OpenApiDocumentError(`${pointer}/$ref`, `expected a string, got ${describe(value.$ref)}`);
    }
    return out;
  }

  #readItems(value: Record<string, unknown>, pointer: string, out: JsonSchema): void {
    const { prefixItems, items } = value;
    if (prefixItems !== undefined) {
      if (!Array.isArray(prefixItems)) throw new OpenApiDocumentError(`${pointer}/prefixItems`, `expected an array of schemas`);
      out.items = prefixItems.map((schema, index) => this.read(schema, `${pointer}/prefixItems/${index}`));
      out.additionalItems = items === undefined ? true : this.#schemaOrBoolean(items, `${pointer}/items`);
    } else if (Array.isArray(items)) {
      throw new OpenApiDocumentError(`${pointer}/items`, `an array "items" is draft-07; JSON Schema 2020-12 (OpenAPI 3.1+) writes tuples with "prefixItems"`);
    } else if (items !== undefined) {
      out.items = this.#schemaOrBoolean(items, `${pointer}/items`);
    }
  }

  #schemaOrBoolean(value: unknown, pointer: string): JsonSchema | boolean {
    if (typeof value === "boolean") return value;
    return this.read(value, pointer);
  }

  /** A `$ref` as a schema: a component's type name, or the referenced schema inlined. */
  #reference(ref: string, pointer: string): JsonSchema {
    if (ref.startsWith(COMPONENT_PREFIX)) {
      const name = decodeToken(ref.slice(COMPONENT_PREFIX.length));
      const typeName = name === undefined ? undefined : this.#names.get(name);
      if (typeName !== undefined) return { tsType: typeName };
    }
    const target = this.#target(ref, pointer);
    if (this.#inlining.has(ref)) {
      throw new OpenApiDocumentError(pointer, `circular $ref ${JSON.stringify(ref)}: a recursive schema must live in #/components/schemas/`);
    }
    this.#inlining.add(ref);
    try {
      return this.read(target, ref);
    } finally {
      this.#inlining.delete(ref);
    }
  }

  #target(ref: string, pointer: string): unknown {
    if (!ref.startsWith("#")) {
      throw new OpenApiDocumentError(pointer, `unsupported $ref ${JSON.stringify(ref)}: only references inside this document (starting with "#/") are supported`);
    }
    const target = lookupPointer(this.#document, ref);
    if (target === undefined) throw new OpenApiDocumentError(pointer, `unknown $ref ${JSON.stringify(ref)}: nothing at that location`);
    return target;
  }
}

function checkType(type: unknown, pointer: string): string | string[] {
  const list = Array.isArray(type) ? type : [type];
  for (const entry of list) {
    if (typeof entry !== "string" || !TYPES.has(entry)) {
      throw new OpenApiDocumentError(pointer, `unknown type ${JSON.stringify(entry)} (expected one of ${[...TYPES].join(", ")})`);
    }
  }
  return type as string | string[];
}

function decodeToken(token: string): string | undefined {
  if (token.includes("/")) return undefined; // a pointer into a component, inlined
  try {
    return decodeURIComponent(token).replace(/~1/g, "/").replace(/~0/g, "~");
  } catch {
    return undefined;
  }
}

/**
 * A component name as a TypeScript identifier json-schema-to-typescript keeps
 * as it is: PascalCase ASCII letters and digits (`user-profile` -> `UserProfile`).
 */
export function typeName(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((word) => word !== "");
  // Capitals after digits too, as json-schema-to-typescript's own naming does (`v2beta` -> `V2Beta`).
  const joined = words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join("").replace(/(\d)([a-z])/g, (_, digit: string, letter: string) => digit + letter.toUpperCase());
  if (joined === "") return "Schema";
  return /^[0-9]/.test(joined) ? `Schema${joined}` : joined;
}
