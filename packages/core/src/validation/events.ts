/**
 * The development check of an SSE route's events against `schema.events`:
 * every frame the route sends is read back (its `event:` name, `message` when
 * it has none, and its data) and its data validated against that event's
 * schema. An unknown event, invalid data, or a schema that is async or throws
 * is logged naming the route and the event, and the stream ends with an
 * `event: error` frame (sse/checked-connection.ts).
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { CelloError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { FrameCheck } from "../sse/checked-connection.js";
import { pointerOf } from "./problem.js";

// The framework's own events: `error` ends a failed stream, `reset` tells a channel
// subscriber its history is gone. They pass unless the route declares them itself.
const FRAMEWORK_EVENTS = new Set(["error", "reset"]);

/** One event read back from a frame. */
interface FrameEvent {
  name: string;
  data: string;
}

/**
 * The events in `frame`, as a client's parser would dispatch them (WHATWG HTML
 * 9.2.6): `data:` lines joined with LF, `message` when there is no `event:`;
 * comments and frames without data (a lone `retry:`) dispatch nothing.
 * Frames built by sse/event.ts end every line with LF.
 */
export function eventsOf(frame: string): FrameEvent[] {
  const events: FrameEvent[] = [];
  let name = "";
  let data: string | undefined;
  for (const line of frame.split("\n")) {
    if (line === "") {
      if (data !== undefined) events.push({ name: name || "message", data });
      name = "";
      data = undefined;
      continue;
    }
    if (line.charCodeAt(0) === 58) continue; // ":" comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data = data === undefined ? value : `${data}\n${value}`;
  }
  return events;
}

type Outcome = { ok: true } | { ok: false; issues: ReadonlyArray<StandardSchemaV1.Issue> } | { ok: false; async: true };

function validateSync(schema: StandardSchemaV1, value: unknown): Outcome {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) {
    result.catch(() => {});
    return { ok: false, async: true };
  }
  return result.issues ? { ok: false, issues: result.issues } : { ok: true };
}

/**
 * Check one event's data: the schema is for the value before JSON serialisation,
 * so the data is tried parsed as JSON first, then as the text itself (a string
 * schema for plain-text data). Valid if either passes; otherwise the issues of the JSON attempt.
 */
function checkData(schema: StandardSchemaV1, data: string): Outcome {
  let parsed: unknown;
  let isJson = true;
  try {
    parsed = JSON.parse(data);
  } catch {
    isJson = false;
  }
  if (isJson) {
    const asJson = validateSync(schema, parsed);
    if (asJson.ok || "async" in asJson) return asJson;
    const asText = validateSync(schema, data);
    return asText.ok ? asText : asJson;
  }
  return validateSync(schema, data);
}

/**
 * Build the frame check of one route.
 * @param events - The route's `schema.events`.
 * @param where - The route, `GET /feed`, for the log and the error.
 */
export function eventCheck(events: Record<string, StandardSchemaV1>, where: string, logger: Logger): FrameCheck {
  const schemas = new Map(Object.entries(events));
  const refuse = (detail: string, cause?: unknown): Error => {
    const err = new CelloError("CELLO_INVALID_SSE_EVENT", `${where}: ${detail}`, cause === undefined ? undefined : { cause });
    logger.error(`Invalid SSE event in ${where}; the stream ends with an error event`, err);
    return err;
  };
  // Fan-out hands the same frame (one string, framed once) to every connection of the
  // route in turn: the verdict on the last frame is kept, so it is validated once, and a
  // bad one is logged once, not once per subscriber.
  let lastFrame: string | undefined;
  let lastVerdict: Error | undefined;
  const checkFrame = (frame: string): Error | undefined => {
    for (const event of eventsOf(frame)) {
      const schema = schemas.get(event.name);
      if (schema === undefined) {
        if (FRAMEWORK_EVENTS.has(event.name)) continue;
        const declared = [...schemas.keys()].map((name) => JSON.stringify(name)).join(", ");
        return refuse(`event ${JSON.stringify(event.name)} is not declared in schema.events (declared: ${declared || "none"})`);
      }
      let outcome: Outcome;
      try {
        outcome = checkData(schema, event.data);
      } catch (err) {
        return refuse(`the schema of event ${JSON.stringify(event.name)} threw while validating`, err);
      }
      if (outcome.ok) continue;
      if ("async" in outcome) return refuse(`the schema of event ${JSON.stringify(event.name)} validates asynchronously; event schemas must be synchronous (events are checked as they are sent)`);
      const listed = outcome.issues.slice(0, 10).map((issue) => `${pointerOf(issue.path) || "(root)"}: ${issue.message}`);
      return refuse(`event ${JSON.stringify(event.name)} does not match its schema: ${listed.join("; ")}`);
    }
    return undefined;
  };
  return {
    check(frame: string): Error | undefined {
      // Comments (heartbeats, addComment) start with ":"; they carry no event.
      if (frame.charCodeAt(0) === 58) return undefined;
      if (frame === lastFrame) return lastVerdict;
      lastVerdict = checkFrame(frame);
      lastFrame = frame;
      return lastVerdict;
    },
  };
}
