/**
 * How long to wait before reconnecting.
 *
 * WHATWG HTML "9.2.3 Processing model", reestablish the connection: "Wait a
 * delay equal to the reconnection time of the event source. Optionally, wait
 * some more. In particular, if the previous attempt failed, then user agents
 * might introduce an exponential backoff delay to avoid overloading a
 * potentially already overloaded server."
 */

/**
 * The delay before the next connection attempt: the reconnection time, plus an
 * exponential, jittered extra after consecutive failures.
 *
 * With `R` the reconnection time and `n` failures, the target is
 * `min(max(R, maxDelayMs), R * 2^n)` and the delay lies between the midpoint of
 * `R` and the target and the target itself. Never below `R` (the server asked
 * for at least that); never above `max(R, maxDelayMs)` (an explicit server
 * `retry:` longer than the cap is still honoured). Jitter spreads the reconnects
 * of many clients dropped by the same outage.
 *
 * @param reconnectionTimeMs - The server's last `retry:` value, or the client's default (3000 in `connect`).
 * @param consecutiveFailures - Failed attempts since the last successful connection; 0 gives exactly `reconnectionTimeMs`.
 * @param maxDelayMs - Cap for the backoff (`maxReconnectDelayMs`, 30000 in `connect`).
 * @param random - Source of jitter in [0, 1). Default: `Math.random`.
 * @returns Milliseconds to wait.
 *
 * @example
 * ```ts
 * reconnectDelay(1000, 0, 30_000); // 1000
 * reconnectDelay(1000, 3, 30_000, () => 1); // 8000
 * ```
 */
export function reconnectDelay(
  reconnectionTimeMs: number,
  consecutiveFailures: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  if (consecutiveFailures <= 0) return reconnectionTimeMs;
  const ceiling = Math.max(reconnectionTimeMs, maxDelayMs);
  // A server may send `retry: 0`; grow from 1 ms so failures still back off.
  const growthBase = Math.max(reconnectionTimeMs, 1);
  const target = Math.min(ceiling, growthBase * 2 ** consecutiveFailures);
  const extra = Math.max(0, target - reconnectionTimeMs);
  return Math.round(reconnectionTimeMs + extra * (0.5 + 0.5 * random()));
}
