/**
 * The app's diagnostic logger: where producer errors, handler stacks and
 * startup lines go. Request logging is a separate plugin (plugins/logging.ts).
 */

/** Where the framework writes its own diagnostics. */
export interface Logger {
  info(message: string): void;
  warn(message: string, err?: unknown): void;
  error(message: string, err?: unknown): void;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}

/** The default logger: info to stdout, warnings and errors (with stacks) to stderr. */
export const consoleLogger: Logger = {
  info: (message) => process.stdout.write(`${message}\n`),
  warn: (message, err) => process.stderr.write(err === undefined ? `${message}\n` : `${message}\n${describe(err)}\n`),
  error: (message, err) => process.stderr.write(err === undefined ? `${message}\n` : `${message}\n${describe(err)}\n`),
};

/** A logger that discards everything (for tests that provoke errors on purpose). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
