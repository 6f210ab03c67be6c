/**
 * The OpenAPI document of an app, built from `app.routes()` alone: each
 * route's path, its guards' `security`, its schemas (as JSON Schema) and, for
 * an SSE route (one with `schema.events`), a `text/event-stream` response whose
 * `itemSchema` lists each event by name (OpenAPI 3.2).
 */
import { STATUS_CODES } from "node:http";
import { CelloError } from "../../errors.js";
import type { RouteInfo } from "../../routes.js";
import { SchemaComponents, isStandardSchema, type JsonSchema } from "./json-schema.js";
import type { Guard, GuardSecurity } from "../../guards/guard.js";
import type { RouteSchema } from "../../validation/schema.js";
import type { OpenapiOptions, OperationDocs } from "./types.js";

/** An OpenAPI document as plain JSON data. */
export type OpenapiDocument = Record<string, unknown>;

/** The body of every error Cello.ts answers (`HttpError`, 401/403 from guards). */
const ERROR_SCHEMA = {
  type: "object",
  required: ["error", "status"],
  properties: { error: { type: "string" }, status: { type: "integer" } },
};

/** The 422 body of a request that failed its schemas (RFC 9457 problem details). */
const VALIDATION_PROBLEM_SCHEMA = {
  type: "object",
  required: ["type", "title", "status", "code", "detail", "errors"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer", const: 422 },
    code: { type: "string", const: "CELLO_VALIDATION_FAILED" },
    detail: { type: "string" },
    errors: {
      type: "array",
      items: {
        type: "object",
        required: ["in", "path", "message"],
        properties: { in: { enum: ["params", "query", "headers", "body"] }, path: { type: "string" }, message: { type: "string" } },
      },
    },
  },
};

/** The 406 body of a route's requireAccept (RFC 9457 problem details, negotiation.ts). */
const NOT_ACCEPTABLE_PROBLEM_SCHEMA = {
  type: "object",
  required: ["type", "title", "status", "code", "detail", "accept"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer", const: 406 },
    code: { type: "string", const: "CELLO_NOT_ACCEPTABLE" },
    detail: { type: "string" },
    accept: { type: "array", items: { type: "string" } },
  },
};

/**
 * Build the document from the app's routes (those excluded by `options.exclude` or their own `openapi.exclude` left out).
 * @throws CelloError `CELLO_OPENAPI_SCHEMA` naming the route for a schema with no JSON Schema form;
 *   `CELLO_INVALID_OPTION` for two operations with one operationId or two guards defining one security scheme differently.
 */
export function buildOpenapiDocument(routes: readonly RouteInfo[], options: OpenapiOptions): OpenapiDocument {
  const version = options.openapi ?? "3.2.0";
  const components = new SchemaComponents(options.toJsonSchema);
  const securitySchemes: Record<string, Record<string, unknown>> = {};
  const paths: Record<string, Record<string, unknown>> = {};
  const operationIds = new Map<string, string>();
  let usesErrors = false;
  let usesValidation = false;
  let usesNegotiation = false;

  for (const route of routes) {
    if (isExcluded(route, options)) continue;
    const docs: OperationDocs = route.options.openapi ?? {};
    const where = `${route.method} ${route.path}`;
    const templatePath = toTemplate(route.path);
    const operationId = docs.operationId ?? uniqueId(deriveOperationId(route.method, route.path), operationIds);
    const taken = operationIds.get(operationId);
    if (taken !== undefined) throw new CelloError("CELLO_INVALID_OPTION", `openapi operationId ${JSON.stringify(operationId)} of ${where} is already used by ${taken}`);
    operationIds.set(operationId, where);

    const schema: RouteSchema = route.options.schema ?? {};
    const operation: Record<string, unknown> = {};
    if (docs.tags !== undefined) operation.tags = [...docs.tags];
    if (docs.summary !== undefined) operation.summary = docs.summary;
    if (docs.description !== undefined) operation.description = docs.description;
    operation.operationId = operationId;
    const parameters = [
      ...pathParameters(route.path, schema.params, components, where, operationId),
      ...objectParameters("query", schema.query, components, where, operationId),
      ...objectParameters("header", schema.headers, components, where, operationId),
    ];
    if (parameters.length > 0) operation.parameters = parameters;
    if (schema.body !== undefined) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: components.convert(schema.body, "input", `${where} schema.body`, `${operationId}_body`) } },
      };
    }

    const responses: Record<string, unknown> = {};
    if (schema.events !== undefined) {
      responses["200"] = sseResponse(schema.events, version, components, where, operationId);
    } else if (schema.response === undefined) {
      responses["200"] = { description: statusText(200) };
    } else if (isStandardSchema(schema.response)) {
      responses["200"] = jsonResponse(200, components.convert(schema.response, "output", `${where} schema.response`, `${operationId}_200`));
    } else {
      for (const [status, one] of Object.entries(schema.response)) {
        if (!/^[1-5]\d\d$/.test(status)) throw new CelloError("CELLO_OPENAPI_SCHEMA", `${where} schema.response has key ${JSON.stringify(status)}: keys are HTTP statuses (100 to 599)`);
        responses[status] = jsonResponse(Number(status), components.convert(one, "output", `${where} schema.response[${status}]`, `${operationId}_${status}`));
      }
    }
    if (schema.params !== undefined || schema.query !== undefined || schema.headers !== undefined || schema.body !== undefined) {
      usesValidation = true;
      responses["422"] = {
        description: "The request does not match the route's schemas",
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/ValidationProblem" } } },
      };
    }
    const accept = route.options.requireAccept;
    if (accept !== undefined) {
      usesNegotiation = true;
      responses["406"] = {
        description: `The request's Accept header admits none of ${[accept].flat().join(", ")}`,
        content: { "application/problem+json": { schema: { $ref: "#/components/schemas/NotAcceptableProblem" } } },
      };
    }
    const guards: readonly Guard[] = route.options.guards ?? [];
    if (guards.length > 0) {
      usesErrors = true;
      const security = securityOf(guards, securitySchemes, where);
      if (security !== undefined) operation.security = security;
      responses["401"] ??= errorResponse("Not authenticated (a guard refused the credentials)");
      responses["403"] ??= errorResponse("Not allowed (a guard refused access)");
    }
    operation.responses = responses;
    if (docs.deprecated === true) operation.deprecated = true;
    (paths[templatePath] ??= {})[route.method.toLowerCase()] = operation;
  }

  if (usesErrors) components.schemas.Error ??= ERROR_SCHEMA;
  if (usesValidation) components.schemas.ValidationProblem ??= VALIDATION_PROBLEM_SCHEMA;
  if (usesNegotiation) components.schemas.NotAcceptableProblem ??= NOT_ACCEPTABLE_PROBLEM_SCHEMA;
  const info: Record<string, unknown> = { title: options.title ?? "Cello.ts API", version: options.version ?? "1.0.0" };
  if (options.description !== undefined) info.description = options.description;
  const document: OpenapiDocument = { openapi: version, info };
  if (options.servers !== undefined) document.servers = options.servers.map((server) => ({ ...server }));
  document.paths = paths;
  const componentSection: Record<string, unknown> = {};
  if (Object.keys(components.schemas).length > 0) componentSection.schemas = components.schemas;
  if (Object.keys(securitySchemes).length > 0) componentSection.securitySchemes = securitySchemes;
  if (Object.keys(componentSection).length > 0) document.components = componentSection;
  return document;
}

function isExcluded(route: RouteInfo, options: OpenapiOptions): boolean {
  if (route.options.openapi?.exclude === true) return true;
  const exclude = options.exclude;
  if (exclude === undefined) return false;
  if (typeof exclude === "function") return exclude(route);
  return exclude.some((rule) => (typeof rule === "string" ? rule === route.path : rule.test(route.path)));
}

/** Cello's `{name}` stays; find-my-way's `:name` becomes `{name}`; a trailing `*` becomes `{*}`. */
function toTemplate(path: string): string {
  return path.replace(/(?<!:):(?!:)([A-Za-z_$][\w$]*)/g, "{$1}").replace(/::/g, ":").replace(/\*$/, "{*}");
}

/** `GET /notifications/{user}/stream` -> `get_notifications_user_stream`; `/` -> `get_root`. */
export function deriveOperationId(method: string, path: string): string {
  const words = toTemplate(path).replace(/\{\*\}/g, "wildcard").toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  return `${method.toLowerCase()}_${words.length > 0 ? words.join("_") : "root"}`;
}

function uniqueId(base: string, taken: ReadonlyMap<string, string>): string {
  let id = base;
  for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
  return id;
}

/**
 * The operation's `security`: guards all have to pass, and each one's requirements are
 * alternatives, so the result is every combination of one alternative per guard.
 */
function securityOf(guards: readonly Guard[], schemes: Record<string, Record<string, unknown>>, where: string): Array<Record<string, string[]>> | undefined {
  let combined: Array<Record<string, string[]>> | undefined;
  for (const guard of guards) {
    const security: GuardSecurity | undefined = guard.security;
    if (security === undefined) continue;
    if (typeof security !== "object" || security === null || typeof security.schemes !== "object" || !Array.isArray(security.requirements)) {
      throw new CelloError("CELLO_INVALID_OPTION", `${where}: a guard's security must be { schemes: {...}, requirements: [...] }`);
    }
    for (const [name, scheme] of Object.entries(security.schemes)) {
      const existing = schemes[name];
      if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(scheme)) {
        throw new CelloError("CELLO_INVALID_OPTION", `${where}: two guards define security scheme ${JSON.stringify(name)} differently; give one another name`);
      }
      schemes[name] = structuredClone(scheme);
    }
    if (security.requirements.length === 0) continue;
    const previous = combined ?? [{}];
    combined = [];
    for (const base of previous) {
      for (const requirement of security.requirements) {
        const merged: Record<string, string[]> = { ...base };
        for (const [name, scopes] of Object.entries(requirement)) merged[name] = [...new Set([...(merged[name] ?? []), ...scopes])];
        combined.push(merged);
      }
    }
  }
  return combined;
}

function pathParameters(path: string, params: unknown, components: SchemaComponents, where: string, operationId: string): unknown[] {
  const names = [...toTemplate(path).matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
  if (names.length === 0 && params === undefined) return [];
  const properties = params === undefined ? {} : objectProperties(components.convert(params, "input", `${where} schema.params`, `${operationId}_params`), `${where} schema.params`).properties;
  return names.map((name) => ({ name, in: "path", required: true, schema: properties[name] ?? { type: "string" } }));
}

function objectParameters(location: "query" | "header", schema: unknown, components: SchemaComponents, where: string, operationId: string): unknown[] {
  if (schema === undefined) return [];
  const slot = location === "query" ? "schema.query" : "schema.headers";
  const { properties, required } = objectProperties(components.convert(schema, "input", `${where} ${slot}`, `${operationId}_${location}`), `${where} ${slot}`);
  return Object.entries(properties).map(([name, property]) => {
    const parameter: Record<string, unknown> = { name, in: location };
    if (required.has(name)) parameter.required = true;
    const description = typeof property === "object" && typeof property.description === "string" ? property.description : undefined;
    if (description !== undefined) parameter.description = description;
    parameter.schema = property;
    return parameter;
  });
}

/** The properties of an object schema: parameters are documented one by one. */
function objectProperties(schema: JsonSchema, where: string): { properties: Record<string, Record<string, unknown>>; required: Set<string> } {
  if (typeof schema !== "object" || (schema.type !== undefined && schema.type !== "object") || typeof schema.properties !== "object") {
    throw new CelloError("CELLO_OPENAPI_SCHEMA", `${where} must be an object schema (its properties become parameters)`);
  }
  return { properties: schema.properties as Record<string, Record<string, unknown>>, required: new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []) };
}

/** A response's description: the status's reason phrase. */
function statusText(status: number): string {
  return STATUS_CODES[status] ?? "Response";
}

function jsonResponse(status: number, schema: JsonSchema): Record<string, unknown> {
  const type = typeof schema === "object" && schema.type === "string" ? "text/plain" : "application/json";
  return { description: statusText(status), content: { [type]: { schema } } };
}

function errorResponse(description: string): Record<string, unknown> {
  return { description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
}

/**
 * The 200 response of an SSE route: `itemSchema` is one entry per event name. JSON data is a
 * string whose `contentSchema` is the data's schema; a plain string schema is the data itself.
 * OpenAPI 3.1 has no `itemSchema`: the same value goes into the `x-itemSchema` extension and the
 * body is documented as a string.
 */
function sseResponse(events: Record<string, unknown>, version: string, components: SchemaComponents, where: string, operationId: string): Record<string, unknown> {
  if (typeof events !== "object" || events === null) throw new CelloError("CELLO_OPENAPI_SCHEMA", `${where} schema.events must map event names to schemas`);
  const oneOf = Object.entries(events).map(([name, schema]) => {
    const slot = `${where} schema.events[${JSON.stringify(name)}]`;
    const data = components.convert(schema, "output", slot, `${operationId}_${name}_event`);
    const isText = typeof data === "object" && data.type === "string";
    return {
      type: "object",
      title: name,
      required: ["event", "data"],
      properties: {
        event: { const: name },
        data: isText ? data : { type: "string", contentMediaType: "application/json", contentSchema: data },
        id: { type: "string" },
        retry: { type: "integer", minimum: 0 },
      },
    };
  });
  const itemSchema = { oneOf };
  const description = `A stream of Server-Sent Events: ${Object.keys(events).join(", ") || "no events declared"}`;
  if (version.startsWith("3.1")) {
    return {
      description,
      content: {
        "text/event-stream": {
          schema: { type: "string", description: "Server-Sent Events; x-itemSchema describes each event (OpenAPI 3.2's itemSchema)" },
          "x-itemSchema": itemSchema,
        },
      },
    };
  }
  return { description, content: { "text/event-stream": { itemSchema } } };
}
