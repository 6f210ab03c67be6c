import { describe, expect, it } from "vitest";
import { CelloError } from "../errors.js";
import { SseEvent, formatSseComment, formatSseFrame } from "./event.js";

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
