/**
 * The app every broker package's multi-process tests run in each fixture
 * process (packages/redis/src/fixtures/server.ts, packages/postgres/src/fixtures/server.ts):
 * a `ticks` channel on the broker shared with the other instances, `GET /ticks`
 * to subscribe and `POST /publish` to publish on this instance (503 with
 * `mayHaveApplied` when the broker was unavailable). Not part of the package's
 * API; kept out of dist/ (tsconfig.build.json).
 */
import { App, Response, type ChannelBroker } from "@cellojs/core";

/** The broker's "unavailable" error: it says whether the publish may have been stored anyway. */
type UnavailableError = abstract new (...args: never[]) => Error & { mayHaveApplied: boolean };

/**
 * Run the fixture app on `broker` on a free port (it prints `running on <url>`).
 * @param broker - The broker shared with the other instances.
 * @param ready - Waits until the broker answers (run at startup).
 * @param Unavailable - The broker package's BrokerUnavailableError.
 */
export async function runTicksFixture(broker: ChannelBroker, ready: () => Promise<void>, Unavailable: UnavailableError): Promise<void> {
  const app = new App({ broker, sse: { heartbeatMs: 0 } });
  app.onEvent("startup", ready);
  const ticks = app.channel("ticks", { history: 5000 });

  app.get("/ticks", (req) => ticks.subscribe(req));
  app.post("/publish", async (req) => {
    try {
      return { id: await ticks.publish(await req.text()) };
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      return Response.json({ error: err.message, mayHaveApplied: err.mayHaveApplied }, { status: 503 });
    }
  });

  await app.run({ port: 0 });
}
