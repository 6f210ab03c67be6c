/**
 * OpenAI-style chat completion streams: the wire format of `POST /v1/chat/completions`
 * with `stream: true`, which the official `openai` client (and every OpenAI-compatible
 * client) reads: `data: {chat.completion.chunk}` events, then `data: [DONE]`.
 */
import { randomUUID } from "node:crypto";
import { describeValue } from "../describe.js";
import { CelloError, HttpError, publicErrorBody } from "../errors.js";
import type { Response, ResponseInit } from "../response.js";
import { formatSseFrame } from "../sse/event.js";
import type { SseOptions } from "../sse/options.js";
import { checkSource, protocolResponse, type ProtocolSource } from "./protocol-stream.js";

/** Why a choice ended, as OpenAI says it. */
export type OpenAIFinishReason = "stop" | "length" | "tool_calls" | "content_filter" | "function_call";

/** Token counts, sent in a last chunk with no choices (what OpenAI sends for `stream_options.include_usage`). */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [field: string]: unknown;
}

/**
 * One `chat.completion.chunk` as a source may yield it whole (tool calls, several
 * choices, a proxied upstream's chunks): `id`, `object`, `created` and `model` are
 * filled in from the stream's when missing.
 */
export interface OpenAIChatChunk {
  id?: string;
  object?: "chat.completion.chunk";
  created?: number;
  model?: string;
  choices: Array<{
    index: number;
    delta: { role?: string; content?: string | null; tool_calls?: unknown[]; refusal?: string | null; [field: string]: unknown };
    finish_reason: OpenAIFinishReason | null;
    logprobs?: unknown;
  }>;
  usage?: OpenAIUsage | null;
  [field: string]: unknown;
}

/** Options of {@link openaiChatStream}. */
export interface OpenAIChatStreamOptions {
  /** The `model` every chunk names (usually the request's). Required. */
  model: string;
  /** The completion's id, the same in every chunk. Default: `chatcmpl-` and a random UUID. */
  id?: string;
  /** The Unix time (seconds) every chunk carries. Default: now. */
  created?: number;
  /** `system_fingerprint` in every chunk. Default: none. */
  systemFingerprint?: string;
  /**
   * `finish_reason` of the last chunk, or a function called when the source is done
   * (e.g. `"length"` when the model hit its limit). Default `"stop"`. Not sent when the
   * source yielded a whole chunk with a `finish_reason` of its own.
   */
  finishReason?: OpenAIFinishReason | (() => OpenAIFinishReason);
  /**
   * Token usage, sent in a last chunk with `choices: []`, as OpenAI does when the request
   * set `stream_options: { include_usage: true }`; a function is called when the source is
   * done (undefined: none sent). Default: none.
   */
  usage?: OpenAIUsage | (() => OpenAIUsage | undefined);
}

const HELPER = "openaiChatStream";

/**
 * Stream `source` as an OpenAI chat completion: a first chunk with
 * `delta: { role: "assistant", content: "" }`, one chunk per text delta
 * (`choices[0].delta.content`), a last chunk with `delta: {}` and `finish_reason`,
 * the usage chunk when `usage` is given, then `data: [DONE]`.
 *
 * The source yields strings (text deltas; `""`, `null` and `undefined` are skipped) or
 * whole {@link OpenAIChatChunk} objects; anything else fails the stream. When the
 * source throws, the client gets OpenAI's error event, `data: {"error": {"message",
 * "type", "param", "code"}}` (the message only when it is safe to show, as for any
 * error: an `HttpError` below 500 or with `expose`), which the `openai` client throws
 * as an `APIError`; no `[DONE]` follows, and the error is logged like any failed stream.
 * When the client leaves, the source is ended (its `finally` runs) and
 * `request.signal` aborts: pass that signal to the upstream call (a `fetch`, a
 * model) so the work stops with the client.
 *
 * @param source - Text deltas (or whole chunks): an async generator, an async iterable or an iterable.
 * @param options - `model` (required), `id`, `created`, `systemFingerprint`, `finishReason` (`"stop"`), `usage`.
 * @param init - The response's `status` and `headers`, and SSE options (`heartbeatMs`...).
 * @returns An SSE Response (`text/event-stream`), to return from a handler of any method.
 * @throws CelloError `CELLO_INVALID_OPTION` for a source that is not iterable or a missing `model`.
 * @example
 * app.post("/v1/chat/completions", async (req) => {
 *   const body = await req.json<{ model: string; messages: Message[] }>();
 *   return openaiChatStream(generate(body.messages, req.signal), { model: body.model });
 * });
 */
export function openaiChatStream(
  source: ProtocolSource<string | OpenAIChatChunk | null | undefined>,
  options: OpenAIChatStreamOptions,
  init?: SseOptions & ResponseInit,
): Response {
  checkSource(source, HELPER);
  checkOptions(options);
  const base = {
    id: options.id ?? `chatcmpl-${randomUUID().replaceAll("-", "")}`,
    object: "chat.completion.chunk" as const,
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: options.model,
    ...(options.systemFingerprint === undefined ? {} : { system_fingerprint: options.systemFingerprint }),
  };
  return protocolResponse(completionChunks(source, base, options), openaiErrorFrame, undefined, init);
}

/** The chunks' shared fields, in the order OpenAI sends them. */
interface ChunkBase {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint?: string;
}

async function* completionChunks(
  source: ProtocolSource<unknown>,
  base: ChunkBase,
  options: OpenAIChatStreamOptions,
): AsyncGenerator<string, void, undefined> {
  yield JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] });
  let finished = false;
  for await (const item of source) {
    if (item === undefined || item === null || item === "") continue;
    if (typeof item === "string") {
      yield JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: item }, logprobs: null, finish_reason: null }] });
      continue;
    }
    if (!isChunk(item)) {
      throw new TypeError(`${HELPER}(): the source yielded ${describeValue(item)}; yield text deltas (strings) or chat.completion.chunk objects with a choices array`);
    }
    if (item.choices.some((choice) => choice?.finish_reason != null)) finished = true;
    yield JSON.stringify({ ...base, ...item });
  }
  if (!finished) {
    const reason = typeof options.finishReason === "function" ? options.finishReason() : (options.finishReason ?? "stop");
    yield JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: reason }] });
  }
  const usage = typeof options.usage === "function" ? options.usage() : options.usage;
  if (usage !== undefined) yield JSON.stringify({ ...base, choices: [], usage });
  yield "[DONE]";
}

function isChunk(item: unknown): item is OpenAIChatChunk {
  return typeof item === "object" && item !== null && Array.isArray((item as { choices?: unknown }).choices);
}

function checkOptions(options: OpenAIChatStreamOptions): void {
  if (typeof options !== "object" || options === null) {
    throw new CelloError("CELLO_INVALID_OPTION", `${HELPER}() takes options { model, ... }, got ${describeValue(options)}`);
  }
  if (typeof options.model !== "string" || options.model === "") {
    throw new CelloError("CELLO_INVALID_OPTION", `${HELPER}(): model must be a non-empty string, got ${describeValue(options.model)}`);
  }
}

/**
 * OpenAI's in-stream error: a data-only event whose JSON has an `error` object. The
 * `openai` client throws it as an `APIError` carrying `message`. Only what
 * `publicErrorBody` lets a client see goes out.
 */
export function openaiErrorFrame(err: unknown): string {
  const { status, body } = publicErrorBody(err);
  const code = err instanceof HttpError && err.expose && err.code !== undefined ? err.code : null;
  const type = status < 500 ? "invalid_request_error" : "server_error";
  return formatSseFrame(JSON.stringify({ error: { message: body.error, type, param: null, code } }));
}
