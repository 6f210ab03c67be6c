/**
 * Heartbeats for every open stream, from one timer per interval instead of one
 * per connection: an idle SSE connection then costs no timer of its own (the
 * benchmark measured a Timeout and its closure at about 250 bytes each).
 */

/** A stream that may owe its client a heartbeat. */
export interface HeartbeatTarget {
  /** Called on each sweep; sends a heartbeat if the stream has been idle for its interval. */
  heartbeatDue(now: number): void;
}

interface Group {
  timer: NodeJS.Timeout;
  members: Set<HeartbeatTarget>;
}

// Sweeping 5 times per interval sends a heartbeat between 1x and 1.2x the
// interval after the last frame, for the price of a Set walk.
const SWEEPS_PER_INTERVAL = 5;

/** Groups streams by heartbeat interval and sweeps each group on one timer. */
export class HeartbeatSweeper {
  readonly #groups = new Map<number, Group>();

  add(target: HeartbeatTarget, intervalMs: number): void {
    let group = this.#groups.get(intervalMs);
    if (!group) {
      const members = new Set<HeartbeatTarget>();
      const timer = setInterval(() => {
        const now = Date.now();
        for (const member of members) member.heartbeatDue(now);
      }, Math.max(1, Math.floor(intervalMs / SWEEPS_PER_INTERVAL)));
      // Open sockets keep the process alive, not the heartbeat.
      timer.unref();
      group = { timer, members };
      this.#groups.set(intervalMs, group);
    }
    group.members.add(target);
  }

  remove(target: HeartbeatTarget, intervalMs: number): void {
    const group = this.#groups.get(intervalMs);
    if (!group || !group.members.delete(target) || group.members.size > 0) return;
    clearInterval(group.timer);
    this.#groups.delete(intervalMs);
  }
}
