/**
 * The 422 answer to invalid input: an RFC 9457 problem details document
 * (`application/problem+json`) listing each issue with the request part it is
 * in, a JSON Pointer to the value, and the schema library's message.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { Response } from "../response.js";
import type { InputPart } from "./schema.js";

/** One issue of a 422: where (`in` and `path`) and what (`message`, the schema library's words). */
export interface ValidationIssue {
  /** The request part the value is in. */
  in: InputPart;
  /**
   * The value's location inside that part as a JSON Pointer (RFC 6901): `""` for the
   * whole part, `/items/0/name` for a nested value; `~` and `/` in a key are written `~0` and `~1`.
   */
  path: string;
  /** What is wrong, as the schema library words it. */
  message: string;
}

/**
 * The body of a 422 (RFC 9457 problem details, `application/problem+json`).
 * @example
 * // { "type": "about:blank", "title": "Unprocessable Content", "status": 422, "code": "CELLO_VALIDATION_FAILED",
 * //   "detail": "1 issue in query", "errors": [{ "in": "query", "path": "/page", "message": "Invalid input: expected number, received NaN" }] }
 */
export interface ValidationProblem {
  type: "about:blank";
  title: "Unprocessable Content";
  status: 422;
  /** The registry code, `CELLO_VALIDATION_FAILED`. */
  code: "CELLO_VALIDATION_FAILED";
  detail: string;
  /** At most {@link MAX_REPORTED_ISSUES} issues, in the order params, query, headers, body. */
  errors: ValidationIssue[];
}

/** A hostile body can make a schema report one issue per array item: a 422 lists this many at most. */
export const MAX_REPORTED_ISSUES = 100;

/** RFC 6901: `~` is written `~0` and `/` is written `~1` inside a reference token. */
function escapeToken(key: PropertyKey): string {
  return String(key).replaceAll("~", "~0").replaceAll("/", "~1");
}

/** A Standard Schema issue path as a JSON Pointer (`""` for the root). */
export function pointerOf(path: StandardSchemaV1.Issue["path"]): string {
  if (path === undefined || path.length === 0) return "";
  let pointer = "";
  for (const segment of path) pointer += `/${escapeToken(typeof segment === "object" && segment !== null ? segment.key : segment)}`;
  return pointer;
}

/** Turn one part's issues into {@link ValidationIssue}s, appending to `into` up to the cap. Returns how many there were. */
export function collectIssues(part: InputPart, issues: ReadonlyArray<StandardSchemaV1.Issue>, into: ValidationIssue[]): number {
  for (const issue of issues) {
    if (into.length >= MAX_REPORTED_ISSUES) break;
    into.push({ in: part, path: pointerOf(issue.path), message: String(issue.message) });
  }
  return issues.length;
}

/** The 422 response for the issues found. `total` counts every issue, listed or not. */
export function validationProblem(errors: ValidationIssue[], total: number, parts: InputPart[]): Response {
  let detail = `${total} ${total === 1 ? "issue" : "issues"} in ${parts.join(", ")}`;
  if (total > errors.length) detail += ` (the first ${errors.length} are listed)`;
  const problem: ValidationProblem = { type: "about:blank", title: "Unprocessable Content", status: 422, code: "CELLO_VALIDATION_FAILED", detail, errors };
  return Response.json(problem, { status: 422, headers: { "Content-Type": "application/problem+json" } });
}
