import { describe, expect, it } from "vitest";
import { eventData } from "./servers/serve.js";
import { FrameCounter, LatencyProbe, summarize } from "./frames.js";

const body = ": ok\n\nretry: 2000\n\nevent: tick\ndata: one\n\n: heartbeat\n\nid: 7\nevent: tick\ndata: two\n\n:\n\nevent: tick\ndata: three\n\n";

describe("FrameCounter", () => {
  it("counts event frames and not comment frames", () => {
    const counter = new FrameCounter();
    expect(counter.push(Buffer.from(body))).toBe(4); // retry, one, two, three
    expect(counter.count).toBe(4);
  });

  it("gives the same count however the body is split, including between the two LFs of a terminator", () => {
    const bytes = Buffer.from(body);
    for (let size = 1; size <= bytes.length; size++) {
      const counter = new FrameCounter();
      for (let start = 0; start < bytes.length; start += size) counter.push(bytes.subarray(start, start + size));
      expect(counter.count, `chunks of ${size} bytes`).toBe(4);
    }
  });

  it("does not count a frame until its terminator arrives", () => {
    const counter = new FrameCounter();
    expect(counter.push(Buffer.from("event: tick\ndata: x\n"))).toBe(0);
    expect(counter.push(Buffer.from("\nevent: tick\ndata: y"))).toBe(1);
    expect(counter.push(Buffer.from("\n\n"))).toBe(1);
  });
});

describe("LatencyProbe", () => {
  it("reads each event's publish time once, across chunk boundaries", () => {
    const samples: number[] = [];
    const probe = new LatencyProbe(samples);
    probe.push(Buffer.from(`event: tick\ndata: {"t":1000.25,"i":0,"p":"x"}\n\nevent: tick\ndata: {"t":10`), 1002);
    expect(samples).toEqual([1.75]);
    probe.push(Buffer.from(`01.5,"i":1,"p":"x"}\n\n`), 1004);
    expect(samples).toEqual([1.75, 2.5]);
  });
});

describe("summarize", () => {
  it("takes nearest-rank percentiles", () => {
    const samples = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarize(samples)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
  });
});

describe("eventData", () => {
  it("is one line of JSON of exactly the requested size, carrying the publish time", () => {
    for (const size of [128, 1024]) {
      const data = eventData(1_712_000_000_000.125, 42, size);
      expect(data.length).toBe(size);
      expect(data).not.toMatch(/[\r\n]/);
      expect(JSON.parse(data)).toMatchObject({ t: 1_712_000_000_000.125, i: 42 });
    }
  });
});
