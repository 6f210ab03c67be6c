import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError, HttpError } from "../errors.js";
import { celloErrorOf, recordingLogger, startWithCleanup } from "../testing.js";
import { SseEvent, formatSseComment, formatSseError, formatSseFrame, formatSseIdFrame } from "./event.js";
import { SseStream } from "./stream.js";

describe("SseEvent", () => {
  it("frames Cello's example byte for byte: id, event, retry, data, blank line", () => {
    expect(new SseEvent("sensor data", { event: "update", id: "42", retry: 5000 }).toSseString()).toBe(
      "id: 42\nevent: update\nretry: 5000\ndata: sensor data\n\n",
    );
  });

  it("builds data-only and named events like Cello's helpers", () => {
    expect(SseEvent.data("hello").toSseString()).toBe("data: hello\n\n");
    expect(SseEvent.withEvent("welcome", "hi").toSseString()).toBe("event: welcome\ndata: hi\n\n");
    expect(String(SseEvent.data("x"))).toBe("data: x\n\n");
  });

  it("splits data on CRLF, CR and LF into one data line each", () => {
    expect(SseEvent.data("a\r\nb\rc\nd").toSseString()).toBe("data: a\ndata: b\ndata: c\ndata: d\n\n");
    expect(SseEvent.data("trailing\n").toSseString()).toBe("data: trailing\ndata: \n\n");
    expect(SseEvent.data("").toSseString()).toBe("data: \n\n");
  });

  it.each([
    ["event", { event: "a\nb" }],
    ["event", { event: "a\rb" }],
    ["id", { id: "1\n" }],
    ["id", { id: "1\r\nevent: evil" }],
    ["id", { id: "1\0" }],
  ])("refuses CR, LF (and NUL in id) in %s", (_field, options) => {
    expect(() => new SseEvent("x", options)).toThrow(CelloError);
    try {
      new SseEvent("x", options);
    } catch (err) {
      expect((err as CelloError).code).toBe("CELLO_INVALID_SSE_FIELD");
    }
  });

  it("refuses a retry that is not a non-negative integer", () => {
    expect(() => new SseEvent("x", { retry: -1 })).toThrow(/retry/);
    expect(() => new SseEvent("x", { retry: 1.5 })).toThrow(/retry/);
    expect(new SseEvent("x", { retry: 0 }).toSseString()).toBe("retry: 0\ndata: x\n\n");
  });

  it("frames comments line by line, ignored by clients", () => {
    expect(SseEvent.comment("ping").toSseString()).toBe(": ping\n\n");
    expect(SseEvent.comment("a\nb").toSseString()).toBe(": a\n: b\n\n");
    expect(SseEvent.comment("").isComment).toBe(true);
    expect(formatSseComment("")).toBe(":\n\n");
  });

  it("keeps fields readable", () => {
    const event = new SseEvent("d", { event: "e", id: "7" });
    expect([event.data, event.event, event.id, event.retry, event.isComment]).toEqual(["d", "e", "7", undefined, false]);
    expect(formatSseFrame("d", { event: "e", id: "7" })).toBe(event.toSseString());
  });
});

describe("SseEvent arguments", () => {
  const codeAndMessage = (fn: () => unknown): [string, string] => {
    const err = celloErrorOf(fn);
    return [err.code, err.message];
  };

  it("accepts a number id and writes it in decimal (Cello's examples write id=str(i))", () => {
    const event = new SseEvent("x", { id: 7 });
    expect([event.id, event.toSseString()]).toEqual(["7", "id: 7\ndata: x\n\n"]);
    expect(new SseEvent("x", { id: 0 }).toSseString()).toBe("id: 0\ndata: x\n\n");
    expect(formatSseFrame("x", { id: 42, event: "tick" })).toBe("id: 42\nevent: tick\ndata: x\n\n");
  });

  it.each([
    ["an object as data", () => new SseEvent({ value: 1 } as never), "Invalid SSE field: data must be a string, got an object: pass JSON.stringify(value)"],
    ["an array as data", () => SseEvent.data([1, 2] as never), "Invalid SSE field: data must be a string, got an array: pass JSON.stringify(value)"],
    ["undefined as data", () => new SseEvent(undefined as never), "Invalid SSE field: data must be a string, got undefined"],
    ["an object as a comment", () => SseEvent.comment({} as never), "Invalid SSE field: comment must be a string, got an object: pass JSON.stringify(value)"],
    ["a non-integer retry", () => new SseEvent("x", { retry: 1.5 }), "Invalid SSE field: retry must be a non-negative integer (milliseconds), got 1.5"],
    ["a string retry", () => new SseEvent("x", { retry: "5000" as never }), 'Invalid SSE field: retry must be a non-negative integer (milliseconds), got "5000"'],
    ["NaN as id", () => new SseEvent("x", { id: Number.NaN }), "Invalid SSE field: id must be a string or a finite number, got NaN"],
    ["an object as id", () => new SseEvent("x", { id: {} as never }), "Invalid SSE field: id must be a string or a finite number, got an object"],
    ["a number as event", () => new SseEvent("x", { event: 5 as never }), "Invalid SSE field: event must be a string, got 5"],
    ["a string as options", () => new SseEvent("x", "update" as never), 'Invalid SSE field: options must be { event?, id?, retry? }, got "update" (for the event type, pass { event: "update" })'],
    ["null as options", () => new SseEvent("x", null as never), "Invalid SSE field: options must be { event?, id?, retry? }, got null"],
    ["an unknown option", () => new SseEvent("x", { name: "update" } as never), 'Invalid SSE field: unknown option "name" (expected event, id or retry)'],
    ["a bad field through formatSseFrame", () => formatSseFrame("x", { id: true as never }), "Invalid SSE field: id must be a string or a finite number, got true"],
  ])("refuses %s with CELLO_INVALID_SSE_FIELD and says what to do", (_what, build, message) => {
    expect(codeAndMessage(build)).toEqual(["CELLO_INVALID_SSE_FIELD", message]);
  });

  it("refuses the same through SseStream's add methods", () => {
    const stream = new SseStream();
    expect(codeAndMessage(() => stream.addEvent("count", { value: 1 } as never))).toEqual([
      "CELLO_INVALID_SSE_FIELD",
      "Invalid SSE field: data must be a string, got an object: pass JSON.stringify(value)",
    ]);
    expect(codeAndMessage(() => stream.addEvent(3 as never, "x"))).toEqual(["CELLO_INVALID_SSE_FIELD", "Invalid SSE field: event must be a string, got 3"]);
    expect(codeAndMessage(() => stream.add("hello" as never))).toEqual([
      "CELLO_INVALID_SSE_FIELD",
      'Invalid SSE field: stream.add() takes an SseEvent, got "hello": use stream.addData(text), stream.addEvent(name, text) or stream.add(new SseEvent(text, { event, id }))',
    ]);
    expect(stream.len()).toBe(0);
  });
});

describe("SseEvent arguments over a real socket", () => {
  const start = startWithCleanup();

  it("a number id reaches the client as its Last-Event-ID, from SseStream and from a generator", async () => {
    const app = new App();
    app.get("/pushed", () => {
      const stream = new SseStream();
      for (let i = 1; i <= 2; i++) stream.add(new SseEvent(`n${i}`, { event: "count", id: i }));
      stream.close();
      return stream;
    });
    app.get("/pulled", async function* () {
      for (let i = 1; i <= 2; i++) yield new SseEvent(`n${i}`, { id: i });
    });
    const client = await start(app);
    const pushed = await client.sse("/pushed");
    expect(pushed.raw).toBe(": ok\n\nid: 1\nevent: count\ndata: n1\n\nid: 2\nevent: count\ndata: n2\n\n");
    const pulled = await client.sse("/pulled");
    expect(pulled.events.map((e) => [e.id, e.data])).toEqual([
      ["1", "n1"],
      ["2", "n2"],
    ]);
  });

  it("an object passed as data is a 500 with the message in the log, not [object Object] on the wire", async () => {
    const logger = recordingLogger();
    const app = new App({ logger });
    app.get("/counter", () => {
      const stream = new SseStream();
      stream.addEvent("count", { value: 1 } as never); // ported from Cello without json.dumps
      return stream;
    });
    const client = await start(app);
    const res = await client.get("/counter");
    expect([res.status, res.json]).toEqual([500, { error: "Internal Server Error", status: 500 }]);
    expect(res.text).not.toContain("[object Object]");
    expect(logger.errors.map(([message, err]) => [message, (err as Error).message])).toEqual([
      ["Unhandled error in GET /counter", "Invalid SSE field: data must be a string, got an object: pass JSON.stringify(value)"],
    ]);
  });
});

describe("formatSseError", () => {
  it("frames the JSON body an HTTP answer would have, showing only what a client may see", () => {
    expect(formatSseError(new HttpError(409, "version conflict"))).toBe('event: error\ndata: {"error":"version conflict","status":409}\n\n');
    expect(formatSseError(new Error("secret detail"))).toBe('event: error\ndata: {"error":"Internal Server Error","status":500}\n\n');
    expect(formatSseError(new CelloError("CELLO_SERVICE_UNAVAILABLE", "redis at 10.0.0.7"))).toBe('event: error\ndata: {"error":"Service Unavailable","status":503}\n\n');
  });
});

describe("formatSseIdFrame", () => {
  it("frames an id alone (it moves the client's last event ID and dispatches nothing), and refuses what would break the frame", () => {
    expect(formatSseIdFrame("12")).toBe("id: 12\n\n");
    expect(formatSseIdFrame("news=3&alerts=")).toBe("id: news=3&alerts=\n\n");
    for (const id of ["1\n", "1\r2", "a\0b"]) expect(celloErrorOf(() => formatSseIdFrame(id)).code).toBe("CELLO_INVALID_SSE_FIELD");
  });
});
