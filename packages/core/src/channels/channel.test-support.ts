// Test support of core's channel tests. (What every broker must do is tested by the
// conformance suite of @cellojs/testing, which has its own helpers.)
import { expect } from "vitest";
import type { App } from "../app.js";
import { sleep } from "../sse/raw-client.test-support.js";

/**
 * Wait until `app.channel(name)` has `size` local subscribers. It asks
 * `app.channel(name)`: a channel `app.subscribe()` made becomes the test code's (kept).
 */
export async function untilSize(app: App, name: string, size: number): Promise<void> {
  for (let i = 0; i < 200 && app.channel(name).size !== size; i++) await sleep(5);
  expect(app.channel(name).size).toBe(size);
}
