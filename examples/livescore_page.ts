/**
 * The livescore page (`GET /`) and the fragments `/match/events` sends. Every
 * piece is built with the `html` template, so team and player names are
 * escaped wherever they appear; htmx swaps each fragment into the element whose
 * `sse-swap` names its event. Nothing is loaded from outside the server.
 */
import { html, type Html } from "@cellojs/core";
import type { MatchState, TimelineEntry } from "./livescore.js";

/** The scoreboard (event `score`): both teams and the goals. */
export function scoreFragment(state: MatchState): Html {
  return html`<span class="team home">${state.home.name}</span>
<span class="goals"><span id="home-goals">${state.home.goals}</span> - <span id="away-goals">${state.away.goals}</span></span>
<span class="team away">${state.away.name}</span>`;
}

const PHASE_LABEL: Record<MatchState["phase"], string> = {
  "not-started": "Not started",
  "first-half": "First half",
  "half-time": "Half-time",
  "second-half": "Second half",
  "full-time": "Full-time",
};

/** The clock (event `clock`): the minute and the phase. */
export function clockFragment(state: MatchState): Html {
  const live = state.phase === "first-half" || state.phase === "second-half";
  return html`<span id="minute" data-minute="${state.minute}">${live ? `${state.minute}'` : ""}</span>
<span id="phase" data-phase="${state.phase}">${PHASE_LABEL[state.phase]}</span>`;
}

function describeEntry(entry: TimelineEntry): Html {
  switch (entry.kind) {
    case "goal":
      return html`Goal! <strong class="player">${entry.player}</strong> (<span class="team">${entry.team}</span>)`;
    case "yellow-card":
      return html`Yellow card: <span class="player">${entry.player}</span> (<span class="team">${entry.team}</span>)`;
    case "kick-off":
      return html`Kick-off`;
    case "half-time":
      return html`Half-time`;
    case "second-half":
      return html`Second half under way`;
    case "full-time":
      return html`Full-time`;
  }
}

/** The event list (event `timeline`), newest first: the whole list each time, so a repeated event changes nothing. */
export function timelineFragment(state: MatchState): Html {
  return html`${[...state.timeline].reverse().map(
    (entry) => html`<li class="${entry.kind}" data-kind="${entry.kind}"><span class="at">${entry.minute}'</span> ${describeEntry(entry)}</li>
`,
  )}`;
}

/**
 * The page: the current state, then htmx keeps it live from `/match/events`.
 * @param state - The match now.
 * @param lastEventId - The channel's last id when `state` was read: the page's EventSource resumes after it.
 * @example app.get("/", async () => livescorePage(state, (await app.broker.lastId("match")) ?? "0"));
 */
export function livescorePage(state: MatchState, lastEventId: string): Html {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <!-- No icon to fetch: without this line the browser asks for /favicon.ico and logs a 404. -->
  <link rel="icon" href="data:,">
  <title>Cello.ts Livescore: ${state.home.name} v ${state.away.name}</title>
  <script src="/assets/htmx.min.js"></script>
  <script src="/assets/htmx-ext-sse.min.js"></script>
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 20px; max-width: 640px; color: #222; }
    #scoreboard { display: grid; grid-template-columns: 1fr auto 1fr; align-items: center; gap: 16px; background: #1b5e20; color: #fff; border-radius: 8px; padding: 18px; font-size: 1.3rem; }
    #scoreboard .home { text-align: right; }
    #scoreboard .goals { font-size: 2.2rem; font-weight: 700; font-variant-numeric: tabular-nums; }
    #clock { display: flex; gap: 10px; justify-content: center; margin: 10px 0; color: #555; }
    #minute { font-weight: 700; color: #c62828; }
    #timeline { list-style: none; padding: 0; }
    #timeline li { position: relative; padding: 6px 0 6px 1.4em; border-bottom: 1px solid #eee; }
    #timeline .at { display: inline-block; width: 3em; color: #666; font-variant-numeric: tabular-nums; }
    #timeline .goal { font-weight: 600; }
    /* Marks drawn with CSS: a machine without an emoji font would show boxes. */
    #timeline .yellow-card::before, #timeline .goal::before { content: ""; position: absolute; left: .2em; top: .65em; width: .6em; height: .8em; background: #fbc02d; border-radius: 2px; }
    #timeline .goal::before { left: .1em; width: .8em; background: #1b5e20; border-radius: 50%; }
    .meta { color: #666; font-size: .85rem; }
  </style>
</head>
<body>
  <h1>Livescore</h1>
  <main id="match" hx-ext="sse" sse-connect="/match/events?lastEventId=${lastEventId}">
    <div id="scoreboard" sse-swap="score">${scoreFragment(state)}</div>
    <p id="clock" sse-swap="clock">${clockFragment(state)}</p>
    <h2>Match events</h2>
    <ol id="timeline" sse-swap="timeline">${timelineFragment(state)}</ol>
  </main>
  <p class="meta">HTML fragments over SSE (<code>GET /match/events</code>), swapped in by htmx's SSE extension.</p>
</body>
</html>
`;
}
