/**
 * The app and its routes. Importing this module starts nothing: src/server.ts
 * listens, and the tests start it on a free port with TestClient.
 */
import { App, SseStream, controller, get, type Request } from "@cellojs/core";

export const app = new App();

/** JSON routes under /api. */
@controller("/api")
class ApiController {
  /** GET /api/hello?name=Ada -> {"message":"Hello, Ada!"} */
  @get("/hello")
  hello(request: Request) {
    const name = request.query.name ?? "world";
    return { message: `Hello, ${name}!` };
  }
}

/** The home route and a Server-Sent Events clock. */
class ClockController {
  /** GET / -> what this app serves. */
  @get("/")
  home() {
    return { app: "cello-app", routes: ["GET /api/hello?name=Ada", "GET /events (text/event-stream)"] };
  }

  /**
   * GET /events: a `tick` event every second, until the client leaves.
   * Try: curl -N http://127.0.0.1:8000/events
   */
  @get("/events")
  clock() {
    const stream = new SseStream();
    const tick = () => stream.addEvent("tick", JSON.stringify({ time: new Date().toISOString() }));
    tick(); // the first tick right away, so a client sees data without waiting a second
    const timer = setInterval(tick, 1000);
    // Runs when the client disconnects or the server shuts down: no timer outlives its stream.
    stream.onClose(() => clearInterval(timer));
    return stream;
  }
}

app.register(ApiController);
app.register(ClockController);
