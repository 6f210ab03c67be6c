import { createParser as createReferenceParser } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import { createParser, type ReceivedEvent } from "./parser.js";

/** Everything a parser reports for one stream. */
interface Parsed {
  events: ReceivedEvent[];
  comments: string[];
  retries: number[];
}

interface Case {
  name: string;
  input: string;
  events: ReceivedEvent[];
  comments?: string[];
  retries?: number[];
  /**
   * eventsource-parser 3.1.1 resets its id at every blank line, so an `id:` in
   * a block without data never reaches a later event; WHATWG keeps it in the
   * last event ID buffer. The differential test expects a different id here.
   */
  referenceDropsIdOnlyBlock?: true;
}

function ev(data: string, event = "message", id = "", retry?: number): ReceivedEvent {
  return retry === undefined ? { event, data, id } : { event, data, id, retry };
}

const encoder = new TextEncoder();

function parse(chunks: ReadonlyArray<string | Uint8Array>): Parsed {
  const parsed: Parsed = { events: [], comments: [], retries: [] };
  const parser = createParser({
    onEvent: (event) => parsed.events.push(event),
    onComment: (comment) => parsed.comments.push(comment),
    onRetry: (ms) => parsed.retries.push(ms),
  });
  for (const chunk of chunks) parser.feed(chunk);
  return parsed;
}

const cases: Case[] = [
  { name: "single data line", input: "data: hello\n\n", events: [ev("hello")] },
  { name: "data without the space", input: "data:hello\n\n", events: [ev("hello")] },
  { name: "only one leading space is stripped", input: "data:  two spaces\n\n", events: [ev(" two spaces")] },
  { name: "a tab is not stripped", input: "data:\tx\n\n", events: [ev("\tx")] },
  { name: "field with no colon: `data` alone is an empty data line", input: "data\n\n", events: [ev("")] },
  { name: "`data:` with nothing after it", input: "data:\n\n", events: [ev("")] },
  { name: "`data: ` with only the space", input: "data: \n\n", events: [ev("")] },
  { name: "multiple data lines are joined with LF", input: "data: a\ndata: b\ndata: c\n\n", events: [ev("a\nb\nc")] },
  { name: "only the final LF is removed from data", input: "data: a\ndata\n\n", events: [ev("a\n")] },
  { name: "colons after the first belong to the value", input: "data: a:b: c\n\n", events: [ev("a:b: c")] },
  { name: "NUL and BOM inside data are kept", input: "data: a\0b\uFEFFc\n\n", events: [ev("a\0b\uFEFFc")] },
  { name: "multi-byte UTF-8", input: "event: ünï\ndata: héllo ✓ 😀\n\n", events: [ev("héllo ✓ 😀", "ünï")] },
  { name: "event sets the type", input: "event: add\ndata: 1\n\n", events: [ev("1", "add")] },
  { name: "event type resets after dispatch", input: "event: add\ndata: 1\n\ndata: 2\n\n", events: [ev("1", "add"), ev("2")] },
  { name: "empty event type means message", input: "event:\ndata: x\n\n", events: [ev("x")] },
  { name: "last event and id in a block win", input: "event: a\nevent: b\nid: 1\nid: 2\ndata: x\n\n", events: [ev("x", "b", "2")] },
  {
    name: "event with no data is not dispatched and its type is dropped",
    input: "event: add\n\ndata: x\n\n",
    events: [ev("x")],
  },
  { name: "id is reported on its event", input: "id: 1\ndata: a\n\n", events: [ev("a", "message", "1")] },
  {
    name: "id persists to the next events",
    input: "id: 1\ndata: a\n\ndata: b\n\nevent: c\ndata: c\n\n",
    events: [ev("a", "message", "1"), ev("b", "message", "1"), ev("c", "c", "1")],
  },
  {
    name: "empty id resets it (with and without colon)",
    input: "id: 1\ndata: a\n\nid:\ndata: b\n\nid: 2\ndata: c\n\nid\ndata: d\n\n",
    events: [ev("a", "message", "1"), ev("b"), ev("c", "message", "2"), ev("d")],
  },
  {
    name: "id containing NUL is ignored",
    input: "id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\nid: \0\ndata: c\n\n",
    events: [ev("a", "message", "1"), ev("b", "message", "1"), ev("c", "message", "1")],
  },
  { name: "id keeps all but one leading space", input: "id:  x \ndata\n\n", events: [ev("", "message", " x ")] },
  {
    name: "id-only block moves the ID for later events",
    input: "id: 7\n\ndata: a\n\n",
    events: [ev("a", "message", "7")],
    referenceDropsIdOnlyBlock: true,
  },
  { name: "retry with digits", input: "retry: 1500\ndata: a\n\n", events: [ev("a", "message", "", 1500)], retries: [1500] },
  {
    name: "retry with anything but ASCII digits is ignored",
    input: "retry: 15x\nretry: -1\nretry: 1.5\nretry:\nretry:  100\nretry: ١٢\ndata: a\n\n",
    events: [ev("a")],
  },
  { name: "retry-only block dispatches nothing", input: "retry: 10\n\nretry: 0\n\n", events: [], retries: [10, 0] },
  {
    name: "unknown fields are ignored (names are case-sensitive, exact)",
    input: "foo: bar\nDATA: x\nData: y\ndata : z\n data: w\ndata: ok\n\n",
    events: [ev("ok")],
  },
  {
    name: "comments, with the colon and one space stripped",
    input: ": hello\n:\n:  two\n::x\ndata: a\n\n",
    events: [ev("a")],
    comments: ["hello", "", " two", ":x"],
  },
  {
    name: "a comment inside an event does not split it",
    input: "data: a\n: keep-alive\ndata: b\n\n",
    events: [ev("a\nb")],
    comments: ["keep-alive"],
  },
  { name: "CRLF line endings", input: "data: a\r\ndata: b\r\n\r\n", events: [ev("a\nb")] },
  { name: "CR line endings", input: "event: e\rdata: a\rdata: b\r\r", events: [ev("a\nb", "e")] },
  {
    name: "mixed line endings",
    input: "data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\n\ndata: e\r\r\n",
    events: [ev("a\nb\nc"), ev("d"), ev("e")],
  },
  { name: "LF then CR is two line ends", input: "data: a\n\rdata: b\n\n", events: [ev("a"), ev("b")] },
  { name: "CR at the very end still ends the line", input: "data: a\r\r", events: [ev("a")] },
  { name: "a BOM at stream start is stripped", input: "\uFEFFdata: a\n\n", events: [ev("a")] },
  {
    name: "a second BOM is kept (and makes an unknown field)",
    input: "\uFEFF\uFEFFdata: a\n\ndata: b\n\n",
    events: [ev("b")],
  },
  { name: "a BOM after stream start is kept", input: "data: a\n\n\uFEFFdata: b\n\n", events: [ev("a")] },
  { name: "blank lines between events do nothing", input: "\n\n\ndata: a\n\n\n\n", events: [ev("a")] },
  { name: "stream ending without the final blank line", input: "data: a\n\ndata: b\n", events: [ev("a")] },
  { name: "stream ending mid-line", input: "data: a\n\nevent: x\ndata: b", events: [ev("a")] },
  { name: "empty stream", input: "", events: [] },
  { name: "JSON payload", input: 'event: count\ndata: {"value":1}\n\n', events: [ev('{"value":1}', "count")] },
  { name: "long line", input: `data: ${"x".repeat(600)}\n\n`, events: [ev("x".repeat(600))] },
];

/** Splits `input` into `count` pieces at random code-unit or byte positions. */
function cuts<T extends { length: number; slice(start: number, end?: number): T }>(
  input: T,
  positions: number[],
): T[] {
  const sorted = [...positions].sort((a, b) => a - b);
  const pieces: T[] = [];
  let start = 0;
  for (const position of sorted) {
    pieces.push(input.slice(start, position));
    start = position;
  }
  pieces.push(input.slice(start));
  return pieces;
}

describe("createParser: WHATWG 9.2.6 cases", () => {
  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)("$name", (testCase) => {
    const expected: Parsed = {
      events: testCase.events,
      comments: testCase.comments ?? [],
      retries: testCase.retries ?? [],
    };
    const bytes = encoder.encode(testCase.input);

    expect(parse([testCase.input])).toEqual(expected);
    expect(parse([bytes])).toEqual(expected);
    // Split at every byte position: CRLF halves, BOM and multi-byte characters.
    for (let position = 0; position <= bytes.length; position += 1) {
      expect(parse(cuts(bytes, [position])), `bytes split at ${position}`).toEqual(expected);
    }
    for (let position = 0; position <= testCase.input.length; position += 1) {
      expect(parse(cuts(testCase.input, [position])), `string split at ${position}`).toEqual(expected);
    }
    expect(parse(Array.from(bytes, (byte) => Uint8Array.of(byte))), "one byte per chunk").toEqual(expected);
  });
});

describe("createParser: chunk boundaries", () => {
  it("treats a CR ending one chunk and an LF starting the next as one line end", () => {
    const parsed = parse(["data: a\r", "\ndata: b\r", "\n\r", "\n"]);
    expect(parsed.events).toEqual([ev("a\nb")]);
  });

  it("treats a CR ending one chunk and a CR starting the next as two line ends", () => {
    const parsed = parse(["data: a\r", "\r", "data: b\r", "\r"]);
    expect(parsed.events).toEqual([ev("a"), ev("b")]);
  });

  it("decodes a 4-byte character split over three chunks", () => {
    const bytes = encoder.encode("data: 😀\n\n");
    const emojiStart = 6;
    expect(parse([bytes.slice(0, emojiStart + 1), bytes.slice(emojiStart + 1, emojiStart + 3), bytes.slice(emojiStart + 3)]).events).toEqual([
      ev("😀"),
    ]);
  });

  it("strips a BOM whose bytes arrive one at a time, but only once", () => {
    const bytes = encoder.encode("\uFEFFdata: a\n\n");
    expect(parse([bytes.slice(0, 1), bytes.slice(1, 2), bytes.slice(2, 3), bytes.slice(3)]).events).toEqual([ev("a")]);
  });

  it("keeps a line that arrives in many chunks intact", () => {
    const line = `data: ${"abc".repeat(1000)}`;
    const chunks: string[] = [];
    for (let start = 0; start < line.length; start += 7) chunks.push(line.slice(start, start + 7));
    chunks.push("\n\n");
    expect(parse(chunks).events).toEqual([ev("abc".repeat(1000))]);
  });
});

describe("createParser: last event ID and reset", () => {
  it("exposes the last event ID string, updated at blank lines only", () => {
    const parser = createParser({ onEvent: () => {} });
    expect(parser.lastEventId).toBe("");
    parser.feed("id: 1\n");
    expect(parser.lastEventId).toBe("");
    parser.feed("\n");
    expect(parser.lastEventId).toBe("1");
    parser.feed("id: 2\ndata: x");
    expect(parser.lastEventId).toBe("1");
  });

  it("starts from the lastEventId option and returns to it on reset()", () => {
    const events: ReceivedEvent[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event), lastEventId: "41" });
    parser.feed("data: a\n\nid: 42\ndata: b\n\ndata: partial");
    parser.reset();
    expect(parser.lastEventId).toBe("41");
    // After reset the partial line is gone and a BOM counts as stream start again.
    parser.feed("\uFEFFdata: c\n\n");
    expect(events).toEqual([ev("a", "message", "41"), ev("b", "message", "42"), ev("c", "message", "41")]);
  });

  it("drops a pending CR after reset()", () => {
    const events: ReceivedEvent[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    parser.feed("data: a\r");
    parser.reset();
    parser.feed("\ndata: b\n\n");
    expect(events).toEqual([ev("b")]);
  });
});

// ---------------------------------------------------------------------------
// Differential test against eventsource-parser 3.1.1.
//
// Both parsers get the same byte chunks. eventsource-parser takes strings, so
// its side decodes them with a streaming TextDecoder and then strips one
// leading BOM, which is the spec's "UTF-8 decode". (Not the decoder's own BOM
// stripping: on Node 24.21 it drops two BOMs when the first is split across
// chunks.) eventsource-parser's own BOM check compares UTF-16 code units with
// the BOM's UTF-8 bytes, so it never fires on decoded text. Three documented
// normalisations, nothing else:
//  1. event type: it reports `undefined` where WHATWG says "message".
//  2. id: it reports only an id sent in the event's own block (`undefined`
//     otherwise) and forgets it at every blank line; WHATWG's last event ID
//     persists. We carry its last reported id forward. Its forgetting an id
//     sent in a block that dispatches nothing cannot be normalised (it is
//     invisible), so the random generator always follows an `id` line with a
//     `data` line, and table cases with id-only blocks are flagged.
//  3. a CR at the end of a chunk: it waits for the next chunk to see whether
//     an LF follows, and if no later chunk holds a line terminator it never
//     ends that line (found by this test: "\n\r" + "retry: 5" loses an event),
//     nor at end of stream. So its side never gets a chunk ending in CR:
//     trailing CRs move to the front of the next chunk, and at the end they are
//     fed with one LF, which turns the last CR into a CRLF, the same single
//     line end. Moving a chunk boundary never changes the stream's meaning.
// ---------------------------------------------------------------------------

function parseWithReference(chunks: readonly Uint8Array[]): Parsed {
  const parsed: Parsed = { events: [], comments: [], retries: [] };
  let lastId = "";
  const reference = createReferenceParser({
    onEvent: (message) => {
      if (message.id !== undefined) lastId = message.id;
      parsed.events.push({ event: message.event ?? "message", data: message.data, id: lastId });
    },
    onComment: (comment) => parsed.comments.push(comment),
    onRetry: (ms) => parsed.retries.push(ms),
  });
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let carriedCrs = "";
  let atStart = true;
  for (let text of [...chunks.map((bytes) => decoder.decode(bytes, { stream: true })), decoder.decode()]) {
    if (atStart && text !== "") {
      atStart = false;
      if (text.startsWith("\uFEFF")) text = text.slice(1);
    }
    const chunk = carriedCrs + text;
    let end = chunk.length;
    while (end > 0 && chunk.charCodeAt(end - 1) === 0x0d) end -= 1;
    carriedCrs = chunk.slice(end);
    if (end > 0) reference.feed(chunk.slice(0, end));
  }
  if (carriedCrs !== "") reference.feed(`${carriedCrs}\n`);
  return parsed;
}

/** Same as `parse`, keeping only what eventsource-parser can report. */
function parseComparable(chunks: readonly Uint8Array[]): Parsed {
  const parsed = parse(chunks);
  return { ...parsed, events: parsed.events.map(({ event, data, id }) => ({ event, data, id })) };
}

/** mulberry32: a tiny seeded PRNG, so failures reproduce. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LINE_ENDS = ["\n", "\r", "\r\n"];
const VALUE_PIECES = ["a", "b", "z", " ", "  ", ":", ": ", "\0", "\uFEFF", "é", "✓", "😀", "\t", '{"k":1}', "0", "9", "\u2028"];
const FIELDS = ["data", "data", "data", "data", "event", "event", "retry", "", "foo", "Data", "data ", " data", "ëvent", "\uFEFFdata"];
const SEPARATORS = [":", ": ", ":  ", "", "::"];
const RETRY_VALUES = ["100", "0", "007", "1x", " 5", "", "99999999999999999999", "-1", "1.5", "١٢"];

function randomStream(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const value = () => Array.from({ length: Math.floor(random() * 5) }, () => pick(VALUE_PIECES)).join("");
  const parts: string[] = [];
  if (random() < 0.2) parts.push("\uFEFF");
  if (random() < 0.05) parts.push("\uFEFF");
  const lineCount = 1 + Math.floor(random() * 24);
  for (let line = 0; line < lineCount; line += 1) {
    const kind = random();
    if (kind < 0.25) {
      parts.push(pick(LINE_ENDS));
    } else if (kind < 0.37) {
      // id is always followed by a data line in the same block: see normalisation 2.
      const idLine = random() < 0.15 ? "id" : `id${pick([":", ": "])}${value()}`;
      parts.push(idLine, pick(LINE_ENDS), `data: ${value()}`, pick(LINE_ENDS));
    } else {
      const field = pick(FIELDS);
      const separator = pick(SEPARATORS);
      const fieldValue = field === "retry" && random() < 0.7 ? pick(RETRY_VALUES) : value();
      parts.push(field, separator, separator === "" ? "" : fieldValue, pick(LINE_ENDS));
    }
  }
  if (random() < 0.2) parts.pop(); // end without the final line end
  return parts.join("");
}

function randomChunks(bytes: Uint8Array, random: () => number): Uint8Array[] {
  if (random() < 0.1) return Array.from(bytes, (byte) => Uint8Array.of(byte));
  const count = Math.floor(random() * 8);
  return cuts(bytes, Array.from({ length: count }, () => Math.floor(random() * (bytes.length + 1))));
}

describe("createParser: differential test against eventsource-parser", () => {
  it.each(cases)("table: $name", (testCase) => {
    const bytes = encoder.encode(testCase.input);
    for (let position = 0; position <= bytes.length; position += 1) {
      const chunks = cuts(bytes, [position]);
      const ours = parseComparable(chunks);
      const reference = parseWithReference(chunks);
      if (testCase.referenceDropsIdOnlyBlock) {
        // Same events except for the id it cannot know; prove the flag is still needed.
        const withoutIds = (parsed: Parsed) => parsed.events.map(({ event, data }) => ({ event, data }));
        expect(withoutIds(reference)).toEqual(withoutIds(ours));
        expect(reference.events.map((event) => event.id)).not.toEqual(ours.events.map((event) => event.id));
      } else {
        expect(reference, `split at byte ${position}`).toEqual(ours);
      }
    }
  });

  it("agrees on 600 random streams, randomly chunked", () => {
    const random = seededRandom(0x5eed);
    let eventCount = 0;
    let eventsWithId = 0;
    let commentCount = 0;
    let retryCount = 0;
    for (let round = 0; round < 600; round += 1) {
      const input = randomStream(random);
      const chunks = randomChunks(encoder.encode(input), random);
      const ours = parseComparable(chunks);
      expect(parseWithReference(chunks), `round ${round}: ${JSON.stringify(input)}`).toEqual(ours);
      // Whole-input parse must agree with the chunked one.
      expect(parseComparable([encoder.encode(input)]), `round ${round} unchunked`).toEqual(ours);
      eventCount += ours.events.length;
      eventsWithId += ours.events.filter((event) => event.id !== "").length;
      commentCount += ours.comments.length;
      retryCount += ours.retries.length;
    }
    // Guard against a generator that stopped producing anything interesting.
    // (This seed gives 852 events, 347 with an id, 253 comments, 47 retries.)
    expect(eventCount).toBeGreaterThan(500);
    expect(eventsWithId).toBeGreaterThan(200);
    expect(commentCount).toBeGreaterThan(150);
    expect(retryCount).toBeGreaterThan(25);
  });
});
