/**
 * The dashboard app: a page (GET /), a JSON snapshot (GET /api/metrics) and a
 * Server-Sent Events stream of process metrics (GET /events). Importing this
 * module starts nothing: src/server.ts listens, the tests use TestClient.
 */
import { readFileSync } from "node:fs";
import { App, Response, SseStream, controller, get } from "@cellojs/core";
import { MetricsHub, type Metrics } from "./metrics.js";

export const app = new App();
export const hub = new MetricsHub(1000);

// Read once at startup: the page is static and loads nothing from elsewhere.
const page = readFileSync(new URL("../public/index.html", import.meta.url), "utf8");

/** The page and the live stream it listens to. */
class DashboardController {
  /** GET / -> the dashboard page. */
  @get("/")
  index() {
    return Response.html(page);
  }

  /**
   * GET /events: a `metrics` event now, then one every second, until the client leaves.
   * Try: curl -N http://127.0.0.1:8000/events
   */
  @get("/events")
  events() {
    const stream = new SseStream();
    const send = (metrics: Metrics) => stream.addEvent("metrics", JSON.stringify(metrics));
    const unsubscribe = hub.subscribe(send);
    send(hub.current()); // the chart gets its first point without waiting a second
    // Runs when the page closes or the server shuts down; the last one out stops the sampling timer.
    stream.onClose(unsubscribe);
    return stream;
  }
}

/** JSON routes under /api. */
@controller("/api")
class MetricsApiController {
  /** GET /api/metrics -> the metrics right now. */
  @get("/metrics")
  snapshot(): Metrics {
    return hub.current();
  }
}

app.register(DashboardController);
app.register(MetricsApiController);
