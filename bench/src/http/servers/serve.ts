/**
 * What every HTTP server under test shares: announce the port, exit when the runner leaves.
 * Each server answers the same two routes:
 *   GET /                          -> {"hello":"world"}
 *   GET /users/:id/posts/:postId   -> {"id":"<id>","postId":"<postId>"}
 */
import { announceReady, serveIpc } from "../../ipc.js";

/** Host every server binds: loopback only. */
export const HOST = "127.0.0.1";

/**
 * Start a server and report its port to the runner.
 * @param listen - Starts the server on {@link HOST}, port 0; resolves with the bound port.
 * @example await serveHttp(async () => { await app.listen({ host: HOST, port: 0 }); return app.server.address().port; });
 */
export async function serveHttp(listen: () => Promise<number>): Promise<void> {
  serveIpc({
    // The runner reads this around each round: a server below ~100% of its core was not the bottleneck.
    cpu: () => {
      const usage = process.cpuUsage();
      return usage.user + usage.system;
    },
  });
  const port = await listen();
  announceReady({ port, pid: process.pid });
}
