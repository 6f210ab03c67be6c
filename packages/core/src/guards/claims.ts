/**
 * RoleGuard and PermissionGuard: Cello's guards on what the authenticated
 * principal may do, read from a list on `request.principal` (`roles`,
 * `permissions`). They authenticate no one: put `Authenticated({ verify })`
 * (or your own guard that attaches a principal) before them.
 */
import { describeValue } from "../describe.js";
import { CelloError, HttpError } from "../errors.js";
import type { Guard, GuardSecurity } from "./guard.js";

/** Options of {@link RoleGuard}. */
export interface RoleGuardOptions {
  /** Require every role listed (true) or any one of them (false). Default false, as in Cello. */
  requireAll?: boolean;
  /** The principal's property holding its roles (an array or Set of strings). Default `"roles"`. */
  roleKey?: string;
  /** The security scheme the roles are listed under in OpenAPI (the authenticating guard's). Default `"bearer"`. */
  scheme?: string;
}

/** Options of {@link PermissionGuard}. */
export interface PermissionGuardOptions {
  /** Require every permission listed (true) or any one of them (false). Default true, as in Cello. */
  requireAll?: boolean;
  /** The principal's property holding its permissions (an array or Set of strings). Default `"permissions"`. */
  permKey?: string;
  /** The security scheme the permissions are listed under in OpenAPI (the authenticating guard's). Default `"bearer"`. */
  scheme?: string;
}

/**
 * Admit a principal with the roles listed: any one of them, or all with
 * `requireAll`. No principal on the request: 401 (`WWW-Authenticate: Bearer`);
 * a principal without them, or whose `roles` is not a list of strings: 403
 * `CELLO_FORBIDDEN`. OpenAPI lists the roles as the requirement's scopes.
 * @param roles - Role names, at least one.
 * @example
 * app.delete("/users/{id}", removeUser, { guards: [auth, RoleGuard(["admin"])] });
 * app.get("/editorial", page, { guards: [auth, RoleGuard(["editor", "admin"])] }); // either
 */
export function RoleGuard(roles: string[], options: RoleGuardOptions = {}): Guard {
  return claimGuard("RoleGuard", roles, options.requireAll ?? false, options.roleKey ?? "roles", options.scheme ?? "bearer");
}

/**
 * Admit a principal with the permissions listed: all of them, or any one with
 * `requireAll: false`. No principal on the request: 401; a principal without
 * them: 403 `CELLO_FORBIDDEN`. OpenAPI lists the permissions as the requirement's scopes.
 * @param permissions - Permission names, at least one.
 * @example
 * app.post("/articles", create, { guards: [auth, PermissionGuard(["articles:write"])] });
 */
export function PermissionGuard(permissions: string[], options: PermissionGuardOptions = {}): Guard {
  return claimGuard("PermissionGuard", permissions, options.requireAll ?? true, options.permKey ?? "permissions", options.scheme ?? "bearer");
}

function claimGuard(name: string, wanted: unknown, requireAll: boolean, key: string, scheme: string): Guard {
  if (!Array.isArray(wanted) || wanted.length === 0 || !wanted.every((one) => typeof one === "string")) {
    throw new CelloError("CELLO_INVALID_OPTION", `${name}() takes a non-empty array of strings, got ${describeValue(wanted)}`);
  }
  for (const [option, value] of [["key", key], ["scheme", scheme]]) {
    if (typeof value !== "string" || value === "") throw new CelloError("CELLO_INVALID_OPTION", `${name}(): the ${option} option must be a non-empty string`);
  }
  const list = [...(wanted as string[])];
  const guard: Guard = (request) => {
    const principal = request.principal as Record<string, unknown> | undefined;
    if (principal === undefined) throw HttpError.fromCode("CELLO_UNAUTHORIZED", "missing credentials", { headers: { "WWW-Authenticate": "Bearer" } });
    const held = principal[key];
    // Anything but an array or Set of strings (a string "admin" included) holds nothing.
    const has = Array.isArray(held) ? (one: string) => held.includes(one) : held instanceof Set ? (one: string) => held.has(one) : () => false;
    return requireAll ? list.every(has) : list.some(has);
  };
  const security: GuardSecurity = {
    schemes: {},
    requirements: requireAll ? [{ [scheme]: list }] : list.map((one) => ({ [scheme]: [one] })),
  };
  guard.security = security;
  return guard;
}
