/**
 * HTML built safely: the `html` tagged template escapes what it interpolates,
 * so user input never becomes markup. Its result, an {@link Html}, is what a
 * handler returns (a text/html answer), what an SSE event carries (an htmx
 * fragment), and what another `html` template nests without escaping again.
 */
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import { holeContexts, type HoleContext } from "./context.js";

// Only html`` and unsafeHtml() may build an Html: `new Html(userInput)` would be an opt-out without the name that says so.
const kTrusted = Symbol("cello.html.trusted");

/**
 * Markup that is safe to send: built by the {@link html} template (every
 * interpolated value escaped) or, for markup you trust, by {@link unsafeHtml}.
 *
 * Return it from a handler (`text/html; charset=utf-8`), add it to an SSE stream
 * (`stream.addEvent("score", fragment)`, `new SseEvent(fragment, { event })`, or yield it
 * from a generator), publish it to a channel, or nest it in another `html` template.
 * `String(fragment)` is the markup.
 */
export class Html {
  readonly #markup: string;

  /**
   * Not for direct use: build one with {@link html} or {@link unsafeHtml}. `token` is private to
   * this module, so any other call throws `CELLO_UNSAFE_HTML` (and does not type-check).
   */
  constructor(markup: string, token: typeof kTrusted) {
    if (token !== kTrusted) throw new CelloError("CELLO_UNSAFE_HTML", "build Html with the html`...` template, or unsafeHtml(markup) for markup you trust");
    this.#markup = markup;
  }

  /** The markup. */
  toString(): string {
    return this.#markup;
  }

  /** The markup, so `JSON.stringify({ fragment })` carries the text and not `{}`. */
  toJSON(): string {
    return this.#markup;
  }
}

const ESCAPED: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const SPECIAL = /[&<>"']/;
const SPECIAL_ALL = /[&<>"']/g;

/**
 * Escape text for HTML: `&`, `<`, `>`, `"` and `'` become character references, so the
 * result is plain text in element content and in a quoted attribute value (double or single).
 * It does not make text safe in an unquoted attribute, a `<script>` or a URL (`javascript:`).
 *
 * @example escapeHtml(`<a href="x">Tom & Jerry's</a>`) // "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
 */
export function escapeHtml(text: string): string {
  if (typeof text !== "string") throw new CelloError("CELLO_UNSAFE_HTML", `escapeHtml() takes a string, got ${describeValue(text)}`);
  // Most values (names, numbers, words) have nothing to escape: no copy for them.
  return SPECIAL.test(text) ? text.replace(SPECIAL_ALL, (c) => ESCAPED[c]!) : text;
}

/**
 * Mark `markup` as trusted HTML: it goes out as it is, never escaped. The name is the
 * warning: use it only for markup you wrote or sanitised, never for user input.
 *
 * @param markup - A string of HTML.
 * @throws CelloError `CELLO_UNSAFE_HTML` when `markup` is not a string.
 * @example
 * const icon = unsafeHtml(readFileSync("icon.svg", "utf8"));
 * html`<button>${icon} Save</button>`;
 */
export function unsafeHtml(markup: string): Html {
  if (typeof markup !== "string") throw new CelloError("CELLO_UNSAFE_HTML", `unsafeHtml() takes a string, got ${describeValue(markup)}`);
  return new Html(markup, kTrusted);
}

/** What an `html` template may interpolate. */
export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | readonly HtmlValue[];

const REFUSED: Record<Exclude<HoleContext, "safe" | "comment">, string> = {
  tag: "inside a tag, where text could add attributes (an onclick): put it in a quoted attribute value, name=\"${...}\"",
  unquoted: "in an unquoted attribute value, where a space would start a new attribute: quote it, name=\"${...}\"",
  "raw-text": "inside <script> or <style>, where HTML escaping does not apply: pass data in a data-* attribute, or unsafeHtml() for text you made safe for that language",
  opaque:
    "after markup that parses differently depending on where the fragment lands (inside <svg> or <math>: a <title>, <style>, <foreignObject> or HTML tag, a CDATA section; tags written inside <title> or <textarea>): build that part in its own html`...`",
};

/** One interpolated value as markup; `where` is the hole's context. */
function render(value: unknown, where: HoleContext, index: number): string {
  if (value instanceof Html) return value.toString();
  if (value === null || value === undefined || value === false) return "";
  if (where !== "safe" && where !== "comment") throw new CelloError("CELLO_UNSAFE_HTML", `html: value ${index + 1} (${describeValue(value)}) sits ${REFUSED[where]}`);
  switch (typeof value) {
    case "string":
      // A comment is not decoded (nobody sees it) but ends at `-->` or `--!>`: no `-` of a value may help end it.
      return where === "comment" ? escapeHtml(value).replaceAll("-", "&#45;") : escapeHtml(value);
    case "number":
    case "bigint":
    case "boolean":
      return String(value);
    case "object":
      if (Array.isArray(value)) {
        let joined = "";
        for (const item of value) joined += render(item, where, index);
        return joined;
      }
  }
  // An object would render "[object Object]", a Promise "[object Promise]" (a missing await): refused with a hint.
  const hint = value instanceof Promise ? " (a missing await?)" : typeof value === "object" ? ": interpolate a string, a number, an Html or an array of them" : "";
  throw new CelloError("CELLO_UNSAFE_HTML", `html: value ${index + 1} is ${describeValue(value)}${hint}`);
}

/**
 * The escaping HTML template. Each interpolated string is escaped for HTML (`&`, `<`, `>`,
 * `"`, `'`), so it shows as text in element content and in quoted attribute values; numbers
 * render as written; `null`, `undefined` and `false` render nothing; arrays render each item
 * (joined with nothing); an {@link Html} (a nested `html` result, or {@link unsafeHtml}) goes in
 * as it is.
 *
 * A value where escaping cannot help throws `CELLO_UNSAFE_HTML`: in a tag outside a quoted
 * value (`<div ${x}>`), in an unquoted attribute value (`class=${x}`), or inside `<script>` or
 * `<style>` (an Html, or an empty value, is still allowed there). URLs are not checked: a
 * user-given `href` can still be `javascript:`.
 *
 * @returns An {@link Html}: return it from a handler, or send it as an SSE event.
 * @throws CelloError `CELLO_UNSAFE_HTML` for a value in one of those places, or one that is not
 *   a string, number, bigint, boolean, null, undefined, Html or array of them (an object, a Promise).
 * @example
 * const row = (team: { name: string; goals: number }) => html`<li class="team">${team.name}: ${team.goals}</li>`;
 * app.get("/teams", () => html`<ul>${teams.map(row)}</ul>`); // text/html; charset=utf-8
 * stream.addEvent("score", html`<span id="score">${home} - ${away}</span>`);
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  if (!Array.isArray(strings) || !Array.isArray((strings as TemplateStringsArray).raw)) {
    throw new CelloError("CELLO_UNSAFE_HTML", "html is a tagged template: write html`<p>${text}</p>`, not html(text) (use unsafeHtml(markup) for trusted markup)");
  }
  const contexts = holeContexts(strings);
  let markup = strings[0]!;
  for (let i = 0; i < values.length; i++) markup += render(values[i], contexts[i]!, i) + strings[i + 1]!;
  return new Html(markup, kTrusted);
}
