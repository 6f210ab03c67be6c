/**
 * The Vercel AI SDK's UI message stream (`x-vercel-ai-ui-message-stream: v1`): typed
 * JSON chunks as SSE data, then `data: [DONE]`; what `useChat` and the SDK's
 * `DefaultChatTransport` read.
 */
import { describeValue } from "../describe.js";
import { CelloError, publicErrorBody } from "../errors.js";
import type { Response, ResponseInit } from "../response.js";
import { formatSseFrame } from "../sse/event.js";
import type { SseOptions } from "../sse/options.js";
import { checkSource, protocolResponse, type ProtocolSource } from "./protocol-stream.js";

/** Why a message ended, in the UI message stream's words. */
export type UIMessageFinishReason = "stop" | "length" | "content-filter" | "tool-calls" | "error" | "other";

/**
 * A UI message chunk a source may yield whole, between text deltas: `data-*` parts,
 * reasoning, sources, tool calls... (see the AI SDK's `UIMessageChunk`). `start` and
 * `finish` are written by the helper and refused here.
 */
export interface UIMessageChunkObject {
  type: string;
  [field: string]: unknown;
}

/** Options of {@link uiMessageStream}. */
export interface UIMessageStreamOptions {
  /** The assistant message's id, sent in the `start` chunk. Default: none (the client makes one). */
  messageId?: string;
  /** `messageMetadata` of the `start` chunk. Default: none. */
  messageMetadata?: unknown;
  /**
   * `finishReason` of the `finish` chunk, or a function called when the source is done.
   * Default: none sent: the first AI SDK 5.0 releases refuse the field (their chunk
   * schemas were strict), later 5.x and 6.x read it.
   */
  finishReason?: UIMessageFinishReason | (() => UIMessageFinishReason | undefined);
}

const HELPER = "uiMessageStream";

/** The header AI SDK clients check the protocol by. */
const UI_MESSAGE_STREAM_HEADERS = { "x-vercel-ai-ui-message-stream": "v1" };

/**
 * Stream `source` as an AI SDK UI message: `start`, then for each run of text deltas
 * `text-start`, `text-delta`s and `text-end` (one text part), then `finish` and
 * `data: [DONE]`, with the `x-vercel-ai-ui-message-stream: v1` header.
 *
 * The source yields strings (text deltas; `""`, `null` and `undefined` are skipped) or
 * whole chunk objects (`{ type: "data-weather", data }`, `reasoning-*`, `tool-*`...),
 * which close the open text part first, so text after them is a new part. Anything
 * else fails the stream. When the source throws, the client gets an `error` chunk
 * (`errorText` only when it is safe to show, as for any error) and `[DONE]`; `useChat`
 * reports it through its `error`. The error is logged like any failed stream. When the
 * client leaves, the source is ended (its `finally` runs) and `request.signal` aborts:
 * pass that signal to the upstream call so the work stops with the client.
 *
 * @param source - Text deltas (or whole chunks): an async generator, an async iterable or an iterable.
 * @param options - `messageId`, `messageMetadata`, `finishReason` (none).
 * @param init - The response's `status` and `headers`, and SSE options (`heartbeatMs`...).
 * @returns An SSE Response, to return from a handler of any method (useChat POSTs).
 * @throws CelloError `CELLO_INVALID_OPTION` for a source that is not iterable or options that are not an object.
 * @example
 * app.post("/api/chat", async (req) => {
 *   const { messages } = await req.json<{ messages: UIMessage[] }>();
 *   return uiMessageStream(generate(messages, req.signal));
 * });
 */
export function uiMessageStream(
  source: ProtocolSource<string | UIMessageChunkObject | null | undefined>,
  options: UIMessageStreamOptions = {},
  init?: SseOptions & ResponseInit,
): Response {
  checkSource(source, HELPER);
  if (typeof options !== "object" || options === null) {
    throw new CelloError("CELLO_INVALID_OPTION", `${HELPER}() takes options { messageId?, messageMetadata?, finishReason? }, got ${describeValue(options)}`);
  }
  const textParts = { count: 0, open: undefined as string | undefined };
  const errorFrame = (err: unknown): string => {
    // The text part the failure interrupted is closed first, as the SDK's own streams do.
    const close = textParts.open === undefined ? "" : formatSseFrame(JSON.stringify({ type: "text-end", id: textParts.open }));
    return `${close}${formatSseFrame(JSON.stringify({ type: "error", errorText: publicErrorBody(err).body.error }))}${formatSseFrame("[DONE]")}`;
  };
  return protocolResponse(messageChunks(source, options, textParts), errorFrame, UI_MESSAGE_STREAM_HEADERS, init);
}

async function* messageChunks(
  source: ProtocolSource<unknown>,
  options: UIMessageStreamOptions,
  text: { count: number; open: string | undefined },
): AsyncGenerator<string, void, undefined> {
  const start: Record<string, unknown> = { type: "start" };
  if (options.messageId !== undefined) start.messageId = options.messageId;
  if (options.messageMetadata !== undefined) start.messageMetadata = options.messageMetadata;
  yield JSON.stringify(start);
  for await (const item of source) {
    if (item === undefined || item === null || item === "") continue;
    if (typeof item === "string") {
      if (text.open === undefined) {
        text.open = `text-${++text.count}`;
        yield JSON.stringify({ type: "text-start", id: text.open });
      }
      yield JSON.stringify({ type: "text-delta", id: text.open, delta: item });
      continue;
    }
    checkChunk(item);
    if (text.open !== undefined) {
      yield JSON.stringify({ type: "text-end", id: text.open });
      text.open = undefined;
    }
    yield JSON.stringify(item);
  }
  if (text.open !== undefined) {
    yield JSON.stringify({ type: "text-end", id: text.open });
    text.open = undefined;
  }
  const finishReason = typeof options.finishReason === "function" ? options.finishReason() : options.finishReason;
  yield JSON.stringify(finishReason === undefined ? { type: "finish" } : { type: "finish", finishReason });
  yield "[DONE]";
}

function checkChunk(item: unknown): asserts item is UIMessageChunkObject {
  if (typeof item !== "object" || item === null || typeof (item as { type?: unknown }).type !== "string") {
    throw new TypeError(`${HELPER}(): the source yielded ${describeValue(item)}; yield text deltas (strings) or UI message chunks ({ type, ... })`);
  }
  const type = (item as UIMessageChunkObject).type;
  if (type === "start" || type === "finish") {
    throw new TypeError(`${HELPER}(): the source yielded a "${type}" chunk; the helper writes start and finish itself (pass messageId, messageMetadata, finishReason as options)`);
  }
}
