/**
 * Validating a request's input against its route's schemas: how each part is
 * presented to a schema (query as `Record<string, string | string[]>`, headers
 * lower-cased and joined, the body as JSON), the schema library's validate
 * (sync or async), and the 422 when anything is invalid.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import type { Response } from "../response.js";
import { collectIssues, validationProblem, type ValidationIssue } from "./problem.js";
import { INPUT_PARTS, type InputPart, type RequestValid, type RouteSchema } from "./schema.js";

/**
 * The query as a schema sees it: a key given once maps to its string, a
 * repeated key to an array of its values in order. A null-prototype object,
 * so `?__proto__=x` is a key like any other.
 */
export function queryRecord(searchParams: URLSearchParams): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of searchParams) {
    const seen = query[key];
    if (seen === undefined) query[key] = value;
    else if (typeof seen === "string") query[key] = [seen, value];
    else seen.push(value);
  }
  return query;
}

/** The headers as a schema sees them: lower-case names, one string each (a repeated header joined with `", "`). */
export function headerRecord(request: Request): Record<string, string> {
  const headers: Record<string, string> = Object.create(null);
  const raw = request.headers;
  for (const name in raw) {
    const value = raw[name];
    // HTTP/2 pseudo-headers (`:path`, `:method`) are not headers a client wrote.
    if (value === undefined || name.charCodeAt(0) === 58) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

// RFC 6838 structured syntax suffix: application/problem+json, application/vnd.api+json.
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * The body as a schema sees it: parsed as JSON. An empty body is `undefined`
 * (the schema decides whether that is allowed). A Content-Type that is not JSON is
 * a 415; bytes that are not UTF-8 or not JSON are a 400 (`CELLO_INVALID_JSON`),
 * never a 422: the body could not be read, so there is nothing to validate.
 */
async function bodyValue(request: Request): Promise<unknown> {
  const type = request.getHeader("content-type");
  const bytes = await request.body();
  if (bytes.byteLength === 0) return undefined;
  if (type !== undefined && !JSON_TYPE.test(type)) {
    throw HttpError.fromCode("CELLO_UNSUPPORTED_MEDIA_TYPE", `this route takes a JSON body (application/json), got ${JSON.stringify(type.slice(0, 100))}`);
  }
  return request.json();
}

function rawValue(request: Request, part: Exclude<InputPart, "body">): unknown {
  switch (part) {
    case "params":
      return request.params;
    case "query":
      return queryRecord(request.searchParams);
    case "headers":
      return headerRecord(request);
  }
}

/** Run one schema; a schema that throws is the route's bug (a logged 500), not the client's. */
function runSchema(schema: StandardSchemaV1, value: unknown, part: InputPart, where: string): StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>> {
  try {
    const result = schema["~standard"].validate(value);
    if (result instanceof Promise) return result.catch((err: unknown) => Promise.reject(schemaThrew(part, where, err)));
    return result;
  } catch (err) {
    throw schemaThrew(part, where, err);
  }
}

function schemaThrew(part: string, where: string, err: unknown): CelloError {
  return new CelloError("CELLO_INVALID_SCHEMA", `the ${part} schema of ${where} threw while validating`, { cause: err });
}

/**
 * Validate every part `schema` has a schema for, in the order params, query,
 * headers, body (every part is validated, so a 422 lists all issues at once).
 * Returns the parsed values, or the 422 problem Response.
 * @throws HttpError 400/413/415 when the body cannot be read as JSON; CelloError
 *   `CELLO_INVALID_SCHEMA` (a 500) when a schema throws.
 */
export async function validateInput(request: Request, schema: RouteSchema, where: string): Promise<RequestValid | Response> {
  const valid: { params: unknown; query: unknown; headers: unknown; body: unknown } = { params: undefined, query: undefined, headers: undefined, body: undefined };
  const errors: ValidationIssue[] = [];
  const failed: InputPart[] = [];
  let total = 0;
  for (const part of INPUT_PARTS) {
    const partSchema = schema[part];
    if (partSchema === undefined) continue;
    const value = part === "body" ? await bodyValue(request) : rawValue(request, part);
    let result = runSchema(partSchema, value, part, where);
    if (result instanceof Promise) result = await result;
    if (result.issues) {
      failed.push(part);
      total += collectIssues(part, result.issues, errors);
    } else valid[part] = result.value;
  }
  if (failed.length > 0) return validationProblem(errors, total, failed);
  return valid;
}
