/**
 * The runner talks to every child (servers under test, load generators) over
 * Node's IPC channel: one request, one reply, matched by id. Keeping control
 * traffic off stdout means a child's own logging can never corrupt it.
 */

/** A request the runner sends to a child. */
export interface IpcRequest {
  id: number;
  cmd: string;
  [key: string]: unknown;
}

/** A child's reply to one {@link IpcRequest}. */
export type IpcReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The one unsolicited message: a child says it is ready (with e.g. its port). */
export interface IpcReady {
  type: "ready";
  info: Record<string, unknown>;
}

/** What a child answers to: command name -> handler (may be async). */
export type IpcHandlers = Record<string, (request: IpcRequest) => unknown>;

/**
 * Answer the runner's requests in a child process, and exit when the runner
 * goes away (so an aborted run never leaves servers behind).
 *
 * @param handlers - One function per command; its return value (or resolved value) is the reply.
 * @example
 * serveIpc({ ping: () => "pong" });
 * announceReady({ port: 1234 });
 */
export function serveIpc(handlers: IpcHandlers): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error("this script must be started by the bench runner (no IPC channel)");
  process.on("message", (message: IpcRequest) => {
    const handler = handlers[message.cmd];
    if (!handler) {
      send({ id: message.id, ok: false, error: `unknown command ${message.cmd}` } satisfies IpcReply);
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (result) => send({ id: message.id, ok: true, result } satisfies IpcReply),
        (err: unknown) => send({ id: message.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies IpcReply),
      );
  });
  process.on("disconnect", () => process.exit(0));
}

/**
 * Tell the runner this child is ready.
 * @param info - Anything the runner needs, e.g. `{ port }`.
 * @example announceReady({ port: server.address().port });
 */
export function announceReady(info: Record<string, unknown>): void {
  process.send?.({ type: "ready", info } satisfies IpcReady);
}

/**
 * Wall-clock milliseconds with sub-millisecond precision, comparable across
 * processes on one machine (`Date.now()` has only 1 ms resolution; hrtime is
 * per-process).
 * @example const sentAt = wallNow();
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}
