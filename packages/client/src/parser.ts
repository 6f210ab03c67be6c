/**
 * Incremental parser for `text/event-stream` bodies.
 *
 * Follows WHATWG HTML "9.2.6 Interpreting an event stream" step by step; the
 * quoted clauses below are from that section unless another one is named.
 * The parser owns no I/O: feed it chunks in arrival order, in any sizes.
 */

/**
 * One event as a client receives it, as WHATWG's `MessageEvent` would expose
 * it. (Not to be confused with `SseEvent` of `@cellojs/core`, the class a
 * server builds an event with.)
 */
export interface ReceivedEvent {
  /** Event type: the last `event:` value of the block, or `"message"` when none (or an empty one) was sent. */
  event: string;
  /** The block's `data:` values joined with `"\n"` (`""` for a lone `data` line). */
  data: string;
  /** The last event ID string at dispatch time: persists across events, `""` until the server sends an `id:`. */
  id: string;
  /** The reconnection time in milliseconds, present only when this event's block carried a valid `retry:` field. */
  retry?: number;
}

/**
 * @deprecated Renamed {@link ReceivedEvent}: `SseEvent` is also the name of
 * `@cellojs/core`'s event class. This alias will be removed in the next release.
 */
export type SseEvent = ReceivedEvent;

/** Callbacks and initial state for {@link createParser}. */
export interface ParserOptions {
  /** Called once per dispatched event, synchronously from inside `feed()`. */
  onEvent: (event: ReceivedEvent) => void;
  /** Called for each comment line with the text after the `:` and one optional space. Servers send these as heartbeats. */
  onComment?: (comment: string) => void;
  /** Called as soon as a valid `retry:` line is parsed, even if its block never dispatches an event. */
  onRetry?: (reconnectionTimeMs: number) => void;
  /**
   * Initial last event ID, e.g. the one a previous connection ended with.
   * @default ""
   */
  lastEventId?: string;
}

/** The handle returned by {@link createParser}. */
export interface SseParser {
  /**
   * Parses the next chunk of the stream. Strings are taken as already decoded;
   * bytes are decoded as UTF-8 with state kept between calls, so a character
   * split across two chunks comes out whole. Feed one kind per stream.
   */
  feed(chunk: string | Uint8Array): void;
  /** Forgets everything buffered and starts a new stream (BOM stripping included), with the last event ID back to the initial `lastEventId`. */
  reset(): void;
  /**
   * The event source's "last event ID string": updated at every blank line,
   * including blocks that carry an `id:` but no data and so dispatch nothing.
   * This is what a reconnect sends as `Last-Event-ID`.
   */
  readonly lastEventId: string;
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;
const BOM = 0xfeff;

/**
 * Creates an incremental `text/event-stream` parser.
 *
 * @param options - `onEvent` (required), `onComment`, `onRetry`, and the initial `lastEventId` (default `""`).
 * @returns `{ feed, reset, lastEventId }`.
 *
 * @example
 * ```ts
 * const parser = createParser({ onEvent: (ev) => console.log(ev.event, ev.data) });
 * parser.feed("event: greet\ndata: hel");
 * parser.feed("lo\n\n"); // logs "greet hello"
 * ```
 */
export function createParser(options: ParserOptions): SseParser {
  const { onEvent, onComment, onRetry } = options;
  const initialLastEventId = options.lastEventId ?? "";

  let decoder: TextDecoder | undefined;
  let atStreamStart = true;
  // A chunk that ends in CR has already ended its line; if the next chunk
  // starts with LF, that LF is the second half of the same CRLF, not a blank line.
  let skipLeadingLineFeed = false;
  // Fragments of a line whose terminator has not arrived yet. Joined once when
  // it does, so a long line streamed in small chunks stays linear, not quadratic.
  const pendingLineFragments: string[] = [];

  let dataBuffer = "";
  let dataLineCount = 0;
  let eventTypeBuffer = "";
  let lastEventIdBuffer = initialLastEventId;
  let lastEventIdString = initialLastEventId;
  let blockRetry: number | undefined;

  function feed(chunk: string | Uint8Array): void {
    let text: string;
    if (typeof chunk === "string") {
      text = chunk;
    } else {
      // "Streams must be decoded using the UTF-8 decode algorithm." That
      // algorithm strips one leading BOM; we keep it here (ignoreBOM) and strip
      // it below, so string and byte input share one code path, and because
      // Node 24's decoder, given a BOM split across chunks, also drops a second
      // BOM right after it (seen on 24.21; Node 20 is correct).
      decoder ??= new TextDecoder("utf-8", { ignoreBOM: true });
      text = decoder.decode(chunk, { stream: true });
    }
    if (text.length === 0) return;

    let position = 0;
    if (atStreamStart) {
      atStreamStart = false;
      // Only at stream start: a BOM anywhere later is ordinary data.
      if (text.charCodeAt(0) === BOM) position = 1;
    }
    if (skipLeadingLineFeed) {
      skipLeadingLineFeed = false;
      if (text.charCodeAt(position) === LF) position += 1;
    }

    const length = text.length;
    // Remember where the next CR and LF are so each is searched for once per
    // occurrence; re-running both indexOf calls per line would rescan the whole
    // chunk for a terminator kind that never occurs. "Not found" is stored as
    // `length`, not -1: measured on Node 20, the -1 form of this loop ran
    // about 4x slower.
    let nextCr = indexOrLength(text, "\r", position);
    let nextLf = indexOrLength(text, "\n", position);

    while (position < length) {
      if (nextCr < position) nextCr = indexOrLength(text, "\r", position);
      if (nextLf < position) nextLf = indexOrLength(text, "\n", position);
      const lineEnd = nextCr < nextLf ? nextCr : nextLf;

      if (lineEnd === length) {
        pendingLineFragments.push(position === 0 ? text : text.slice(position));
        return;
      }

      const lineStart = position;

      // "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a
      // single U+000A LINE FEED (LF) character not preceded by a U+000D CARRIAGE
      // RETURN (CR) character, and a single U+000D CARRIAGE RETURN (CR)
      // character not followed by a U+000A LINE FEED (LF) character being the
      // ways in which a line can end."
      position = lineEnd + 1;
      if (text.charCodeAt(lineEnd) === CR) {
        if (position === length) skipLeadingLineFeed = true;
        else if (text.charCodeAt(position) === LF) position += 1;
      }

      if (pendingLineFragments.length === 0) {
        processLine(text, lineStart, lineEnd);
      } else {
        pendingLineFragments.push(text.slice(lineStart, lineEnd));
        const line = pendingLineFragments.join("");
        pendingLineFragments.length = 0;
        processLine(line, 0, line.length);
      }
    }
  }

  /** Handles `source[start, end)`, one line without its terminator, slicing only what it keeps. */
  function processLine(source: string, start: number, end: number): void {
    // "If the line is empty (a blank line): Dispatch the event"
    if (start === end) {
      dispatch();
      return;
    }

    // Fast path for the fields nearly every event has: no line slice, no
    // field-name slice, no colon search.
    if (end - start >= 5 && isDataPrefix(source, start)) {
      processField("data", valueFrom(source, start + 5, end));
      return;
    }
    if (end - start >= 6 && isEventPrefix(source, start)) {
      processField("event", valueFrom(source, start + 6, end));
      return;
    }
    if (end - start >= 3 && isIdPrefix(source, start)) {
      processField("id", valueFrom(source, start + 3, end));
      return;
    }

    processGenericLine(start === 0 && end === source.length ? source : source.slice(start, end));
  }

  function processGenericLine(line: string): void {
    const colon = line.indexOf(":");
    // "If the line starts with a U+003A COLON character (:): Ignore the line."
    // We still surface it: servers use comments as heartbeats.
    if (colon === 0) {
      if (onComment) onComment(line.slice(line.charCodeAt(1) === SPACE ? 2 : 1));
      return;
    }

    // "Otherwise, the string is not empty but does not contain a U+003A COLON
    // character (:): ... using the whole line as the field name, and the empty
    // string as the field value."
    if (colon === -1) {
      processField(line, "");
      return;
    }

    processField(line.slice(0, colon), valueFrom(line, colon + 1, line.length));
  }

  function processField(field: string, value: string): void {
    // Field names are compared literally, with no case folding.
    switch (field) {
      case "data":
        // "Append the field value to the data buffer, then append a single
        // U+000A LINE FEED (LF) character". Joining on LF and never adding the
        // trailing one is the same as appending it and removing it at dispatch.
        dataBuffer = dataLineCount === 0 ? value : `${dataBuffer}\n${value}`;
        dataLineCount += 1;
        return;
      case "event":
        eventTypeBuffer = value;
        return;
      case "id":
        // "If the field value does not contain U+0000 NULL, then set the last
        // event ID buffer to the field value. Otherwise, ignore the field."
        if (!value.includes("\0")) lastEventIdBuffer = value;
        return;
      case "retry":
        // "If the field value consists of only ASCII digits, then interpret the
        // field value as an integer in base ten ... Otherwise, ignore the
        // field." An empty value is ignored, as browsers do.
        if (isAsciiDigits(value)) {
          blockRetry = Number(value);
          if (onRetry) onRetry(blockRetry);
        }
        return;
      default:
        // "Otherwise: The field is ignored."
        return;
    }
  }

  function dispatch(): void {
    // "Set the last event ID string of the event source to the value of the
    // last event ID buffer. The buffer does not get reset" -- this runs even
    // when nothing is dispatched, so an id-only block still moves the ID.
    lastEventIdString = lastEventIdBuffer;
    const retry = blockRetry;
    blockRetry = undefined;

    // "If the data buffer is an empty string, set the data buffer and the event
    // type buffer to the empty string and return." A lone `data` line makes
    // the spec's buffer "\n", not empty, so we count lines instead of bytes.
    if (dataLineCount === 0) {
      eventTypeBuffer = "";
      return;
    }

    const event: ReceivedEvent = {
      // "Initialize event's type attribute to "message"" unless the event type
      // buffer "has a value other than the empty string".
      event: eventTypeBuffer === "" ? "message" : eventTypeBuffer,
      data: dataBuffer,
      id: lastEventIdString,
    };
    if (retry !== undefined) event.retry = retry;

    // "Set the data buffer and the event type buffer to the empty string."
    // Done before the callback so one that throws cannot leak this event's
    // buffers into the next event.
    dataBuffer = "";
    dataLineCount = 0;
    eventTypeBuffer = "";
    onEvent(event);
  }

  function reset(): void {
    decoder = undefined;
    atStreamStart = true;
    skipLeadingLineFeed = false;
    pendingLineFragments.length = 0;
    dataBuffer = "";
    dataLineCount = 0;
    eventTypeBuffer = "";
    lastEventIdBuffer = initialLastEventId;
    lastEventIdString = initialLastEventId;
    blockRetry = undefined;
  }

  return {
    feed,
    reset,
    get lastEventId() {
      return lastEventIdString;
    },
  };
}

/** `text.indexOf(search, from)`, with `text.length` instead of -1 when absent. */
function indexOrLength(text: string, search: string, from: number): number {
  const index = text.indexOf(search, from);
  return index === -1 ? text.length : index;
}

/**
 * The field value: `source[valueStart, end)` minus one leading space. "If value
 * starts with a U+0020 SPACE character, remove it from value." Exactly one:
 * any further spaces belong to the value.
 */
function valueFrom(source: string, valueStart: number, end: number): string {
  return source.slice(valueStart < end && source.charCodeAt(valueStart) === SPACE ? valueStart + 1 : valueStart, end);
}

/** `source.startsWith("data:", start)`, as char-code compares (the form eventsource-parser measured fastest). */
function isDataPrefix(source: string, start: number): boolean {
  return (
    source.charCodeAt(start) === 0x64 &&
    source.charCodeAt(start + 1) === 0x61 &&
    source.charCodeAt(start + 2) === 0x74 &&
    source.charCodeAt(start + 3) === 0x61 &&
    source.charCodeAt(start + 4) === COLON
  );
}

/** `source.startsWith("event:", start)`, spelled out for the same reason. */
function isEventPrefix(source: string, start: number): boolean {
  return (
    source.charCodeAt(start) === 0x65 &&
    source.charCodeAt(start + 1) === 0x76 &&
    source.charCodeAt(start + 2) === 0x65 &&
    source.charCodeAt(start + 3) === 0x6e &&
    source.charCodeAt(start + 4) === 0x74 &&
    source.charCodeAt(start + 5) === COLON
  );
}

/** `source.startsWith("id:", start)`, spelled out for the same reason. */
function isIdPrefix(source: string, start: number): boolean {
  return source.charCodeAt(start) === 0x69 && source.charCodeAt(start + 1) === 0x64 && source.charCodeAt(start + 2) === COLON;
}

/** True for a non-empty string made only of ASCII digits U+0030..U+0039. */
function isAsciiDigits(value: string): boolean {
  if (value.length === 0) return false;
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}
