/**
 * Stock ticker: random-walk prices published through a channel. One timer
 * publishes; every client of `/stocks` gets the same framed bytes, and a
 * client that reconnects with `Last-Event-ID` gets what it missed first.
 *
 * Run:   npx tsx examples/stock_ticker.ts
 * Try:   open http://127.0.0.1:8000/ (a live table)
 *        curl -N http://127.0.0.1:8000/stocks
 *        curl -N "http://127.0.0.1:8000/stocks?symbols=AAPL,MSFT"
 *        curl -N -H "Last-Event-ID: 10" http://127.0.0.1:8000/stocks
 *
 * The timer runs only while the app runs: it starts on the `startup` event
 * and stops on `shutdown`, so importing the module (a test does) publishes nothing.
 */
import { App, HttpError, Response } from "@cellojs/core";
import { isMain } from "./main.js";
import { stockPage } from "./stock_ticker_page.js";

/** One price update, the `data` of a `tick` event. */
export interface Tick {
  symbol: string;
  /** The new price, in dollars, rounded to cents. */
  price: number;
  /** The move since the symbol's previous tick, rounded to cents: `price = previous price + change`. */
  change: number;
  /** Milliseconds since the epoch. */
  time: number;
}

/** Options of {@link createStockApp}. */
export interface StockAppOptions {
  /** Milliseconds between two rounds of ticks (one per symbol). Default `STOCK_INTERVAL_MS` or 1000. */
  intervalMs?: number;
  /** Symbols and their opening prices. Default: six well-known tickers. */
  symbols?: Record<string, number>;
}

const DEFAULT_SYMBOLS: Record<string, number> = { AAPL: 189.5, GOOGL: 141.2, MSFT: 402.75, AMZN: 178.3, NVDA: 875.1, TSLA: 171.05 };

/**
 * Build the stock-ticker app: `GET /` (HTML table), `GET /stocks` (SSE,
 * optional `?symbols=A,B`), `GET /api/prices` (the latest prices as JSON).
 * @param options - `intervalMs` (default 1000) and `symbols`.
 * @example
 * const app = createStockApp({ intervalMs: 100 });
 * await app.listen({ port: 0 });
 */
export function createStockApp(options: StockAppOptions = {}): App {
  const intervalMs = options.intervalMs ?? (Number(process.env.STOCK_INTERVAL_MS) || 1000);
  const prices = new Map(Object.entries(options.symbols ?? DEFAULT_SYMBOLS));
  const app = new App();
  app.enableCors();
  const stocks = app.channel("stocks", { history: 500 });

  let timer: NodeJS.Timeout | undefined;
  const publishRound = () => {
    for (const [symbol, previous] of prices) {
      // A random walk: up to ±1% a step, never below one cent.
      const step = previous * (Math.random() - 0.5) * 0.02;
      const price = Math.max(0.01, round2(previous + step));
      prices.set(symbol, price);
      const tick: Tick = { symbol, price, change: round2(price - previous), time: Date.now() };
      void stocks.publish(tick, { event: "tick" });
    }
  };
  app.onEvent("startup", () => {
    publishRound();
    timer = setInterval(publishRound, intervalMs);
  });
  app.onEvent("shutdown", () => clearInterval(timer));

  app.get("/", () => Response.html(stockPage(Object.fromEntries(prices))));
  app.get("/api/prices", () => Object.fromEntries(prices));
  app.get("/stocks", (request) => {
    const wanted = request.query.symbols?.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
    if (!wanted) return stocks.subscribe(request);
    const unknown = wanted.filter((s) => !prices.has(s));
    if (unknown.length > 0) throw new HttpError(404, `Unknown symbol(s): ${unknown.join(", ")}`);
    const selected = new Set(wanted);
    return stocks.subscribe(request, { filter: (message) => selected.has((JSON.parse(message.data) as Tick).symbol) });
  });
  return app;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/** The app `npx tsx examples/stock_ticker.ts` runs. */
export const app = createStockApp();

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
