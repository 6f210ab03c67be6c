import { describe, expect, it } from "vitest";
import { reconnectDelay } from "./backoff.js";

const lowest = () => 0;
const highest = () => 0.999_999;

describe("reconnectDelay", () => {
  it("is exactly the reconnection time when nothing failed", () => {
    expect(reconnectDelay(3000, 0, 30_000, highest)).toBe(3000);
    expect(reconnectDelay(0, 0, 30_000, highest)).toBe(0);
  });

  it("doubles its target per consecutive failure, with jitter in the upper half", () => {
    // Target R * 2^n; the delay lies in [R + (target - R) / 2, target].
    expect([1, 2, 3, 4].map((failures) => reconnectDelay(1000, failures, 30_000, lowest))).toEqual([1500, 2500, 4500, 8500]);
    expect([1, 2, 3, 4].map((failures) => reconnectDelay(1000, failures, 30_000, highest))).toEqual([2000, 4000, 8000, 16_000]);
  });

  it("never exceeds maxDelayMs once the backoff reaches it", () => {
    expect(reconnectDelay(1000, 10, 30_000, highest)).toBe(30_000);
    expect(reconnectDelay(1000, 60, 30_000, lowest)).toBe(15_500);
  });

  it("honours a server retry longer than the cap, without adding to it", () => {
    expect(reconnectDelay(60_000, 0, 30_000, highest)).toBe(60_000);
    expect(reconnectDelay(60_000, 5, 30_000, highest)).toBe(60_000);
  });

  it("still backs off after `retry: 0`", () => {
    const delays = [1, 4, 8, 12].map((failures) => reconnectDelay(0, failures, 30_000, highest));
    expect(delays).toEqual([2, 16, 256, 4096]);
  });
});
