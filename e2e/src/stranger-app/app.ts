// A stranger's app, copied into a fresh project by stranger.test.ts: `@app.get`
// methods (one an SSE stream), a controller, and nothing in tsconfig for them.
import { App, SseStream, controller, get, type Request } from "@cellojs/core";

export const app = new App();

class Greetings {
  readonly greeting = "Hello";

  @app.get("/hello/{name}")
  hello(request: Request) {
    return { message: `${this.greeting}, ${request.params.name}!` };
  }

  @app.get("/events")
  events() {
    const stream = new SseStream();
    let tick = 0;
    const timer = setInterval(() => stream.addEvent("tick", JSON.stringify({ tick: ++tick })), 50);
    stream.onClose(() => clearInterval(timer));
    return stream;
  }
}
// With standard decorators (TypeScript's default) this is what gives `this` its instance.
app.register(Greetings);

@controller("/api")
class Api {
  @get("/ping")
  ping() {
    return { pong: true };
  }
}
app.register(Api);

/** Which decorator semantics compiled this file, seen by a probe (so the test knows what it ran). */
export let decorators = "none";
function probe(...args: any[]): void {
  decorators = typeof args[1] === "object" ? "standard" : "legacy";
}
class Probe {
  @probe
  method() {}
}
void Probe;
