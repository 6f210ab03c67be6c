/**
 * Health checks plugin (`app.enableHealthChecks()`, Cello's `enable_health_checks`):
 * liveness, readiness and startup endpoints for load balancers and orchestrators.
 * Built on the public API: `app.state`, `app.broker.status()`, `app.onEvent("draining")`
 * and routes.
 */
import type { App, Plugin } from "../app.js";
import { describeValue } from "../describe.js";
import { CelloError } from "../errors.js";
import { Response } from "../response.js";

/**
 * A readiness check: passes when it returns (or resolves to) anything but `false`;
 * fails when it returns `false`, throws, rejects, or takes longer than `timeoutMs`.
 */
export type HealthCheck = () => unknown;

/** Options of `app.enableHealthChecks(options)`. */
export interface HealthCheckOptions {
  /** Where the endpoints live: `<path>`, `<path>/live`, `<path>/ready`, `<path>/startup`. Default `"/health"`. */
  path?: string;
  /**
   * Your own readiness checks, by name (a database ping, a cache). They run in parallel on
   * each readiness probe; a check still running from an earlier probe is joined, not started
   * again, so a hanging dependency never piles up calls. Default: none.
   */
  checks?: Record<string, HealthCheck>;
  /** How long one check may take before it counts as failing (ms). Default 2000. */
  timeoutMs?: number;
  /**
   * How long `app.close()` keeps serving with readiness failing before it ends streams and
   * stops the server (ms), so a load balancer sees the instance leave before its clients
   * are cut. Set it to the balancer's probe interval times its unhealthy threshold. Default 0.
   */
  drainDelayMs?: number;
  /** Include the channel broker's connection (`broker.status().connected`) in readiness. Default true. */
  broker?: boolean;
}

/** What a check reports in the JSON body. */
type CheckResult = "ok" | "failing" | "timeout";

/**
 * The health checks plugin. `app.enableHealthChecks(options)` is `app.use(healthChecks(options))`.
 *
 * - `GET /health/live`: 200 while the process answers (even while draining: a restart then would cut streams).
 * - `GET /health/startup`: 200 once `ready()` finished (startup handlers done), else 503.
 * - `GET /health/ready`: 200 when started, not draining, the broker connected and every check passing; else 503.
 * - `GET /health`: the readiness answer with every part named.
 *
 * Bodies are JSON (`{ "status": "ok" | "failing", "checks": { ... } }`) with `Cache-Control: no-store`;
 * a check's error is logged (once per change), never shown. The endpoints take no input: query strings are ignored.
 * @example
 * app.enableHealthChecks({
 *   checks: { database: () => db.query("select 1") },
 *   timeoutMs: 1000,
 *   drainDelayMs: 10_000, // ALB: interval 5 s x unhealthy threshold 2
 * });
 */
export function healthChecks(options: HealthCheckOptions = {}): Plugin {
  const base = options.path ?? "/health";
  if (typeof base !== "string" || !base.startsWith("/") || (base.length > 1 && base.endsWith("/"))) {
    throw new CelloError("CELLO_INVALID_OPTION", `enableHealthChecks path must start with "/" and not end with one, got ${describeValue(base)}`);
  }
  const timeoutMs = options.timeoutMs ?? 2000;
  const drainDelayMs = options.drainDelayMs ?? 0;
  for (const [name, value] of [["timeoutMs", timeoutMs], ["drainDelayMs", drainDelayMs]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new CelloError("CELLO_INVALID_OPTION", `enableHealthChecks ${name} must be a number of ms >= 0, got ${describeValue(value)}`);
  }
  const checks = Object.entries(options.checks ?? {});
  for (const [name, check] of checks) {
    if (typeof check !== "function") throw new CelloError("CELLO_INVALID_OPTION", `enableHealthChecks check ${JSON.stringify(name)} must be a function, got ${describeValue(check)}`);
  }
  const useBroker = options.broker ?? true;
  const root = base === "/" ? "" : base;

  return (app) => {
    const runner = new CheckRunner(checks, timeoutMs, app);
    if (drainDelayMs > 0) app.onEvent("draining", () => new Promise((resolve) => setTimeout(resolve, drainDelayMs)));

    const started = () => app.state !== "created" && app.state !== "starting";
    const readiness = async () => {
      const parts: Record<string, CheckResult> = {};
      let ok = true;
      const state = app.state;
      if (state !== "started") ok = false;
      if (useBroker) {
        const connected = app.broker.status?.().connected ?? true;
        parts.broker = connected ? "ok" : "failing";
        if (!connected) ok = false;
      }
      for (const [name, result] of await runner.run()) {
        parts[name] = result;
        if (result !== "ok") ok = false;
      }
      return answer(ok, { state, checks: parts });
    };

    app.get(`${root}/live`, () => answer(true, {}));
    app.get(`${root}/startup`, () => answer(started(), { state: app.state }));
    app.get(`${root}/ready`, readiness);
    app.get(root || "/", readiness);
  };
}

function answer(ok: boolean, details: Record<string, unknown>): Response {
  return Response.json({ status: ok ? "ok" : "failing", ...details }, { status: ok ? 200 : 503, headers: { "Cache-Control": "no-store" } });
}

/** Runs the user's checks with a timeout, one run per check at a time. */
class CheckRunner {
  readonly #checks: Array<[string, HealthCheck]>;
  readonly #timeoutMs: number;
  readonly #app: App;
  /** The run in flight per check: a probe arriving meanwhile joins it. */
  readonly #inFlight = new Map<string, Promise<"ok" | "failing">>();
  /** The last result per check, to log changes only. */
  readonly #last = new Map<string, CheckResult>();

  constructor(checks: Array<[string, HealthCheck]>, timeoutMs: number, app: App) {
    this.#checks = checks;
    this.#timeoutMs = timeoutMs;
    this.#app = app;
  }

  async run(): Promise<Array<[string, CheckResult]>> {
    if (this.#checks.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, this.#timeoutMs, "timeout")));
    try {
      return await Promise.all(this.#checks.map(async ([name, check]): Promise<[string, CheckResult]> => [name, await Promise.race([this.#start(name, check), timeout])]));
    } finally {
      clearTimeout(timer);
    }
  }

  #start(name: string, check: HealthCheck): Promise<"ok" | "failing"> {
    let running = this.#inFlight.get(name);
    if (running) return running;
    running = (async (): Promise<"ok" | "failing"> => {
      try {
        const result = await check();
        this.#report(name, result === false ? "failing" : "ok", undefined);
        return result === false ? "failing" : "ok";
      } catch (err) {
        this.#report(name, "failing", err);
        return "failing";
      } finally {
        this.#inFlight.delete(name);
      }
    })();
    this.#inFlight.set(name, running);
    // A probe that timed out is answered; when the check ends late, say so once.
    const timer = setTimeout(() => {
      if (this.#inFlight.get(name) === running) this.#report(name, "timeout", undefined);
    }, this.#timeoutMs);
    void running.finally(() => clearTimeout(timer));
    return running;
  }

  #report(name: string, result: CheckResult, err: unknown): void {
    const before = this.#last.get(name);
    this.#last.set(name, result);
    if (before === result) return;
    if (result === "ok") {
      if (before !== undefined) this.#app.logger.info(`Health check ${JSON.stringify(name)} passes again`);
    } else if (result === "timeout") this.#app.logger.warn(`Health check ${JSON.stringify(name)} takes longer than its timeout`);
    else this.#app.logger.warn(`Health check ${JSON.stringify(name)} fails${err === undefined ? " (returned false)" : ""}`, ...(err === undefined ? [] : [err]));
  }
}
