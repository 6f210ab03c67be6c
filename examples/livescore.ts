/**
 * Livescore: a simulated soccer match (kick-off, goals, cards, half-time,
 * full-time) pushed to the browser as HTML fragments over SSE and swapped in by
 * htmx and its SSE extension, both served from node_modules by this app.
 *
 * Run:   npx tsx examples/livescore.ts
 * Try:   open http://127.0.0.1:8000/ (the score, the clock and the events update live)
 *        curl -N http://127.0.0.1:8000/match/events
 *        LIVESCORE_HOME='<b>Rovers</b>' npx tsx examples/livescore.ts   (shown as text, never markup)
 *
 * Every change publishes the whole score, clock and event list as fragments
 * (events `score`, `clock`, `timeline`), so an event a reconnecting page gets
 * twice (the page's snapshot and the replay overlap) changes nothing.
 * The match runs only while the app runs: it kicks off on `startup`.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { App, CelloError, Response } from "@cellojs/core";
import { isMain } from "./main.js";
import { clockFragment, livescorePage, scoreFragment, timelineFragment } from "./livescore_page.js";

/** Something that happens during the match, scripted at a minute. */
export interface Incident {
  /** 1 to 90 (1-45 the first half, 46-90 the second). */
  minute: number;
  team: "home" | "away";
  kind: "goal" | "yellow-card";
  player: string;
}

/** The match to simulate. */
export interface MatchScript {
  home: string;
  away: string;
  incidents: Incident[];
}

/** Where the match is. */
export type Phase = "not-started" | "first-half" | "half-time" | "second-half" | "full-time";

/** One line of the event list, newest first on the page. */
export interface TimelineEntry {
  minute: number;
  kind: "kick-off" | "goal" | "yellow-card" | "half-time" | "second-half" | "full-time";
  /** The player, for goals and cards. */
  player?: string;
  /** The team's name, for goals and cards. */
  team?: string;
}

/** The state of the match: what the page shows and `GET /api/match` returns. */
export interface MatchState {
  home: { name: string; goals: number };
  away: { name: string; goals: number };
  phase: Phase;
  /** The match minute, 0 before kick-off. */
  minute: number;
  /** Oldest first. */
  timeline: TimelineEntry[];
}

/** Options of {@link createLivescoreApp}. */
export interface LivescoreOptions {
  /** Real milliseconds per match minute. Default `LIVESCORE_MINUTE_MS` or 1000 (a 90-minute match in about 100 s). */
  minuteMs?: number;
  /** Match minutes the half-time break lasts. Default 5. */
  halfTimeMinutes?: number;
  /** Match minutes after full-time before the match kicks off again; `false` to stop at full-time. Default 30. */
  restartAfterMinutes?: number | false;
  /** The match. Default: a fixed script; `LIVESCORE_HOME` / `LIVESCORE_AWAY` rename the teams. */
  script?: MatchScript;
}

const DEFAULT_INCIDENTS: Incident[] = [
  { minute: 9, team: "home", kind: "yellow-card", player: "Okafor" },
  { minute: 17, team: "away", kind: "goal", player: "Lindqvist" },
  { minute: 38, team: "home", kind: "goal", player: "Moreau" },
  { minute: 61, team: "away", kind: "yellow-card", player: "Brennan" },
  { minute: 74, team: "home", kind: "goal", player: "Da Silva" },
  { minute: 88, team: "away", kind: "goal", player: "Lindqvist" },
];

/** The script the demo plays unless told otherwise. */
export function defaultScript(env: NodeJS.ProcessEnv = process.env): MatchScript {
  return { home: env.LIVESCORE_HOME || "Riverside FC", away: env.LIVESCORE_AWAY || "Harbour United", incidents: DEFAULT_INCIDENTS };
}

/** Files of htmx and its SSE extension, read from node_modules (pinned in examples/package.json): no CDN. */
const require = createRequire(import.meta.url);
const ASSETS: Record<string, string> = {
  "/assets/htmx.min.js": require.resolve("htmx.org/dist/htmx.min.js"),
  "/assets/htmx-ext-sse.min.js": require.resolve("htmx-ext-sse/dist/sse.min.js"),
};

function checkOptions(minuteMs: number, halfTime: number, restart: number | false, script: MatchScript): void {
  const bad = (detail: string) => new CelloError("CELLO_INVALID_OPTION", `createLivescoreApp: ${detail}`);
  if (!Number.isFinite(minuteMs) || minuteMs < 1) throw bad(`minuteMs must be a number >= 1, got ${minuteMs}`);
  if (!Number.isInteger(halfTime) || halfTime < 0) throw bad(`halfTimeMinutes must be an integer >= 0, got ${halfTime}`);
  if (restart !== false && (!Number.isInteger(restart) || restart < 0)) throw bad(`restartAfterMinutes must be an integer >= 0 or false, got ${restart}`);
  for (const name of [script.home, script.away]) {
    if (typeof name !== "string" || name.length === 0 || name.length > 200) throw bad("team names must be strings of 1 to 200 characters");
  }
  for (const incident of script.incidents) {
    if (!Number.isInteger(incident.minute) || incident.minute < 1 || incident.minute > 90) throw bad(`an incident's minute must be 1 to 90, got ${incident.minute}`);
  }
}

/**
 * Build the livescore app: `GET /` (the page), `GET /match/events` (SSE: `score`, `clock` and
 * `timeline` fragments, resumable with Last-Event-ID), `GET /api/match` (the state as JSON),
 * and htmx's files under `/assets/`.
 * @param options - `minuteMs` (default 1000), `halfTimeMinutes` (5), `restartAfterMinutes` (30), `script`.
 * @example
 * const app = createLivescoreApp({ minuteMs: 20, restartAfterMinutes: false });
 * await app.listen({ port: 0 });
 */
export function createLivescoreApp(options: LivescoreOptions = {}): App {
  const minuteMs = options.minuteMs ?? (Number(process.env.LIVESCORE_MINUTE_MS) || 1000);
  const halfTimeMinutes = options.halfTimeMinutes ?? 5;
  const restartAfter = options.restartAfterMinutes ?? 30;
  const script = options.script ?? defaultScript();
  checkOptions(minuteMs, halfTimeMinutes, restartAfter, script);
  const assets = new Map(Object.entries(ASSETS).map(([path, file]) => [path, readFileSync(file)]));

  const app = new App();
  // History covers a page's gap between its snapshot and its EventSource connecting, and a reconnect
  // (a match publishes about 110 events). A page that was away longer gets an `event: reset`, which
  // it ignores: the next clock tick, goal or card brings it up to date fragment by fragment.
  const match = app.channel("match", { history: 500 });
  let state = kickOffState(script);
  let timer: NodeJS.Timeout | undefined;
  // Ticks since kick-off: the match minute, plus the half-time break and the wait for a restart.
  let tick = 0;

  // Each fragment is sent when what it shows changed: the clock every minute, the rest on an event.
  const publish = (before: { goals: number; entries: number }) => {
    if (state.home.goals + state.away.goals !== before.goals) void match.publish(scoreFragment(state), { event: "score" });
    void match.publish(clockFragment(state), { event: "clock" });
    if (state.timeline.length !== before.entries) void match.publish(timelineFragment(state), { event: "timeline" });
  };
  const record = (entry: TimelineEntry) => state.timeline.push(entry);

  const step = () => {
    const before = { goals: state.home.goals + state.away.goals, entries: state.timeline.length };
    tick++;
    const secondHalfStart = 45 + halfTimeMinutes + 1;
    if (state.phase === "not-started") {
      state.phase = "first-half";
      record({ minute: 0, kind: "kick-off" });
    } else if (state.phase === "first-half") {
      state.minute++;
      play(state.minute);
      if (state.minute === 45) {
        state.phase = "half-time";
        record({ minute: 45, kind: "half-time" });
      }
    } else if (state.phase === "half-time") {
      if (tick < secondHalfStart) return;
      state.phase = "second-half";
      record({ minute: 46, kind: "second-half" });
      state.minute = 46;
      play(46);
    } else if (state.phase === "second-half") {
      state.minute++;
      play(state.minute);
      if (state.minute === 90) {
        state.phase = "full-time";
        record({ minute: 90, kind: "full-time" });
      }
    } else {
      if (restartAfter === false) {
        clearInterval(timer);
        return;
      }
      if (tick < secondHalfStart + 45 + restartAfter) return;
      state = kickOffState(script);
      tick = 0;
      // A new match: every fragment changes (the score back to 0 - 0, an empty list).
      before.goals = before.entries = -1;
    }
    publish(before);
  };
  const play = (minute: number) => {
    for (const incident of script.incidents) {
      if (incident.minute !== minute) continue;
      const side = state[incident.team];
      if (incident.kind === "goal") side.goals++;
      record({ minute, kind: incident.kind, player: incident.player, team: side.name });
    }
  };

  app.onEvent("startup", () => {
    timer = setInterval(step, minuteMs);
  });
  app.onEvent("shutdown", () => clearInterval(timer));

  app.get("/", async () => {
    // The id first, then the state: whatever is published after the id is replayed to the page,
    // and replaying a full-state fragment the snapshot already shows changes nothing.
    const lastId = (await app.broker.lastId("match")) ?? "0";
    return livescorePage(state, lastId);
  });
  app.get("/match/events", (request) => match.subscribe(request));
  app.get("/api/match", () => state);
  for (const [path, bytes] of assets) {
    app.get(path, () => {
      const response = Response.binary(bytes, "text/javascript; charset=utf-8");
      response.setHeader("Cache-Control", "public, max-age=3600");
      return response;
    });
  }
  return app;
}

function kickOffState(script: MatchScript): MatchState {
  return { home: { name: script.home, goals: 0 }, away: { name: script.away, goals: 0 }, phase: "not-started", minute: 0, timeline: [] };
}

/** The app `npx tsx examples/livescore.ts` runs. */
export const app = createLivescoreApp();

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
