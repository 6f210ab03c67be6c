/**
 * Notifications: a per-user stream behind token auth. Every notification goes
 * through one channel; each subscriber's `filter` lets through only the ones
 * addressed to its user, for live events and for the replay after a reconnect.
 *
 * Run:   npx tsx examples/notifications.ts
 * Try:   open http://127.0.0.1:8000/ and sign in with alice-secret (bob-secret in another browser)
 *        curl -N "http://127.0.0.1:8000/notifications?token=alice-secret"
 *        curl -X POST -H "Content-Type: application/json" -d '{"text":"hi"}' \
 *             "http://127.0.0.1:8000/notify/alice?token=bob-secret"
 *
 * The stream and `POST /notify/{user}` are guarded by one `Authenticated`
 * guard. A browser's EventSource cannot send an Authorization header, so the
 * token comes from `Authorization: Bearer <token>`, else the `token` cookie (set
 * by `POST /login`, HttpOnly), else `?token=`. A token in a URL ends up in
 * access logs: prefer the cookie. A wrong or missing token is a 401 JSON body
 * with `WWW-Authenticate`, before any byte of the stream. A sign-in lasts
 * `sessionTtlMs` (15 minutes when run): then the stream ends with
 * `event: reauthenticate` and the page asks to sign in again.
 *
 * Every route declares its contract once with zod `schema`s: invalid input is a
 * 422 problem+json before the handler runs, the stream's events are checked in
 * development, and `/openapi.json` (with Scalar's UI at `/docs`) publishes it.
 * `notifications.api.gen.ts` is generated from that document
 * (`npx cello-client generate http://127.0.0.1:8000/openapi.json --out examples/notifications.api.gen.ts`)
 * and types `createClient()` calls and the stream's events.
 */
import { App, Authenticated, HttpError, Response, type Request } from "@cellojs/core";
import { scalarUi } from "@cellojs/openapi";
import { z } from "zod";
import { isMain } from "./main.js";
import { notificationsPage } from "./notifications_page.js";

/** One notification, the `data` of a `notification` event. */
export const NotificationSchema = z
  .object({
    to: z.string(),
    from: z.string(),
    text: z.string(),
    sent_at: z.iso.datetime().describe("ISO 8601 time it was sent"),
  })
  .meta({ id: "Notification" });
/** One notification, the `data` of a `notification` event. */
export type Notification = z.infer<typeof NotificationSchema>;

/** The contracts of the routes: what each accepts, answers and streams. */
const TokenBody = z.object({ token: z.string() });
const UserAnswer = z.object({ user: z.string().nullable() });
const NotifyBody = z.object({ text: z.string().max(500).trim().min(1).describe("1 to 500 characters (trimmed)") });
const StreamQuery = z.object({
  lastEventId: z.string().optional().describe("Resume after this notification id (what EventSource sends as Last-Event-ID)"),
});
const StreamEvents = {
  notification: NotificationSchema,
  /** The last event when the sign-in expires (the guard sends it, with `retry`). */
  reauthenticate: z.object({ reason: z.string() }),
};

/** The demo's users, by token. Real apps look tokens up in a session store. */
export const DEMO_TOKENS: Readonly<Record<string, string>> = { "alice-secret": "alice", "bob-secret": "bob", "carol-secret": "carol" };

/** Options of {@link createNotificationsApp}. */
export interface NotificationsOptions {
  /** token -> user name. Default {@link DEMO_TOKENS}. */
  tokens?: Record<string, string>;
  /** Notifications kept for clients that reconnect. Default 1000. */
  history?: number;
  /**
   * A sign-in with `POST /login` lasts this long; then the token is refused
   * (401) and an open stream ends with `event: reauthenticate`, so the page
   * asks to sign in again. Default: sign-ins never expire.
   */
  sessionTtlMs?: number;
}

const CHALLENGE = { "WWW-Authenticate": 'Bearer realm="notifications"' };

/** Whom the guard admitted: the demo's principal is the user's name. */
interface DemoPrincipal {
  user: string;
}
/** The signed-in user of a request the guard admitted. */
const userOf = (request: Request): string => (request.principal as DemoPrincipal).user;

/**
 * Build the notifications app: `GET /` (page), `POST /login`, `POST /logout`,
 * `GET /me` (the signed-in user or null), `GET /notifications` (SSE, the caller's own), `POST /notify/{user}`,
 * and `GET /openapi.json` with its docs UI at `GET /docs`.
 * @param options - `tokens` (default {@link DEMO_TOKENS}), `history` (default 1000).
 * @example
 * const app = createNotificationsApp({ tokens: { "t-1": "ann" } });
 * await app.listen({ port: 0 });
 */
export function createNotificationsApp(options: NotificationsOptions = {}): App {
  const tokens = new Map(Object.entries(options.tokens ?? DEMO_TOKENS));
  const users = new Set(tokens.values());
  const app = new App();
  const notifications = app.channel("notifications", { history: options.history ?? 1000 });

  /** token -> when its sign-in expires (ms since the epoch), with `sessionTtlMs`. */
  const sessions = new Map<string, number>();
  const verify = (token: string): { principal: DemoPrincipal; expiresAt?: number } | undefined => {
    const user = tokens.get(token);
    if (user === undefined) return undefined;
    const expiresAt = sessions.get(token);
    // The guard refuses an expiresAt already past (401) and ends a stream when it comes.
    return expiresAt === undefined ? { principal: { user } } : { principal: { user }, expiresAt };
  };

  // 401 with `WWW-Authenticate: Bearer realm="notifications"` unless the request carries a known token.
  const signedIn = Authenticated({ realm: "notifications", cookie: "token", query: "token", verify });

  app.enableOpenapi({ title: "Cello.ts notifications demo", ui: scalarUi() });

  app.get("/", () => Response.html(notificationsPage), { openapi: { exclude: true } });

  app.post("/login", (request) => {
    const { token } = request.valid.body;
    if (!tokens.has(token)) throw new HttpError(401, "Invalid token", { headers: CHALLENGE });
    if (options.sessionTtlMs !== undefined) sessions.set(token, Date.now() + options.sessionTtlMs);
    // HttpOnly: page scripts never see the token; the browser still sends it with EventSource.
    return Response.json(
      { user: tokens.get(token) },
      { headers: { "Set-Cookie": `token=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict` } },
    );
  }, { schema: { body: TokenBody, response: UserAnswer }, openapi: { summary: "Sign in: sets the HttpOnly token cookie", tags: ["session"] } });

  app.post("/logout", () => Response.noContent({ headers: { "Set-Cookie": "token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" } }), {
    openapi: { summary: "Sign out: clears the cookie", tags: ["session"] },
  });

  // Who is signed in, or `null`: the page asks on load, and a visitor who is not signed in is not an error.
  app.get("/me", (request) => {
    const token = bearerToken(request) ?? cookie(request, "token") ?? request.query.token;
    const verified = token === undefined ? undefined : verify(token);
    const live = verified !== undefined && (verified.expiresAt === undefined || verified.expiresAt > Date.now());
    return { user: live ? verified.principal.user : null };
  }, { schema: { response: UserAnswer }, openapi: { summary: "Who is signed in (null for nobody)", tags: ["session"] } });

  app.get("/notifications", (request) => {
    const user = userOf(request);
    return notifications.subscribe(request, { filter: (message) => (JSON.parse(message.data) as Notification).to === user });
  }, {
    guards: [signedIn],
    schema: { query: StreamQuery, events: StreamEvents },
    openapi: { summary: "The signed-in user's notifications (SSE)", tags: ["notifications"] },
  });

  app.post("/notify/{user}", (request) => {
    const from = userOf(request);
    const to = request.valid.params.user;
    if (!users.has(to)) throw new HttpError(404, `Unknown user ${JSON.stringify(to)}`);
    const notification: Notification = { to, from, text: request.valid.body.text, sent_at: new Date().toISOString() };
    return notifications.publish(notification, { event: "notification" }).then((id) => Response.created({ id }));
  }, {
    guards: [signedIn],
    schema: { params: z.object({ user: z.string() }), body: NotifyBody, response: { 201: z.object({ id: z.string() }) } },
    openapi: { summary: "Send a notification to a user", tags: ["notifications"] },
  });

  return app;
}

function bearerToken(request: Request): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.getHeader("authorization") ?? "");
  return match?.[1];
}

/** One cookie's value from the `Cookie` header (RFC 6265 5.4: `name=value` pairs joined by "; "). */
function cookie(request: Request, name: string): string | undefined {
  for (const pair of (request.getHeader("cookie") ?? "").split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      return undefined; // malformed %-escape: treat as no cookie
    }
  }
  return undefined;
}

/** The app `npx tsx examples/notifications.ts` runs. */
export const app = createNotificationsApp({ sessionTtlMs: 15 * 60_000 });

if (isMain(import.meta.url)) {
  app.enableLogging();
  console.log(`Demo tokens: ${Object.entries(DEMO_TOKENS).map(([token, user]) => `${token} (${user})`).join(", ")}`);
  await app.run();
}
