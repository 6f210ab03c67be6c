/**
 * One route's validation, put together once at registration: the handler
 * wrapped so its input is validated before it runs (and, when checks are on,
 * its JSON checked after), and the frame check for its events. A route
 * without a schema keeps its handler as it is: validation costs it nothing.
 */
import type { Logger } from "../logger.js";
import { kValidated, type Request } from "../request.js";
import { toResponse } from "../respond.js";
import { Response } from "../response.js";
import type { Handler } from "../routes.js";
import type { FrameCheck } from "../sse/checked-connection.js";
import { eventCheck } from "./events.js";
import { validateInput } from "./input.js";
import { checkResponse } from "./response.js";
import { checkRouteSchema, type RequestValid, type RouteSchema } from "./schema.js";

/**
 * The app's `validation` option: which development checks run. Input
 * validation (params, query, headers, body: the 422) always runs; these
 * checks are about the app's own output.
 * @example new App({ validation: { events: true } }) // check events in production too
 */
export interface ValidationOptions {
  /**
   * Check the JSON a handler returns against `schema.response`; a mismatch is a
   * 500 logged with the route. Default: on unless `NODE_ENV=production`.
   */
  responses?: boolean;
  /**
   * Check every event an SSE route sends against `schema.events`; an unknown or
   * invalid event is logged with the route and event, and ends the stream with an
   * `event: error` frame. Default: on unless `NODE_ENV=production`.
   */
  events?: boolean;
}

/** The checks an app runs, resolved from {@link ValidationOptions} and `NODE_ENV` once. */
export type ResolvedValidationOptions = Readonly<Required<ValidationOptions>>;

/** Resolve the app's `validation` option: each check defaults to on outside production. */
export function resolveValidationOptions(options: ValidationOptions | undefined): ResolvedValidationOptions {
  const development = process.env.NODE_ENV !== "production";
  return { responses: options?.responses ?? development, events: options?.events ?? development };
}

/** What a route runs with once its schema is compiled. */
export interface CompiledRoute {
  handler: Handler;
  /** The check of every event it sends; undefined when it has no `events` or the check is off. */
  eventCheck: FrameCheck | undefined;
}

/**
 * Compile one route's `schema` option (checked here: CelloError `CELLO_INVALID_SCHEMA`).
 * @param where - The route, `GET /items/{id}`, named in logs and errors.
 */
export function compileRoute(handler: Handler, schema: unknown, where: string, logger: Logger, checks: ResolvedValidationOptions): CompiledRoute {
  if (schema === undefined) return { handler, eventCheck: undefined };
  checkRouteSchema(schema, where);
  const hasInput = schema.params !== undefined || schema.query !== undefined || schema.headers !== undefined || schema.body !== undefined;
  const responseSchemas = checks.responses ? schema.response : undefined;
  const events = checks.events && schema.events !== undefined ? eventCheck(schema.events, where, logger) : undefined;
  if (!hasInput && responseSchemas === undefined) return { handler, eventCheck: events };
  // Runs the handler once the input is known valid; then, with checks on, checks its JSON.
  const proceed = (request: Request, valid: RequestValid | Response): unknown => {
    if (valid instanceof Response) return valid;
    request[kValidated](valid);
    const value = handler(request);
    return responseSchemas === undefined ? value : checked(value, responseSchemas, where);
  };
  // No async function: a route whose schemas are all sync (no body) answers without a promise.
  const validated: Handler = hasInput
    ? (request) => {
        const valid = validateInput(request, schema, where);
        return valid instanceof Promise ? valid.then((resolved) => proceed(request, resolved)) : proceed(request, valid);
      }
    : (request) => checked(handler(request), responseSchemas!, where);
  return { handler: validated, eventCheck: events };
}

/** The handler's value as a Response, once its JSON was checked against the response schemas. */
async function checked(value: unknown, schemas: NonNullable<RouteSchema["response"]>, where: string): Promise<Response> {
  const response = toResponse(await value);
  await checkResponse(response, schemas, where);
  return response;
}
