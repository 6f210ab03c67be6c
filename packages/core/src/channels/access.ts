/**
 * Channel access: who may subscribe to which channel, and what a channel name
 * may be. The one owner of both: the registry asks it before it makes or
 * subscribes anything, for `channel.subscribe(request)` and `app.subscribe(request, ...)`
 * alike, so a refused request leaves no channel and no byte of a stream behind.
 */
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";

/**
 * Decides whether `request` may subscribe to the channel called `channel`:
 * true allows, false refuses (403 `CELLO_FORBIDDEN`, before any SSE byte). It may
 * be async, and may throw an `HttpError` to answer otherwise (401 with
 * `WWW-Authenticate`, for one); any other error is a logged 500.
 *
 * @example
 * // Each user reads only their own channel.
 * app.authorizeChannels({ pattern: "user:*" }, (req, name) => name === `user:${req.getHeader("x-user")}`);
 */
export type ChannelAuthorizer = (request: Request, channel: string) => boolean | Promise<boolean>;

/**
 * A set of channels by name prefix: `{ pattern: "feed:*" }` selects every channel
 * whose name starts with `feed:`; `{ pattern: "*" }` selects all. Only such an
 * object is a pattern: a plain string is always one channel's name, `*` included,
 * so a name taken from a request can never select other channels.
 *
 * @example
 * app.get("/feed", (req) => app.subscribe(req, { pattern: "feed:*" }));
 */
export interface ChannelPattern {
  /** A prefix followed by one `*`, at the end (`"feed:*"`). */
  readonly pattern: string;
}

/** Longest channel name, in UTF-16 code units. */
export const MAX_CHANNEL_NAME_LENGTH = 256;

// C0 controls, DEL and C1 controls: nothing a channel name needs, and what breaks logs and frames.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Refuse a channel name that is empty, longer than {@link MAX_CHANNEL_NAME_LENGTH},
 * holds a control character or a lone surrogate, or is not a string: a CelloError
 * `CELLO_INVALID_CHANNEL_NAME`, a 400 when it reaches a client (which is told
 * only "Invalid channel name", never the name).
 */
export function assertChannelName(name: unknown): asserts name is string {
  let why: string | undefined;
  if (typeof name !== "string") why = `a channel name must be a string, got ${typeof name}`;
  else if (name.length === 0) why = "a channel name cannot be empty";
  else if (name.length > MAX_CHANNEL_NAME_LENGTH) why = `a channel name has at most ${MAX_CHANNEL_NAME_LENGTH} characters, got ${name.length}`;
  else if (CONTROL.test(name)) why = `a channel name cannot hold a control character: ${JSON.stringify(name)}`;
  else if (LONE_SURROGATE.test(name)) why = `a channel name cannot hold a lone surrogate: ${JSON.stringify(name)}`;
  if (why !== undefined) throw new CelloError("CELLO_INVALID_CHANNEL_NAME", why);
}

/** Whether {@link assertChannelName} would accept `name`. */
export function isChannelName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_CHANNEL_NAME_LENGTH && !CONTROL.test(name) && !LONE_SURROGATE.test(name);
}

/** The prefix of a pattern, after checking it is one (a programmer error otherwise). */
export function patternPrefix(selector: ChannelPattern): string {
  const pattern: unknown = selector.pattern;
  if (typeof pattern !== "string" || !pattern.endsWith("*") || pattern.indexOf("*") !== pattern.length - 1) {
    throw new CelloError("CELLO_INVALID_OPTION", `a channel pattern is a prefix followed by one "*" at the end (e.g. "feed:*"), got ${JSON.stringify(pattern)}`);
  }
  return pattern.slice(0, -1);
}

/** Whether `value` is a `{ pattern }` selector (anything else that is not a string is refused by the caller). */
export function isChannelPattern(value: unknown): value is ChannelPattern {
  return typeof value === "object" && value !== null && "pattern" in value;
}

/** What the app does for a channel no rule covers: `"allow"` (the default) or `"deny"`. */
export type ChannelAccessDefault = "allow" | "deny";

/** One app's channel rules (not exported from the package). */
export class ChannelAccess {
  readonly #byName = new Map<string, ChannelAuthorizer[]>();
  readonly #byPrefix: Array<{ prefix: string; authorize: ChannelAuthorizer }> = [];
  readonly #deny: boolean;

  constructor(defaultAccess: ChannelAccessDefault = "allow") {
    if (defaultAccess !== "allow" && defaultAccess !== "deny") {
      throw new CelloError("CELLO_INVALID_OPTION", `channelAccess must be "allow" or "deny", got ${JSON.stringify(defaultAccess)}`);
    }
    this.#deny = defaultAccess === "deny";
  }

  /** `app.authorizeChannels(selector, authorize)`. */
  add(selector: string | ChannelPattern, authorize: ChannelAuthorizer): void {
    if (typeof authorize !== "function") throw new CelloError("CELLO_INVALID_OPTION", `authorizeChannels() needs a function (request, channel) => boolean, got ${typeof authorize}`);
    if (typeof selector === "string") {
      assertChannelName(selector);
      const rules = this.#byName.get(selector);
      if (rules) rules.push(authorize);
      else this.#byName.set(selector, [authorize]);
      return;
    }
    if (!isChannelPattern(selector)) throw new CelloError("CELLO_INVALID_OPTION", "authorizeChannels() takes a channel name or { pattern: \"prefix*\" }");
    this.#byPrefix.push({ prefix: patternPrefix(selector), authorize });
  }

  /**
   * Whether `request` may subscribe to `name`: every rule that covers it (the
   * channel's own `authorize`, exact-name rules, matching patterns) must say
   * true; with none, the app's default decides.
   */
  async allows(request: Request, name: string, own: ChannelAuthorizer | undefined): Promise<boolean> {
    let covered = false;
    if (own !== undefined) {
      covered = true;
      if ((await own(request, name)) !== true) return false;
    }
    for (const authorize of this.#byName.get(name) ?? []) {
      covered = true;
      if ((await authorize(request, name)) !== true) return false;
    }
    for (const rule of this.#byPrefix) {
      if (!name.startsWith(rule.prefix)) continue;
      covered = true;
      if ((await rule.authorize(request, name)) !== true) return false;
    }
    return covered || !this.#deny;
  }
}

/** The 403 of a refused subscription. The client is not told which channel. */
export function forbidden(): HttpError {
  return HttpError.fromCode("CELLO_FORBIDDEN");
}
