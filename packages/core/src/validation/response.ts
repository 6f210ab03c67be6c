/**
 * The development check of what a handler returns against its route's
 * `response` schema: the JSON a client would receive, at the status it would
 * receive it with. A mismatch is the route's bug: a 500 whose log names the
 * route, the status and each issue. The response is checked, never changed.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { CelloError } from "../errors.js";
import type { Response } from "../response.js";
import { pointerOf } from "./problem.js";
import { isStandardSchema, type RouteSchema } from "./schema.js";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** The schema `response` applies to `status`: a single schema is for 200; a record's entry for that status. */
function schemaFor(response: NonNullable<RouteSchema["response"]>, status: number): StandardSchemaV1 | undefined {
  if (isStandardSchema(response)) return status === 200 ? response : undefined;
  return (response as Record<number, StandardSchemaV1>)[status];
}

/** The JSON `response` carries, or `NOT_JSON` for anything else (text, bytes, an SSE stream, no body). */
const NOT_JSON = Symbol("not JSON");
function jsonOf(response: Response): unknown {
  const body = response.body;
  if (body.kind !== "bytes") return NOT_JSON;
  const type = response.getHeader("content-type");
  if (typeof type !== "string" || !JSON_TYPE.test(type)) return NOT_JSON;
  const text = typeof body.bytes === "string" ? body.bytes : Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

/**
 * Check `response` against the route's response schemas.
 * @throws CelloError `CELLO_INVALID_RESPONSE` (a logged 500) when the JSON does not
 *   match, `CELLO_INVALID_SCHEMA` when the schema throws.
 */
export async function checkResponse(response: Response, schemas: NonNullable<RouteSchema["response"]>, where: string): Promise<void> {
  const schema = schemaFor(schemas, response.status);
  if (schema === undefined) return;
  const value = jsonOf(response);
  if (value === NOT_JSON) return;
  let result: StandardSchemaV1.Result<unknown>;
  try {
    result = await schema["~standard"].validate(value);
  } catch (err) {
    throw new CelloError("CELLO_INVALID_SCHEMA", `the response schema (${response.status}) of ${where} threw while validating`, { cause: err });
  }
  if (!result.issues) return;
  const listed = result.issues.slice(0, 10).map((issue) => `${pointerOf(issue.path) || "(root)"}: ${issue.message}`);
  const more = result.issues.length > listed.length ? `; and ${result.issues.length - listed.length} more` : "";
  throw new CelloError("CELLO_INVALID_RESPONSE", `${where} returned a ${response.status} body that does not match its response schema: ${listed.join("; ")}${more}`);
}
