/**
 * The runner's own connection to Redis: is it there, how much CPU has it used,
 * and deleting the keys a run made. The servers under test never use it.
 */
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";

/**
 * Where the Redis section looks for Redis: `REDIS_URL`, else the default local one.
 * @example redisUrl() // "redis://127.0.0.1:6379" when REDIS_URL is unset
 */
export function redisUrl(): string {
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}

export { redactUrl } from "@cellojs/redis";

/** What INFO says about the Redis under the run. */
export interface RedisInfo {
  version: string;
  /** The redis-server process id, when it runs on this machine (its CPU is then ours, not another process's). */
  localPid: number | undefined;
}

/**
 * A plain connection for the runner. Commands fail at once when Redis is away
 * (no reconnecting, no offline queue): the bench reports that, it does not wait.
 *
 * @example
 * const admin = await RedisAdmin.connect(redisUrl()); // throws when Redis does not answer
 * const before = await admin.cpuSeconds();
 * await admin.deleteKeys("cello-bench:1234-ab12cd34:");
 * admin.close();
 */
export class RedisAdmin {
  readonly #redis: Redis;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  /**
   * Connect and PING.
   * @param url - The Redis URL.
   * @param timeoutMs - How long to wait for the connection. Default 2000.
   * @throws An Error whose message says why Redis did not answer (e.g. `connect ECONNREFUSED 127.0.0.1:6379`).
   */
  static async connect(url: string, timeoutMs = 2000): Promise<RedisAdmin> {
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      connectionName: `cello-bench-admin-${process.pid}`,
    });
    // Without a listener ioredis reports connection errors as unhandled "error" events.
    // Keep the last one: with no retries, connect() itself only rejects with
    // "Connection is closed.", which does not say why.
    let lastError: Error | undefined;
    redis.on("error", (err: Error) => (lastError = err));
    try {
      await redis.connect();
      await redis.ping();
    } catch (err) {
      redis.disconnect();
      throw lastError ?? err;
    }
    return new RedisAdmin(redis);
  }

  /** Redis's version and, when it runs on this machine, its process id. */
  async info(): Promise<RedisInfo> {
    const text = await this.#redis.info("server");
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(text)?.[1]?.trim();
    const pid = Number(field("process_id"));
    let localPid: number | undefined;
    try {
      // Same pid in this machine's /proc and it is a redis-server: not a Redis elsewhere (or in a container) that happens to share the number.
      if (Number.isInteger(pid) && readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("redis")) localPid = pid;
    } catch {
      localPid = undefined;
    }
    return { version: field("redis_version") ?? "unknown", localPid };
  }

  /** CPU seconds (user + system) the Redis server has used since it started, from `INFO cpu`. */
  async cpuSeconds(): Promise<number> {
    const text = await this.#redis.info("cpu");
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
    return field("used_cpu_user") + field("used_cpu_sys");
  }

  /**
   * Delete every key under `prefix` (SCAN, never FLUSHDB: the Redis may be shared).
   * @param prefix - A prefix only this run uses.
   * @returns How many keys were deleted.
   */
  async deleteKeys(prefix: string): Promise<number> {
    let deleted = 0;
    let cursor = "0";
    // Bounded: a key space that keeps growing under the prefix would otherwise never end the scan.
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await this.#redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) deleted += await this.#redis.del(...keys);
      cursor = next;
      if (cursor === "0") break;
    }
    return deleted;
  }

  /**
   * Keys under `prefix` (for checking that a run left nothing behind).
   * @param prefix - The key prefix.
   */
  async countKeys(prefix: string): Promise<number> {
    let count = 0;
    let cursor = "0";
    for (let round = 0; round < 10_000; round++) {
      const [next, keys] = await this.#redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      count += keys.length;
      cursor = next;
      if (cursor === "0") break;
    }
    return count;
  }

  /** Close the connection. */
  close(): void {
    this.#redis.disconnect();
  }
}
