/**
 * @cellojs/mcp: serve a Model Context Protocol server from the official SDK on a
 * Cello.ts route over Streamable HTTP, with sessions, resumable streams on
 * Cello.ts channels (memory or Redis) and Host/Origin checks.
 * @packageDocumentation
 */
export { channelEventStore, type ChannelEventStoreOptions, type SessionEventStore } from "./event-store.js";
export { LOCALHOST_NAMES, type AllowList } from "./host-check.js";
export { mountMcp, type McpMount, type McpMountOptions, type McpServerLike, type McpSessionContext } from "./mount.js";
