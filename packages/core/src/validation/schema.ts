/**
 * What a route declares about its input, its response and its events, as
 * Standard Schemas (zod 4, valibot, arktype and others implement the spec):
 * the types, the registration-time check of a `schema` option, and the types a
 * handler reads from `request.valid`. No validator lives here: the schema's
 * own library validates.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { describeValue, isPlainObject } from "../describe.js";
import { CelloError } from "../errors.js";
import type { Request } from "../request.js";

/**
 * The `schema` option of a route: any Standard Schema (zod 4, valibot, arktype...)
 * per part. Invalid input is answered 422 before the handler runs; the handler
 * reads the parsed values from `request.valid`.
 *
 * - `params`: the path parameters, `Record<string, string>`.
 * - `query`: the query string as `Record<string, string | string[]>`: a key given
 *   once is a string, a repeated key an array of its values in order (`?tag=a&tag=b`).
 * - `headers`: the request headers as `Record<string, string>`, names in lower case,
 *   a repeated header joined with `", "`.
 * - `body`: the body parsed as JSON (an empty body is `undefined`).
 * - `response`: what the handler returns, checked in development (one schema for
 *   200, or one per status code).
 * - `events`: for SSE routes, one schema per event name (`message` for events
 *   without a name), for the event's data: the value before JSON serialisation,
 *   or a string schema for plain-text data. Checked in development.
 *
 * @example
 * app.post("/items/{id}", (req) => ({ id: req.valid.params.id, ...req.valid.body }), {
 *   schema: {
 *     params: z.object({ id: z.coerce.number().int() }),
 *     body: z.object({ name: z.string().min(1) }),
 *   },
 * });
 */
export interface RouteSchema {
  params?: StandardSchemaV1;
  query?: StandardSchemaV1;
  headers?: StandardSchemaV1;
  body?: StandardSchemaV1;
  /** One schema (for 200) or one per status code. */
  response?: StandardSchemaV1 | Record<number, StandardSchemaV1>;
  /**
   * SSE routes: one schema per event name, for the event's data (the value before JSON
   * serialisation; a string schema for plain-text data). A route with `events` is an SSE route.
   */
  events?: Record<string, StandardSchemaV1>;
}

/** The request parts a schema may validate, as they appear in a 422's `errors[].in`. */
export type InputPart = "params" | "query" | "headers" | "body";

/** The input parts, in the order they are validated and reported. */
export const INPUT_PARTS: readonly InputPart[] = ["params", "query", "headers", "body"];

type OutputOf<S, K extends InputPart> = S extends { [P in K]: infer Schema extends StandardSchemaV1 } ? StandardSchemaV1.InferOutput<Schema> : undefined;

/**
 * What `request.valid` holds on a route with schema `S`: each part's parsed
 * value (the schema's output type: coerced, defaulted, transformed), or
 * `undefined` for a part without a schema.
 * @example
 * const schema = { query: z.object({ page: z.coerce.number() }) } satisfies RouteSchema;
 * type Input = Validated<typeof schema>; // { params: undefined; query: { page: number }; ... }
 */
export interface Validated<S extends RouteSchema> {
  readonly params: OutputOf<S, "params">;
  readonly query: OutputOf<S, "query">;
  readonly headers: OutputOf<S, "headers">;
  readonly body: OutputOf<S, "body">;
}

/** `request.valid` on any request: each part as validated, `undefined` where the route has no schema for it. */
export interface RequestValid {
  readonly params: unknown;
  readonly query: unknown;
  readonly headers: unknown;
  readonly body: unknown;
}

/**
 * The request a handler of a route with schema `S` receives: `request.valid`
 * typed from the schemas. Function routes infer it; name it for a decorator route.
 * @example
 * const create = { body: z.object({ name: z.string() }) } satisfies RouteSchema;
 * class Items {
 *   \@app.post("/items", { schema: create })
 *   add(req: ValidatedRequest<typeof create>) { return { name: req.valid.body.name }; }
 * }
 */
export type ValidatedRequest<S extends RouteSchema> = Request & { readonly valid: Validated<S> };

type InputOf<Schema> = Schema extends StandardSchemaV1 ? StandardSchemaV1.InferInput<Schema> : never;
type ResponseValue<R> = R extends StandardSchemaV1 ? InputOf<R> : R extends Record<number, infer Each> ? InputOf<Each> : never;

/**
 * What a handler of a route with schema `S` may return: with a `response`
 * schema, a value of its input type (of any status's schema), or any
 * `Response`, or a Promise of either; without one, anything.
 */
export type RouteResult<S extends RouteSchema> = S extends { response: infer R }
  ? ResponseValue<R> | import("../response.js").Response | Promise<ResponseValue<R> | import("../response.js").Response>
  : unknown;

/** True for a Standard Schema (any library implementing `~standard.validate`). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const props = (value as { "~standard"?: { validate?: unknown; version?: unknown } })["~standard"];
  return typeof props === "object" && props !== null && typeof props.validate === "function";
}

function notASchema(where: string, name: string, value: unknown): CelloError {
  return new CelloError(
    "CELLO_INVALID_SCHEMA",
    `the ${name} schema of ${where} is not a Standard Schema (an object with "~standard".validate, as zod 4, valibot and arktype schemas are), got ${describeValue(value)}`,
  );
}

const SCHEMA_KEYS = new Set(["params", "query", "headers", "body", "response", "events"]);

/**
 * Check a route's `schema` option at registration: every part is a Standard
 * Schema, `response` is one or a record of status codes to one, `events` a
 * record of event names to one. Throws CelloError `CELLO_INVALID_SCHEMA` naming
 * the route and the part.
 */
export function checkRouteSchema(schema: unknown, where: string): asserts schema is RouteSchema {
  if (!isPlainObject(schema)) throw new CelloError("CELLO_INVALID_SCHEMA", `the schema option of ${where} must be { params?, query?, headers?, body?, response?, events? }, got ${describeValue(schema)}`);
  for (const key of Object.keys(schema)) {
    if (!SCHEMA_KEYS.has(key)) throw new CelloError("CELLO_INVALID_SCHEMA", `the schema option of ${where} has an unknown key ${JSON.stringify(key)} (expected params, query, headers, body, response or events)`);
  }
  for (const part of INPUT_PARTS) {
    const value = schema[part];
    if (value !== undefined && !isStandardSchema(value)) throw notASchema(where, part, value);
  }
  const response = schema.response;
  if (response !== undefined && !isStandardSchema(response)) {
    if (!isPlainObject(response)) throw notASchema(where, "response", response);
    for (const [status, value] of Object.entries(response)) {
      const code = Number(status);
      if (!Number.isInteger(code) || code < 100 || code > 599) {
        throw new CelloError("CELLO_INVALID_SCHEMA", `the response schema of ${where} is keyed by status code (100-599), got ${JSON.stringify(status)}`);
      }
      if (!isStandardSchema(value)) throw notASchema(where, `response ${status}`, value);
    }
  }
  const events = schema.events;
  if (events !== undefined) {
    if (!isPlainObject(events)) throw new CelloError("CELLO_INVALID_SCHEMA", `the events schema of ${where} must be a record of event names to schemas, got ${describeValue(events)}`);
    for (const [name, value] of Object.entries(events)) {
      if (/[\r\n]/.test(name)) throw new CelloError("CELLO_INVALID_SCHEMA", `the event name ${JSON.stringify(name)} of ${where} contains CR or LF`);
      if (!isStandardSchema(value)) throw notASchema(where, `event ${JSON.stringify(name)}`, value);
    }
  }
}
