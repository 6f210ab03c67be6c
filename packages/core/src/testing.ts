// The project's own HTTP tests use @cellojs/testing and @cellojs/client. They
// are imported by path, not as package dependencies: both depend on
// @cellojs/core, and a devDependency back would make the workspace graph
// cyclic for turbo.
import { afterEach } from "vitest";
import type { App } from "./app.js";
import type { Logger } from "./logger.js";
import { TestClient } from "../../testing/src/index.js";

export { TestClient };
export type { ReceivedEvent, SseHandle } from "../../testing/src/index.js";
export { connect, createParser } from "../../client/src/index.js";

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
