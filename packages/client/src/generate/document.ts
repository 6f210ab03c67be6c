/**
 * Reads an OpenAPI 3.1 or 3.2 document into what the generated module
 * declares: one JSON Schema per component, and one JSON Schema describing the
 * whole `Api` interface (path -> method -> params, query, headers, body,
 * response, errors, events), in which every `$ref` to a component has become a
 * reference to its generated type name. Checks everything it reads and throws
 * an {@link OpenApiDocumentError} naming the JSON Pointer of the first problem.
 *
 * SSE routes follow the shape `@cellojs/core`'s OpenAPI document gives them
 * (OpenAPI 3.2 `itemSchema` on `text/event-stream`, one `oneOf` entry per
 * event name, `data` a JSON string with `contentSchema`, or a plain string).
 */
import { OpenApiDocumentError } from "../errors.js";
import { describe, escapePointer, isObject, lookupPointer } from "./json.js";
import { type JsonSchema, SchemaReader } from "./schema.js";

/** How the client decodes one event's data at run time: `JSON.parse` it, or keep the text. */
export type EventEncoding = "json" | "text";

/** What the client needs at run time about one SSE operation: each event's encoding, or `"any"` when the document lists no events. */
export type StreamDescription = Record<string, EventEncoding> | "any";

/** The document, read. */
export interface ReadDocument {
  /** `info.title` and `info.version`, and the `openapi` version, for the generated file's header. */
  title: string;
  version: string;
  openapi: string;
  /** Component schemas, by generated type name, in document order. */
  components: Array<{ name: string; pointer: string; schema: JsonSchema }>;
  /** The `Api` interface as one JSON Schema (components referenced by `tsType`). */
  api: JsonSchema;
  /** SSE operations: path -> method -> encodings. */
  streams: Record<string, Record<string, StreamDescription>>;
}

/** The operation methods of a Path Item Object, `query` being OpenAPI 3.2's. */
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace", "query"] as const;

const NEVER: JsonSchema = { tsType: "never" };

/**
 * Reads and checks `document`.
 * @throws OpenApiDocumentError for anything it cannot type; the message starts with the JSON Pointer.
 */
export function readDocument(document: unknown): ReadDocument {
  if (!isObject(document)) throw new OpenApiDocumentError("#", `not an OpenAPI document: expected a JSON object, got ${describe(document)}`);
  const version = document.openapi;
  if (typeof version !== "string") {
    const swagger = typeof document.swagger === "string" ? ` (this is Swagger ${document.swagger}: convert it to OpenAPI 3.1 first)` : "";
    throw new OpenApiDocumentError("#", `not an OpenAPI document: no "openapi" version field${swagger}`);
  }
  if (!/^3\.[12]\.\d+$/.test(version)) {
    throw new OpenApiDocumentError("#/openapi", `OpenAPI ${JSON.stringify(version)} is not supported: expected 3.1.x or 3.2.x (3.0's schemas are not JSON Schema)`);
  }
  const info = isObject(document.info) ? document.info : {};
  const schemas = new SchemaReader(document);
  const reader = new OperationReader(document, schemas);

  const pathsValue = document.paths ?? {};
  if (!isObject(pathsValue)) throw new OpenApiDocumentError("#/paths", `expected an object, got ${describe(pathsValue)}`);
  const apiProperties: Record<string, JsonSchema> = {};
  const streams: ReadDocument["streams"] = {};
  for (const [path, rawItem] of Object.entries(pathsValue)) {
    const itemPointer = `#/paths/${escapePointer(path)}`;
    if (!path.startsWith("/")) throw new OpenApiDocumentError(itemPointer, `a path must start with "/", got ${JSON.stringify(path)}`);
    const item = reader.resolveObject(rawItem, itemPointer, "#/components/pathItems/");
    const methods: Record<string, JsonSchema> = {};
    for (const method of METHODS) {
      if (item.value[method] === undefined) continue;
      const operation = reader.operation(item, method, path);
      methods[method] = operation.schema;
      if (operation.stream !== undefined) (streams[path] ??= {})[method] = operation.stream;
    }
    if (Object.keys(methods).length > 0) apiProperties[path] = objectOf(methods);
  }

  return {
    title: typeof info.title === "string" ? info.title : "",
    version: typeof info.version === "string" ? info.version : "",
    openapi: version,
    components: schemas.components(),
    api: objectOf(apiProperties),
    streams,
  };
}

/** Reads operations: parameters, request body and responses, resolving their `$ref`s. */
class OperationReader {
  readonly #document: Record<string, unknown>;
  readonly #schemas: SchemaReader;

  constructor(document: Record<string, unknown>, schemas: SchemaReader) {
    this.#document = document;
    this.#schemas = schemas;
  }

  /** An object that may be a Reference Object into `#/components/<kind>/`, followed to its target (once, and checked). */
  resolveObject(value: unknown, pointer: string, allowedPrefix: string): { value: Record<string, unknown>; pointer: string } {
    let current = value;
    let currentPointer = pointer;
    for (let hops = 0; isObject(current) && typeof current.$ref === "string"; hops += 1) {
      const ref = current.$ref;
      if (hops > 20) throw new OpenApiDocumentError(pointer, `$ref chain too long or circular at ${JSON.stringify(ref)}`);
      if (!ref.startsWith(allowedPrefix)) {
        throw new OpenApiDocumentError(`${currentPointer}/$ref`, `unsupported $ref ${JSON.stringify(ref)}: expected a reference into ${allowedPrefix} of this document`);
      }
      const target = lookupPointer(this.#document, ref);
      if (target === undefined) throw new OpenApiDocumentError(`${currentPointer}/$ref`, `unknown $ref ${JSON.stringify(ref)}: nothing at that location`);
      current = target;
      currentPointer = ref;
    }
    if (!isObject(current)) throw new OpenApiDocumentError(currentPointer, `expected an object, got ${describe(current)}`);
    return { value: current, pointer: currentPointer };
  }

  operation(
    item: { value: Record<string, unknown>; pointer: string },
    method: string,
    path: string,
  ): { schema: JsonSchema; stream: StreamDescription | undefined } {
    const pointer = `${item.pointer}/${method}`;
    const operation = this.resolveObject(item.value[method], pointer, "#/components/pathItems/").value;
    const byLocation: Record<"path" | "query" | "header", Map<string, { schema: JsonSchema; required: boolean; description?: string }>> = {
      path: new Map(),
      query: new Map(),
      header: new Map(),
    };
    // Path-level parameters first: an operation's parameter with the same name and location overrides it.
    const lists: Array<[unknown, string]> = [
      [item.value.parameters, `${item.pointer}/parameters`],
      [operation.parameters, `${pointer}/parameters`],
    ];
    for (const [list, listPointer] of lists) {
      if (list === undefined) continue;
      if (!Array.isArray(list)) throw new OpenApiDocumentError(listPointer, `expected an array of parameters, got ${describe(list)}`);
      list.forEach((raw, index) => {
        const parameter = this.resolveObject(raw, `${listPointer}/${index}`, "#/components/parameters/");
        const { name, in: location } = parameter.value;
        if (typeof name !== "string") throw new OpenApiDocumentError(parameter.pointer, `a parameter needs a string "name"`);
        if (location === "cookie") return; // Browsers send cookies themselves; fetch cannot set them.
        if (location !== "path" && location !== "query" && location !== "header") {
          throw new OpenApiDocumentError(`${parameter.pointer}/in`, `unknown parameter location ${JSON.stringify(location)} (expected path, query, header or cookie)`);
        }
        let schema: JsonSchema;
        if (parameter.value.schema !== undefined) schema = this.#schemas.read(parameter.value.schema, `${parameter.pointer}/schema`);
        else if (parameter.value.content !== undefined) schema = this.#mediaSchema(parameter.value.content, `${parameter.pointer}/content`).schema;
        else throw new OpenApiDocumentError(parameter.pointer, `parameter ${JSON.stringify(name)} has neither "schema" nor "content"`);
        const required = location === "path" || parameter.value.required === true;
        const description = typeof parameter.value.description === "string" ? parameter.value.description : undefined;
        byLocation[location].set(location === "header" ? name.toLowerCase() : name, { schema: withDescription(schema, description), required });
      });
    }
    for (const name of path.matchAll(/\{([^}]+)\}/g)) {
      if (!byLocation.path.has(name[1]!)) {
        throw new OpenApiDocumentError(pointer, `path template parameter {${name[1]}} of ${JSON.stringify(path)} has no "in: path" parameter`);
      }
    }

    const body = operation.requestBody === undefined ? undefined : this.#requestBody(operation.requestBody, `${pointer}/requestBody`);
    const { response, errors, events, stream } = this.#responses(operation.responses, `${pointer}/responses`);

    const properties: Record<string, JsonSchema> = {
      params: parametersObject(byLocation.path),
      query: parametersObject(byLocation.query),
      headers: parametersObject(byLocation.header),
      body: body ?? NEVER,
      response,
      errors,
      events,
    };
    const doc = [operation.summary, operation.description].filter((text): text is string => typeof text === "string" && text !== "");
    const schema: JsonSchema = objectOf(properties);
    if (doc.length > 0) schema.description = doc.join("\n\n");
    if (operation.deprecated === true) schema.deprecated = true;
    return { schema, stream };
  }

  #requestBody(raw: unknown, pointer: string): JsonSchema {
    const body = this.resolveObject(raw, pointer, "#/components/requestBodies/");
    const { schema } = this.#mediaSchema(body.value.content, `${body.pointer}/content`);
    // An optional body is `T | undefined`: the call may leave it out.
    return body.value.required === true ? schema : { anyOf: [schema, { tsType: "undefined" }] };
  }

  /**
   * The type of a Content map: its JSON media type's schema, else text for
   * `text/*`, else `Blob`. `undefined` for no content.
   */
  #mediaSchema(content: unknown, pointer: string): { schema: JsonSchema; eventStream?: { value: Record<string, unknown>; pointer: string } } {
    if (content === undefined) return { schema: { tsType: "undefined" } };
    if (!isObject(content)) throw new OpenApiDocumentError(pointer, `expected a Content object, got ${describe(content)}`);
    const types = Object.keys(content);
    if (types.length === 0) return { schema: { tsType: "undefined" } };
    const eventStream = types.find((type) => mediaEssence(type) === "text/event-stream");
    if (eventStream !== undefined) {
      const media = content[eventStream];
      const mediaPointer = `${pointer}/${escapePointer(eventStream)}`;
      if (!isObject(media)) throw new OpenApiDocumentError(mediaPointer, `expected a Media Type object, got ${describe(media)}`);
      return { schema: NEVER, eventStream: { value: media, pointer: mediaPointer } };
    }
    const json = types.find((type) => isJsonMediaType(type));
    if (json !== undefined) {
      const media = content[json];
      const mediaPointer = `${pointer}/${escapePointer(json)}`;
      if (!isObject(media)) throw new OpenApiDocumentError(mediaPointer, `expected a Media Type object, got ${describe(media)}`);
      return { schema: media.schema === undefined ? {} : this.#schemas.read(media.schema, `${mediaPointer}/schema`) };
    }
    if (types.some((type) => mediaEssence(type).startsWith("text/"))) return { schema: { type: "string" } };
    return { schema: { tsType: "Blob" } };
  }

  #responses(
    raw: unknown,
    pointer: string,
  ): { response: JsonSchema; errors: JsonSchema; events: JsonSchema; stream: StreamDescription | undefined } {
    if (raw === undefined) return { response: {}, errors: NEVER, events: NEVER, stream: undefined };
    if (!isObject(raw)) throw new OpenApiDocumentError(pointer, `expected a Responses object, got ${describe(raw)}`);
    const successes: JsonSchema[] = [];
    const errors: Record<string, JsonSchema> = {};
    let events: JsonSchema = NEVER;
    let stream: StreamDescription | undefined;
    for (const [status, value] of Object.entries(raw)) {
      const statusPointer = `${pointer}/${escapePointer(status)}`;
      if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) {
        throw new OpenApiDocumentError(statusPointer, `${JSON.stringify(status)} is not a status code, a range like "4XX", or "default"`);
      }
      const response = this.resolveObject(value, statusPointer, "#/components/responses/");
      const media = this.#mediaSchema(response.value.content, `${response.pointer}/content`);
      const success = status.startsWith("2");
      if (media.eventStream !== undefined) {
        if (!success) throw new OpenApiDocumentError(`${response.pointer}/content`, `text/event-stream is only supported on a 2xx response`);
        const read = this.#events(media.eventStream.value, media.eventStream.pointer);
        events = read.schema;
        stream = read.stream;
      } else if (success) {
        successes.push(media.schema);
      } else {
        errors[status] = media.schema;
      }
    }
    let response: JsonSchema;
    if (successes.length === 0) response = stream === undefined ? {} : NEVER;
    else if (successes.length === 1) response = successes[0]!;
    else response = { anyOf: successes };
    return { response, errors: Object.keys(errors).length === 0 ? NEVER : objectOf(errors), events, stream };
  }

  /** The events of a `text/event-stream` Media Type object, per its `itemSchema`. */
  #events(media: Record<string, unknown>, pointer: string): { schema: JsonSchema; stream: StreamDescription } {
    if (media.itemSchema === undefined) {
      // A 3.1 document, or a stream described without items: any event name, text data.
      return { schema: { type: "object", additionalProperties: { type: "string" } }, stream: "any" };
    }
    const item = this.#schemas.resolve(media.itemSchema, `${pointer}/itemSchema`);
    const variants = Array.isArray(item.value.oneOf) ? item.value.oneOf : Array.isArray(item.value.anyOf) ? item.value.anyOf : undefined;
    const variantsKey = Array.isArray(item.value.oneOf) ? "oneOf" : "anyOf";
    const entries: Array<{ value: unknown; pointer: string }> =
      variants === undefined ? [{ value: media.itemSchema, pointer: `${pointer}/itemSchema` }] : variants.map((value, index) => ({ value, pointer: `${item.pointer}/${variantsKey}/${index}` }));
    const properties: Record<string, JsonSchema> = {};
    const stream: Record<string, EventEncoding> = {};
    for (const entry of entries) {
      const variant = this.#schemas.resolve(entry.value, entry.pointer);
      const fields = isObject(variant.value.properties) ? variant.value.properties : {};
      const name = this.#eventName(fields.event, `${variant.pointer}/properties/event`);
      if (Object.hasOwn(stream, name)) throw new OpenApiDocumentError(variant.pointer, `event ${JSON.stringify(name)} is described twice`);
      const dataPointer = `${variant.pointer}/properties/data`;
      if (fields.data === undefined) {
        properties[name] = { type: "string" };
        stream[name] = "text";
        continue;
      }
      const data = this.#schemas.resolve(fields.data, dataPointer);
      const contentType = data.value.contentMediaType;
      if (typeof contentType === "string" && isJsonMediaType(contentType)) {
        properties[name] = data.value.contentSchema === undefined ? {} : this.#schemas.read(data.value.contentSchema, `${data.pointer}/contentSchema`);
        stream[name] = "json";
      } else {
        // Plain text data: the string schema itself (its enum or const, if any, types it).
        properties[name] = this.#schemas.read(fields.data, dataPointer);
        stream[name] = "text";
      }
    }
    return { schema: objectOf(properties), stream };
  }

  #eventName(schema: unknown, pointer: string): string {
    // The SSE default: a block without an `event:` field is dispatched as "message".
    if (schema === undefined) return "message";
    const field = this.#schemas.resolve(schema, pointer).value;
    if (typeof field.const === "string") return field.const;
    if (Array.isArray(field.enum) && field.enum.length === 1 && typeof field.enum[0] === "string") return field.enum[0];
    throw new OpenApiDocumentError(pointer, `an event's "event" property must be a string "const" (its event name), so the events can be told apart`);
  }
}

/** An object schema with every given property required and no other property. */
function objectOf(properties: Record<string, JsonSchema>): JsonSchema {
  return { type: "object", properties, required: Object.keys(properties), additionalProperties: false };
}

function parametersObject(parameters: Map<string, { schema: JsonSchema; required: boolean }>): JsonSchema {
  if (parameters.size === 0) return NEVER;
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, parameter] of parameters) {
    properties[name] = parameter.schema;
    if (parameter.required) required.push(name);
  }
  return { type: "object", properties, required, additionalProperties: false };
}

function withDescription(schema: JsonSchema, description: string | undefined): JsonSchema {
  return description === undefined ? schema : { ...schema, description };
}

/** The type and subtype of a media type, lower case, without parameters. */
function mediaEssence(type: string): string {
  return type.split(";")[0]!.trim().toLowerCase();
}

/** `application/json`, and any `+json` type such as `application/problem+json`. */
export function isJsonMediaType(type: string): boolean {
  const essence = mediaEssence(type);
  return essence === "application/json" || essence.endsWith("+json");
}

