// Helpers of core's own tests (not built, not published). They test the app as a
// user does, with @cellojs/testing and @cellojs/client: devDependencies, imported
// by package name like in any app. (@cellojs/testing takes core as a peer, which
// turbo's graph ignores: no cycle.)
import { TestClient } from "@cellojs/testing";
import { afterEach, expect } from "vitest";
import type { App } from "./app.js";
import { CelloError } from "./errors.js";
import type { Logger } from "./logger.js";

export { TestClient };
export type { ReceivedEvent, SseHandle } from "@cellojs/testing";
export { connect, createParser } from "@cellojs/client";

/**
 * Start apps with TestClient in a test file and close them all after each test.
 * @example const start = startWithCleanup(); const client = await start(app);
 */
export function startWithCleanup(): (app: App, listen?: Parameters<typeof TestClient.start>[1]) => Promise<TestClient> {
  const clients: TestClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  return async (app, listen) => {
    const client = await TestClient.start(app, listen);
    clients.push(client);
    return client;
  };
}

/** A logger that keeps what is logged as an error or a warning, for asserting on stacks, hints and on silence. */
export function recordingLogger(): Logger & { errors: Array<[string, unknown]>; warnings: string[] } {
  const errors: Array<[string, unknown]> = [];
  const warnings: string[] = [];
  return { errors, warnings, info() {}, warn: (message) => void warnings.push(message), error: (message, err) => errors.push([message, err]) };
}

/**
 * The CelloError `fn` throws; fails the test when it throws nothing or something else.
 * @example expect(celloErrorOf(() => app.use(42 as never)).code).toBe("CELLO_INVALID_OPTION");
 */
export function celloErrorOf(fn: () => unknown): CelloError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CelloError);
    return err as CelloError;
  }
  throw new Error("expected a CelloError, nothing was thrown");
}
