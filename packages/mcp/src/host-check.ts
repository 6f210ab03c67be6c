/**
 * DNS rebinding protection for an MCP endpoint: which `Host` and `Origin`
 * headers it answers. The MCP spec (Streamable HTTP, "Security Warning"):
 * "Servers MUST validate the Origin header on all incoming connections to
 * prevent DNS rebinding attacks. If the Origin header is present and invalid,
 * servers MUST respond with HTTP 403 Forbidden." A rebinding page reaches a
 * local server under its own host name, so the Host header is checked too,
 * as the SDK's own `hostHeaderValidation` middleware does.
 */
import { CelloError, HttpError, type Request } from "@cellojs/core";

/** The host names a local MCP server answers by default (any port). */
export const LOCALHOST_NAMES: readonly string[] = Object.freeze(["localhost", "127.0.0.1", "[::1]"]);

/** What the checks were built from: a list, or `"*"` for "any". */
export type AllowList = readonly string[] | "*";

/** A compiled Host/Origin check: undefined when the request may pass, else the 403 to answer. */
export type HostCheck = (request: Request) => HttpError | undefined;

/**
 * Build the check. `allowedHosts`: host names (`"mcp.example.com"`, any port) or
 * `host:port` pairs (that port only); default {@link LOCALHOST_NAMES}. `allowedOrigins`:
 * exact origins (`"https://app.example.com"`); default: origins on an allowed host name
 * (http or https, any port). `"*"` turns a check off. A request without `Origin` (a
 * client that is not a browser) passes the origin check; `Origin: null` passes only when
 * `"null"` is listed.
 */
export function hostCheck(allowedHosts: AllowList | undefined, allowedOrigins: AllowList | undefined): HostCheck {
  const hosts = allowList("allowedHosts", allowedHosts ?? LOCALHOST_NAMES)!;
  const origins = allowList("allowedOrigins", allowedOrigins);
  const hostAllowed = (host: string): boolean => {
    if (hosts === "*") return true;
    const lower = host.toLowerCase();
    return hosts.has(lower) || hosts.has(hostnameOf(lower));
  };
  const originAllowed = (origin: string): boolean => {
    if (origins === "*") return true;
    if (origins !== undefined) return origins.has(origin.toLowerCase());
    // No list: an origin is allowed when it names an allowed host (localhost by default).
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    return (url.protocol === "http:" || url.protocol === "https:") && hostAllowed(url.host);
  };
  return (request) => {
    const host = request.getHeader("host") ?? request.getHeader(":authority");
    if (host === undefined || !hostAllowed(host)) return HttpError.fromCode("CELLO_FORBIDDEN", `Host not allowed: ${printable(host)}`);
    const origin = request.getHeader("origin");
    if (origin !== undefined && !originAllowed(origin)) return HttpError.fromCode("CELLO_FORBIDDEN", `Origin not allowed: ${printable(origin)}`);
    return undefined;
  };
}

/** `host[:port]` -> host (an IPv6 literal keeps its brackets). */
function hostnameOf(host: string): string {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(":");
  return colon === -1 ? host : host.slice(0, colon);
}

function allowList(name: string, list: AllowList | undefined): ReadonlySet<string> | "*" | undefined {
  if (list === undefined || list === "*") return list;
  if (!Array.isArray(list) || !list.every((entry) => typeof entry === "string" && entry !== "")) {
    throw new CelloError("CELLO_INVALID_OPTION", `mountMcp: ${name} must be "*" or an array of non-empty strings`);
  }
  return new Set(list.map((entry) => entry.toLowerCase()));
}

/** A header value as it may appear in an error message: bounded, printable ASCII only. */
function printable(value: string | undefined): string {
  if (value === undefined) return "(none)";
  const clean = value.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 100 ? `${clean.slice(0, 100)}...` : clean;
}
