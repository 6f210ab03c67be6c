/**
 * @cellojs/redis: a Redis Streams broker for Cello.ts channels, so one channel
 * spans every instance of an app and a client resumes on any of them.
 * @packageDocumentation
 */
export { redisBroker, type RedisBroker, type RedisBrokerOptions } from "./broker.js";
export { BrokerUnavailableError, redactUrl } from "./connection.js";
export { compareStreamIds, isStreamId } from "./ids.js";
export { redisRateLimitStore, type RedisRateLimitStore, type RedisRateLimitStoreOptions } from "./rate-limit.js";
