import { describe, expect, it } from "vitest";
import { FrameCounter, fitLine } from "./frames.js";

const head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
const chunk = (payload: string) => `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n`;

describe("FrameCounter", () => {
  it("counts frames and heartbeats in chunk-framed SSE, however the bytes are split", () => {
    const wire = head + chunk(": ok\n\n") + chunk("event: tick\ndata: {\"i\":1}\n\nevent: tick\ndata: 2\n\n") + chunk(":\n\n") + chunk("id: 3\ndata: é\n\n") + chunk(":\n\n");
    const bytes = Buffer.from(wire);
    // Whole, then every split into two reads, then one byte at a time.
    const splits: Buffer[][] = [[bytes]];
    for (let cut = 1; cut < bytes.length; cut++) splits.push([bytes.subarray(0, cut), bytes.subarray(cut)]);
    splits.push([...bytes].map((b) => Buffer.from([b])));
    for (const reads of splits) {
      const counter = new FrameCounter();
      const stream = counter.stream();
      for (const read of reads) counter.feed(stream, read);
      expect(counter.totals()).toEqual({ frames: 6, heartbeats: 2, bytes: bytes.length });
      expect(stream.frames).toBe(6);
    }
  });

  it("does not take the head's blank line, a comment with text or an empty data line for a heartbeat", () => {
    const counter = new FrameCounter();
    const stream = counter.stream();
    counter.feed(stream, Buffer.from(head + chunk(": ok\n\n") + chunk("data:\n\n") + chunk(": x\n\n")));
    expect(counter.totals().frames).toBe(3);
    expect(counter.totals().heartbeats).toBe(0);
  });

  it("keeps streams apart: a frame split across two streams' reads is not counted", () => {
    const counter = new FrameCounter();
    const a = counter.stream();
    const b = counter.stream();
    counter.feed(a, Buffer.from("data: 1\n"));
    counter.feed(b, Buffer.from("\n"));
    expect(counter.frames).toBe(0);
    counter.feed(a, Buffer.from("\n"));
    expect(counter.frames).toBe(1);
  });
});

describe("fitLine", () => {
  it("recovers an exact line", () => {
    const fit = fitLine([
      [5000, 40e6 + 5000 * 7000],
      [10_000, 40e6 + 10_000 * 7000],
      [19_500, 40e6 + 19_500 * 7000],
    ]);
    expect(fit.slope).toBeCloseTo(7000, 6);
    expect(fit.intercept).toBeCloseTo(40e6, 0);
    expect(fit.r2).toBeCloseTo(1, 10);
  });

  it("reports how well noisy points fit", () => {
    const fit = fitLine([
      [1, 1],
      [2, 3],
      [3, 2],
    ]);
    expect(fit.slope).toBeCloseTo(0.5, 10);
    expect(fit.r2).toBeCloseTo(0.25, 10);
  });

  it("refuses what it cannot fit", () => {
    expect(() => fitLine([[1, 1]])).toThrow(/two points/);
    expect(() => fitLine([
      [1, 1],
      [1, 2],
    ])).toThrow(/distinct/);
  });
});
