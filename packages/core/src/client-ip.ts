/**
 * Who the client is, by address: the socket's peer, or the address a trusted
 * proxy put in `X-Forwarded-For`. The app's `trustProxy` option is compiled
 * here once; `Request.ip` reads it. CIDR matching and the header walk are
 * proxy-addr's (the module Express uses), not ours.
 */
import { isIP } from "node:net";
import proxyaddr from "proxy-addr";
import { CelloError } from "./errors.js";
import { describeValue } from "./describe.js";
import type { RawRequest } from "./request.js";

/**
 * Which peers may tell the app the client's address through `X-Forwarded-For`:
 * - `false` (default): none; `request.ip` is the socket's peer.
 * - a list of addresses and CIDR ranges (`["127.0.0.1", "10.0.0.0/8", "::1"]`), or proxy-addr's
 *   names `"loopback"`, `"linklocal"`, `"uniquelocal"`;
 * - a function `(address, hop) => boolean` (hop 0 is the socket's peer).
 *
 * The header is read from right to left and the walk stops at the first hop that is not
 * trusted: that hop is the client. `Forwarded` (RFC 7239) is not read: a proxy that
 * overwrites one header passes the other on untouched, so honouring both would let any
 * client name itself.
 */
export type TrustProxy = false | string[] | ((address: string, hop: number) => boolean);

/** A compiled trust test, or undefined when no proxy is trusted. */
export type TrustFunction = ((address: string, hop: number) => boolean) | undefined;

/**
 * Compile the app's `trustProxy` once, at construction.
 * @throws CelloError `CELLO_INVALID_OPTION` for an address or range proxy-addr cannot parse, or a value of another type.
 */
export function compileTrust(trust: TrustProxy | undefined): TrustFunction {
  if (trust === undefined || trust === false) return undefined;
  if (typeof trust === "function") return trust;
  if (!Array.isArray(trust) || trust.some((entry) => typeof entry !== "string")) {
    throw new CelloError("CELLO_INVALID_OPTION", `trustProxy must be false, a list of addresses and CIDR ranges, or a function; got ${describeValue(trust)}`);
  }
  try {
    return proxyaddr.compile(trust);
  } catch (err) {
    throw new CelloError("CELLO_INVALID_OPTION", `trustProxy: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The client's address: the socket's peer, or, when the peer is a trusted proxy,
 * the last address in `X-Forwarded-For` that is not a trusted proxy. An entry that is
 * not an IP address (garbage, a port, an obfuscated name) ends the walk: the hop that
 * sent it is taken as the client. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is given as
 * IPv4. `""` once the socket is gone and no address was read before.
 */
export function clientIp(raw: RawRequest, trust: TrustFunction): string {
  const peer = raw.socket?.remoteAddress;
  if (peer === undefined) return "";
  if (trust === undefined || raw.headers["x-forwarded-for"] === undefined) return unmapped(peer);
  // proxyaddr.all: [peer, ...forwarded right to left], up to and including the first untrusted hop.
  const hops = proxyaddr.all(raw as Parameters<typeof proxyaddr.all>[0], trust);
  let client = peer;
  for (let i = 1; i < hops.length; i++) {
    const hop = hops[i]!;
    if (isIP(hop) === 0) break;
    client = hop;
  }
  return unmapped(client);
}

function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The key a client address is counted under: an IPv4 address as it is, an IPv6 address by
 * its /64 network (`2001:db8:0:1::/64`), since one subscriber line usually gets a whole /64
 * and could otherwise spread over 2^64 counts. Anything else (`""`) as it is.
 */
export function addressKey(ip: string): string {
  // Every IPv6 address has a colon: an IPv4 address (the common case, once per rate-limited request) needs no parse.
  if (!ip.includes(":") || isIP(ip) !== 6) return ip;
  const address = ip.split("%", 1)[0]!;
  const [head = "", tail] = address.split("::", 2) as [string, string | undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) takes two groups; only the first four groups matter here.
  const tailCount = tailGroups.reduce((n, group) => n + (group.includes(".") ? 2 : 1), 0);
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(Math.max(0, 8 - headGroups.length - tailCount)).fill("0"), ...tailGroups];
  return `${groups.slice(0, 4).map((group) => (group.includes(".") ? group : parseInt(group, 16).toString(16))).join(":")}::/64`;
}
