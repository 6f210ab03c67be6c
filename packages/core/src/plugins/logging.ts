/**
 * Logging plugin (`app.enableLogging()`): one line per request; for SSE, one
 * line when a stream opens and one when it closes. Built on the public hooks.
 */
import type { Plugin } from "../app.js";
import type { Request } from "../request.js";

/** One structured log record. */
export type LogRecord =
  | { type: "request"; time: string; method: string; path: string; status: number; durationMs: number }
  | { type: "stream-open"; time: string; method: string; path: string; status: number }
  | {
      type: "stream-close";
      time: string;
      method: string;
      path: string;
      durationMs: number;
      eventsSent: number;
      eventsDropped: number;
      reason: string;
    };

/** Options of `app.enableLogging(options)`. */
export interface LoggingOptions {
  /** `"pretty"` (human, coloured on a TTY), `"json"` (one JSON object a line) or `"auto"` (default: pretty on a TTY, JSON otherwise). */
  format?: "pretty" | "json" | "auto";
  /** Colour the pretty format. Default: when stdout is a TTY. */
  color?: boolean;
  /** Where lines go. Default: stdout. Gets the formatted line and the record. */
  sink?: (line: string, record: LogRecord) => void;
}

const COLORS = { reset: "\x1b[0m", dim: "\x1b[2m", green: "\x1b[32m", yellow: "\x1b[33m", red: "\x1b[31m", cyan: "\x1b[36m" };

/**
 * The logging plugin. `app.enableLogging(options)` is `app.use(logging(options))`.
 * @example
 * app.enableLogging({ format: "json", sink: (line) => myLogFile.write(line + "\n") });
 */
export function logging(options: LoggingOptions = {}): Plugin {
  const tty = process.stdout.isTTY === true;
  const format = options.format === undefined || options.format === "auto" ? (tty ? "pretty" : "json") : options.format;
  const color = options.color ?? tty;
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const startedAt = new WeakMap<Request, number>();

  function emit(record: LogRecord): void {
    sink(format === "json" ? JSON.stringify(record) : pretty(record, color), record);
  }

  function elapsed(request: Request): number {
    const start = startedAt.get(request);
    return start === undefined ? 0 : Math.round((performance.now() - start) * 100) / 100;
  }

  return (app) => {
    app.addHook("onRequest", (request) => {
      startedAt.set(request, performance.now());
    });
    app.addHook("onFinish", (request, info) => {
      emit({ type: "request", time: new Date().toISOString(), method: request.method, path: request.path, status: info.status, durationMs: elapsed(request) });
    });
    app.addHook("onStreamOpen", (request, response) => {
      emit({ type: "stream-open", time: new Date().toISOString(), method: request.method, path: request.path, status: response.status });
    });
    app.addHook("onStreamClose", (request, info) => {
      emit({
        type: "stream-close",
        time: new Date().toISOString(),
        method: request.method,
        path: request.path,
        durationMs: info.durationMs,
        eventsSent: info.eventsSent,
        eventsDropped: info.eventsDropped,
        reason: info.reason,
      });
    });
  };
}

function pretty(record: LogRecord, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `${code}${text}${COLORS.reset}` : text);
  const time = paint(COLORS.dim, record.time);
  switch (record.type) {
    case "request": {
      const code = record.status >= 500 ? COLORS.red : record.status >= 400 ? COLORS.yellow : COLORS.green;
      return `${time} ${record.method} ${record.path} ${paint(code, String(record.status))} ${record.durationMs}ms`;
    }
    case "stream-open":
      return `${time} ${record.method} ${record.path} ${paint(COLORS.cyan, "SSE open")}`;
    case "stream-close":
      return `${time} ${record.method} ${record.path} ${paint(COLORS.cyan, "SSE closed")} ${record.durationMs}ms ${record.eventsSent} events` +
        (record.eventsDropped ? ` ${record.eventsDropped} dropped` : "") + ` (${record.reason})`;
  }
}
