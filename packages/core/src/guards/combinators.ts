/**
 * Cello's guard combinators, `And`, `Or` and `Not`: guards made of guards,
 * with the OpenAPI requirements they add up to.
 */
import { describeValue } from "../describe.js";
import { CelloError, HttpError } from "../errors.js";
import { kPrincipal, type Request } from "../request.js";
import { checkGuards, type Guard, type GuardResult, type GuardSecurity } from "./guard.js";
import { interpret, isThenable, type Admission } from "./run.js";

/**
 * Admit when every guard admits, run in order (as a route's `guards` list is);
 * the first refusal is the answer. A principal one guard attaches is on the
 * request for the next; the earliest expiry of all is kept. OpenAPI: the cross
 * product of the guards' requirements.
 * @example const editorOrAdmin = And([auth, Or([RoleGuard(["editor"]), RoleGuard(["admin"])])]);
 */
export function And(guards: Guard[]): Guard {
  const members = checkMembers("And", guards);
  const guard: Guard = (request) => {
    const seen: Admission = { principal: undefined, expiresAt: Infinity };
    const from = (index: number): GuardResult | Promise<GuardResult> => {
      for (let i = index; i < members.length; i++) {
        const result = members[i]!(request);
        if (isThenable(result)) return Promise.resolve(result).then((resolved) => (take(request, seen, resolved), from(i + 1)));
        take(request, seen, result);
      }
      return seen.principal === undefined && seen.expiresAt === Infinity ? true : seen;
    };
    return from(0);
  };
  guard.security = combine(members, crossProduct);
  return guard;
}

/**
 * Admit when any guard admits, tried in order; the first that admits decides
 * (its principal and expiry). When all refuse: the first 401 if every refusal
 * was a 401 (no one authenticated), else the first other refusal (a 403).
 * What a refusing guard attached is undone. A guard that throws anything but an
 * HttpError stops the search (a logged 500). OpenAPI: the guards' requirements, concatenated.
 * @example app.get("/content", page, { guards: [auth, Or([RoleGuard(["editor"]), PermissionGuard(["content:read"])])] });
 */
export function Or(guards: Guard[]): Guard {
  const members = checkMembers("Or", guards);
  const guard: Guard = (request) => {
    const before = request.principal;
    let firstUnauthorized: HttpError | undefined;
    let firstOther: HttpError | undefined;
    const refused = (err: unknown): void => {
      request[kPrincipal] = before;
      if (!(err instanceof HttpError)) throw err;
      if (err.status === 401) firstUnauthorized ??= err;
      else firstOther ??= err;
    };
    const from = (index: number): GuardResult | Promise<GuardResult> => {
      for (let i = index; i < members.length; i++) {
        let result: GuardResult | PromiseLike<GuardResult>;
        try {
          result = members[i]!(request);
          if (isThenable(result)) {
            return Promise.resolve(result).then(
              (resolved) => allowed(resolved) ?? from(i + 1),
              (err) => (refused(err), from(i + 1)),
            );
          }
        } catch (err) {
          refused(err);
          continue;
        }
        const admitted = allowed(result);
        if (admitted !== undefined) return admitted;
      }
      throw firstOther ?? firstUnauthorized ?? HttpError.fromCode("CELLO_FORBIDDEN");
    };
    /** The member's result if it admits; undefined (and its refusal noted) if not. */
    const allowed = (result: GuardResult): GuardResult | undefined => {
      try {
        return interpret(result) ?? true;
      } catch (err) {
        refused(err);
        return undefined;
      }
    };
    return from(0);
  };
  guard.security = combine(members, (a, b) => dedupe([...a, ...b]));
  return guard;
}

/**
 * Admit when `guard` refuses (with `false` or an HttpError), refuse (403
 * `CELLO_FORBIDDEN`) when it admits. Nothing the inner guard attached stays on
 * the request. A guard that throws anything else is still a logged 500, never a pass.
 * OpenAPI: no requirement (a "not" has no OpenAPI form).
 * @example app.post("/signup", signup, { guards: [Not(RoleGuard(["banned"]))] });
 */
export function Not(guard: Guard): Guard {
  const [inner] = checkMembers("Not", [guard]);
  const negated: Guard = (request) => {
    const before = request.principal;
    const verdict = (admits: boolean): true => {
      request[kPrincipal] = before;
      if (admits) throw HttpError.fromCode("CELLO_FORBIDDEN");
      return true;
    };
    const judge = (result: GuardResult): true => {
      try {
        interpret(result);
      } catch (err) {
        if (err instanceof HttpError) return verdict(false);
        throw err;
      }
      return verdict(true);
    };
    const onThrow = (err: unknown): true => {
      request[kPrincipal] = before;
      if (err instanceof HttpError) return true;
      throw err;
    };
    let result: GuardResult | PromiseLike<GuardResult>;
    try {
      result = inner!(request);
    } catch (err) {
      return onThrow(err);
    }
    return isThenable(result) ? Promise.resolve(result).then(judge, onThrow) : judge(result);
  };
  return negated;
}

/** Fold one member's result into what And has seen, and attach its principal for the next member. */
function take(request: Request, seen: Admission, result: GuardResult): void {
  const admission = interpret(result);
  if (admission === undefined) return;
  if (admission.principal !== undefined) {
    seen.principal = admission.principal;
    request[kPrincipal] = admission.principal;
  }
  if (admission.expiresAt < seen.expiresAt) seen.expiresAt = admission.expiresAt;
}

function checkMembers(name: string, guards: unknown): Guard[] {
  if (!Array.isArray(guards) || guards.length === 0) {
    throw new CelloError("CELLO_INVALID_OPTION", `${name}() takes a non-empty array of guards, e.g. ${name}([Authenticated(), RoleGuard(["admin"])]); got ${describeValue(guards)}`);
  }
  return checkGuards(guards, `${name}()`);
}

type Requirements = GuardSecurity["requirements"];

/**
 * The security of a combination: the members' schemes merged, their
 * requirements folded pairwise. A member without `security` asks for no
 * credential (`[{}]`); with no member documenting any, neither does the combination.
 */
function combine(members: Guard[], fold: (a: Requirements, b: Requirements) => Requirements): GuardSecurity | undefined {
  if (members.every((member) => member.security === undefined)) return undefined;
  const schemes: GuardSecurity["schemes"] = {};
  let requirements: Requirements | undefined;
  for (const member of members) {
    const security = member.security ?? { schemes: {}, requirements: [{}] };
    Object.assign(schemes, security.schemes);
    requirements = requirements === undefined ? security.requirements : fold(requirements, security.requirements);
  }
  return { schemes, requirements: requirements! };
}

/** And: every pair of alternatives, merged (scopes of one scheme joined without repeats). @internal */
export function crossProduct(a: Requirements, b: Requirements): Requirements {
  const product: Requirements = [];
  for (const left of a) {
    for (const right of b) {
      const merged: Record<string, string[]> = {};
      for (const [scheme, scopes] of [...Object.entries(left), ...Object.entries(right)]) {
        merged[scheme] = [...new Set([...(merged[scheme] ?? []), ...scopes])];
      }
      product.push(merged);
    }
  }
  return dedupe(product);
}

/** Drop repeated alternatives (the same schemes with the same scopes). */
function dedupe(requirements: Requirements): Requirements {
  const seen = new Set<string>();
  return requirements.filter((requirement) => {
    const key = JSON.stringify(Object.keys(requirement).sort().map((scheme) => [scheme, [...requirement[scheme]!].sort()]));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
