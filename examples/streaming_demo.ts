/**
 * Streaming demo: a port of Cello's examples/streaming_demo.py.
 *
 * Run:   npx -y pnpm@10.34.9 demo        (or: npx tsx examples/streaming_demo.ts)
 * Try:   curl -N http://127.0.0.1:8000/sse/counter
 *        open http://127.0.0.1:8000/demo in a browser
 *
 * One difference from Cello: an SseStream is live. Events added after the
 * handler returns are still sent, so a finite stream says it is done with
 * `stream.close()`; without it the stream stays open until the client leaves.
 */
import { App, Response, SseStream } from "@cellojs/core";
import { isMain } from "./main.js";
import { demoPage } from "./streaming_demo_page.js";

export const app = new App();
app.enableCors();
app.enableLogging();

class StreamingDemo {
  @app.get("/")
  home() {
    return {
      message: "Cello.ts Streaming Demo",
      endpoints: ["/sse/events", "/sse/counter", "/sse/stock-ticker", "/large-response", "/demo"],
    };
  }

  @app.get("/sse/events")
  sseEvents() {
    const stream = new SseStream();
    stream.addData("Connected to SSE stream");
    stream.addEvent("welcome", JSON.stringify({ message: "Welcome to Cello SSE!" }));
    stream.addEvent("update", JSON.stringify({ status: "ready" }));
    stream.addEvent("notification", JSON.stringify({ type: "info", text: "Server is running" }));
    stream.close();
    return stream;
  }

  @app.get("/sse/counter")
  sseCounter() {
    const stream = new SseStream();
    for (let i = 1; i <= 5; i++) stream.addEvent("count", JSON.stringify({ value: i }));
    stream.addEvent("complete", JSON.stringify({ message: "Counter finished" }));
    stream.close();
    return stream;
  }

  @app.get("/sse/stock-ticker")
  sseStockTicker() {
    const stream = new SseStream();
    const stocks = [
      { symbol: "AAPL", price: 150.25, change: 2.5 },
      { symbol: "GOOGL", price: 2800.5, change: -15.0 },
      { symbol: "MSFT", price: 280.75, change: 5.25 },
    ];
    for (const stock of stocks) stream.addEvent("ticker", JSON.stringify(stock));
    stream.close();
    return stream;
  }

  @app.get("/large-response")
  largeResponse() {
    const items = Array.from({ length: 1000 }, (_, i) => ({
      id: i,
      name: `Item ${i}`,
      description: `Desc for item ${i}`.repeat(3),
      price: Math.round((10.0 + i * 0.5) * 100) / 100,
    }));
    return { total: items.length, items };
  }

  @app.get("/demo")
  demo() {
    return Response.html(demoPage);
  }
}

if (isMain(import.meta.url)) {
  // Printed after run(): --port, PORT and a busy default all change the address.
  const { url } = await app.run({ host: "127.0.0.1", port: 8000 });
  console.log(`Open ${url}/demo for the interactive SSE demo`);
}

export { StreamingDemo };
