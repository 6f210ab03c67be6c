// openaiChatStream read by the official `openai` client (6.x: the newest line that
// runs on Node 20; 7.x needs Node 22) over a real socket: what it assembles, how it
// sees a failure, and that aborting its stream stops the producer.
import { setTimeout as sleep } from "node:timers/promises";
import OpenAI, { APIError } from "openai";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import { recordingLogger, startWithCleanup } from "../testing.js";
import { openaiChatStream, type OpenAIChatChunk } from "./openai.js";
import { model, producerState, splitDeltas } from "./producer.test-support.js";

const start = startWithCleanup();

const TEXT = "Hello, world! Streaming \u00e9t\u00e9 \u{1F600} tokens\nover two lines, with \"quotes\" and a\r\ncarriage return.";
const DELTAS = splitDeltas(TEXT, 5);

interface ChatBody {
  model: string;
  messages: Array<{ role: string; content: string }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

async function chatServer(produce: (body: ChatBody, request: Request) => AsyncIterable<unknown> | Iterable<unknown>) {
  const logger = recordingLogger();
  const state = producerState();
  const app = new App({ logger });
  app.post("/v1/chat/completions", async (request) => {
    const body = await request.json<ChatBody>();
    return openaiChatStream(produce(body, request) as AsyncIterable<string>, {
      model: body.model,
      usage: body.stream_options?.include_usage ? { prompt_tokens: 3, completion_tokens: DELTAS.length, total_tokens: 3 + DELTAS.length } : undefined,
    });
  });
  const client = await start(app);
  const openai = new OpenAI({ apiKey: "sk-test", baseURL: `${client.url}/v1`, maxRetries: 0, timeout: 20_000 });
  return { client, openai, logger, state };
}

const until = async (check: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await sleep(5);
  }
};

describe("openaiChatStream with the openai client", () => {
  it("assembles exactly the source's text, with one id, the model, finish_reason and usage", async () => {
    const { openai, state, logger } = await chatServer((body, req) => model(DELTAS, 1, req.signal, state));
    const stream = await openai.chat.completions.create({
      model: "fake-1",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAIChatChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk as OpenAIChatChunk);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(TEXT);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks[0]!.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(chunks.every((chunk) => chunk.model === "fake-1" && chunk.object === "chat.completion.chunk" && Number.isInteger(chunk.created))).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const finishReasons = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter((reason) => reason !== null);
    expect(finishReasons).toEqual(["stop"]);
    // The usage chunk comes last, with no choices.
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: DELTAS.length, total_tokens: 3 + DELTAS.length } });
    expect(state).toMatchObject({ started: 1, ended: 1, aborted: 0 });
    expect(logger.errors).toEqual([]);
  });

  it("writes the wire format OpenAI clients expect: data-only JSON events, then data: [DONE]", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.post("/v1/chat/completions", () => openaiChatStream(["He", "llo"], { model: "m", id: "chatcmpl-1", created: 1700000000 }));
    const { url } = await start(app);
    const response = await fetch(`${url}/v1/chat/completions`, { method: "POST", body: "{}" });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const events = (await response.text()).split("\n\n").filter((block) => block.startsWith("data: "));
    const base = '"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m"';
    expect(events).toEqual([
      `data: {${base},"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
      `data: {${base},"choices":[{"index":0,"delta":{"content":"He"},"logprobs":null,"finish_reason":null}]}`,
      `data: {${base},"choices":[{"index":0,"delta":{"content":"llo"},"logprobs":null,"finish_reason":null}]}`,
      `data: {${base},"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
      "data: [DONE]",
    ]);
  });

  it("aborting the client's stream cancels the producer through request.signal, every time", async () => {
    const { openai, state, logger } = await chatServer((body, req) => model(Array.from({ length: 10_000 }, (_, i) => `t${i} `), 5, req.signal, state));
    for (let round = 1; round <= 10; round++) {
      const stream = await openai.chat.completions.create({ model: "fake-1", messages: [{ role: "user", content: "go" }], stream: true });
      let received = "";
      for await (const chunk of stream) {
        received += chunk.choices[0]?.delta.content ?? "";
        if (received.split(" ").length > 3) break; // break aborts the client's request
      }
      stream.controller.abort();
      const abortedAt = performance.now();
      await until(() => state.aborted === round);
      expect(state.abortedAt.at(-1)! - abortedAt).toBeLessThan(5_000);
    }
    expect(state).toMatchObject({ started: 10, ended: 10, aborted: 10 });
    expect(logger.errors).toEqual([]);
  });

  it("a client that leaves before the first token stops the producer while it waits", async () => {
    const { openai, state, logger } = await chatServer((body, req) => model(["late"], 60_000, req.signal, state));
    const stream = await openai.chat.completions.create({ model: "fake-1", messages: [], stream: true });
    await until(() => state.started === 1);
    stream.controller.abort();
    await until(() => state.aborted === 1);
    expect(state.ended).toBe(1);
    expect(logger.errors).toEqual([]);
  });

  it("a producer that throws mid-stream: the client throws an APIError with the safe message after the deltas before it", async () => {
    const failing = (error: unknown) =>
      async function* (): AsyncGenerator<string> {
        yield "one ";
        yield "two ";
        throw error;
      };
    const logger = recordingLogger();
    const app = new App({ logger });
    app.post("/exposed/chat/completions", () => openaiChatStream(failing(new HttpError(429, "slow down, upstream quota"))(), { model: "m" }));
    app.post("/hidden/chat/completions", () => openaiChatStream(failing(new Error("db password is hunter2"))(), { model: "m" }));
    const { url } = await start(app);
    for (const [path, message, logged] of [
      ["exposed", "slow down, upstream quota", 0],
      ["hidden", "Internal Server Error", 1],
    ] as const) {
      const openai = new OpenAI({ apiKey: "sk-test", baseURL: `${url}/${path}`, maxRetries: 0 });
      const stream = await openai.chat.completions.create({ model: "m", messages: [], stream: true });
      let text = "";
      const failure = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      })().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(text).toBe("one two ");
      expect(failure).toBeInstanceOf(APIError);
      expect((failure as APIError).message).toContain(message);
      expect((failure as APIError).message).not.toContain("hunter2");
      expect(logger.errors.length).toBe(logged);
    }
    expect(logger.errors[0]![0]).toBe("SSE producer failed");
    // On the wire: the error event, and no [DONE] after it.
    const raw = await (await fetch(`${url}/hidden/chat/completions`, { method: "POST" })).text();
    expect(raw.trimEnd().split("\n\n").at(-1)).toBe('data: {"error":{"message":"Internal Server Error","type":"server_error","param":null,"code":null}}');
  });

  it("a delta that is neither a string nor a chunk fails the stream, told to the client, logged with what it was", async () => {
    const { openai, logger } = await chatServer(() => ["fine ", 42, "never"]);
    const stream = await openai.chat.completions.create({ model: "m", messages: [], stream: true });
    let text = "";
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((err: unknown) => err);
    expect(text).toBe("fine ");
    expect(failure).toBeInstanceOf(APIError);
    expect(logger.errors.map(([message, err]) => [message, String(err)])).toEqual([
      ["SSE producer failed", "TypeError: openaiChatStream(): the source yielded 42; yield text deltas (strings) or chat.completion.chunk objects with a choices array"],
    ]);
  });

  it("passes whole chunks through (tool calls), filling id and model, and sends no second finish_reason", async () => {
    const toolCall: OpenAIChatChunk = {
      choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "weather", arguments: '{"city":"Oslo"}' } }] }, finish_reason: null }],
    };
    const done: OpenAIChatChunk = { choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] };
    const app = new App();
    app.post("/v1/chat/completions", () => openaiChatStream([toolCall, done], { model: "m", id: "chatcmpl-tools" }));
    const { url } = await start(app);
    const openai = new OpenAI({ apiKey: "sk-test", baseURL: `${url}/v1`, maxRetries: 0 });
    const chunks = [];
    for await (const chunk of await openai.chat.completions.create({ model: "m", messages: [], stream: true })) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.id)).toEqual(["chatcmpl-tools", "chatcmpl-tools", "chatcmpl-tools"]);
    expect(chunks[1]!.choices[0]!.delta.tool_calls![0]!.function!.name).toBe("weather");
    expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason))).toEqual([null, null, "tool_calls"]);
  });

  it("the openai client sends Accept: application/json, so a route with requireAccept: text/event-stream refuses it (406)", async () => {
    const app = new App();
    app.post("/strict/chat/completions", () => openaiChatStream(["never"], { model: "m" }), { requireAccept: "text/event-stream" });
    const { url } = await start(app);
    const openai = new OpenAI({ apiKey: "sk-test", baseURL: `${url}/strict`, maxRetries: 0 });
    const failure = await openai.chat.completions.create({ model: "m", messages: [], stream: true }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).status).toBe(406);
  });

  it("refuses a source that is not iterable and a missing model where it is called", () => {
    for (const source of [undefined, 42, "text", { next() {} }]) {
      expect(() => openaiChatStream(source as never, { model: "m" })).toThrow(CelloError);
    }
    expect(() => openaiChatStream([], {} as never)).toThrow(/model must be a non-empty string, got undefined/);
    expect(() => openaiChatStream([], undefined as never)).toThrow(/takes options/);
  });
});
