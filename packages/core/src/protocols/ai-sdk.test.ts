// uiMessageStream read by the AI SDK's own client code (`ai` 6.x, the newest line that
// runs on Node 20; 7.x needs Node 22): DefaultChatTransport (what useChat sends and
// reads with), readUIMessageStream (what assembles the message), and
// parseJsonEventStream with uiMessageChunkSchema (every chunk valid), over a real socket.
import { setTimeout as sleep } from "node:timers/promises";
import { DefaultChatTransport, parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema, type UIMessage, type UIMessageChunk } from "ai";
import { describe, expect, it } from "vitest";
import { App } from "../app.js";
import { CelloError, HttpError } from "../errors.js";
import type { Request } from "../request.js";
import { recordingLogger, startWithCleanup } from "../testing.js";
import { uiMessageStream, type UIMessageStreamOptions } from "./ai-sdk.js";
import { model, producerState, splitDeltas } from "./producer.test-support.js";

const start = startWithCleanup();

const TEXT = "Bonjour! The AI SDK reads \u00e9t\u00e9, \u{1F680}, \"quotes\",\nnew lines\r\nand [DONE] inside text.";
const DELTAS = splitDeltas(TEXT, 4);

async function chatServer(produce: (request: Request, body: { messages: UIMessage[] }) => AsyncIterable<unknown> | Iterable<unknown>, options?: UIMessageStreamOptions) {
  const logger = recordingLogger();
  const state = producerState();
  const app = new App({ logger });
  app.post("/api/chat", async (request) => {
    const body = await request.json<{ messages: UIMessage[] }>();
    return uiMessageStream(produce(request, body) as AsyncIterable<string>, options);
  });
  const client = await start(app);
  const transport = new DefaultChatTransport<UIMessage>({ api: `${client.url}/api/chat` });
  return { client, transport, logger, state };
}

const userMessage: UIMessage = { id: "u1", role: "user", parts: [{ type: "text", text: "Say hello" }] };

function send(transport: DefaultChatTransport<UIMessage>, abortSignal?: AbortSignal): Promise<ReadableStream<UIMessageChunk>> {
  return transport.sendMessages({ trigger: "submit-message", chatId: "chat-1", messageId: undefined, messages: [userMessage], abortSignal });
}

/** The last snapshot readUIMessageStream assembles, and any error it reported. */
async function assemble(stream: ReadableStream<UIMessageChunk>): Promise<{ message: UIMessage | undefined; errors: Error[] }> {
  const errors: Error[] = [];
  let message: UIMessage | undefined;
  for await (const snapshot of readUIMessageStream({ stream, onError: (error) => errors.push(error as Error) })) message = snapshot;
  return { message, errors };
}

const textOf = (message: UIMessage | undefined): string =>
  (message?.parts ?? []).map((part) => (part.type === "text" ? part.text : "")).join("");

const until = async (check: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await sleep(5);
  }
};

describe("uiMessageStream with the AI SDK's client", () => {
  it("DefaultChatTransport + readUIMessageStream assemble exactly the source's text, with the message id and finish reason", async () => {
    let received: { messages: UIMessage[] } | undefined;
    const { transport, state, logger } = await chatServer(
      (req, body) => {
        received = body;
        return model(DELTAS, 1, req.signal, state);
      },
      { messageId: "m-1", finishReason: "stop" },
    );
    const chunks: UIMessageChunk[] = [];
    const stream = (await send(transport)).pipeThrough(
      new TransformStream<UIMessageChunk, UIMessageChunk>({
        transform(chunk, controller) {
          chunks.push(chunk);
          controller.enqueue(chunk);
        },
      }),
    );
    const { message, errors } = await assemble(stream);
    expect(errors).toEqual([]);
    expect(received?.messages).toEqual([userMessage]);
    expect(message?.id).toBe("m-1");
    expect(message?.role).toBe("assistant");
    expect(textOf(message)).toBe(TEXT);
    expect(message?.parts).toEqual([{ type: "text", text: TEXT, state: "done" }]);
    expect(chunks.map((chunk) => chunk.type)).toEqual(["start", "text-start", ...DELTAS.map(() => "text-delta"), "text-end", "finish"]);
    expect(chunks.at(-1)).toEqual({ type: "finish", finishReason: "stop" });
    expect(state).toMatchObject({ started: 1, ended: 1, aborted: 0 });
    expect(logger.errors).toEqual([]);
  });

  it("sends the v1 header, and every chunk passes the SDK's uiMessageChunkSchema, [DONE] last", async () => {
    const app = new App({ sse: { heartbeatMs: 0 } });
    app.post("/api/chat", () => uiMessageStream(["a", { type: "data-weather", data: { c: 21 } }, "b"]));
    const { url } = await start(app);
    const response = await fetch(`${url}/api/chat`, { method: "POST", body: "{}" });
    expect(response.headers.get("x-vercel-ai-ui-message-stream")).toBe("v1");
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const [forParser, forBytes] = response.body!.tee();
    const results = [];
    const reader = parseJsonEventStream({ stream: forParser, schema: uiMessageChunkSchema }).getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) results.push(read.value);
    expect(results.every((result) => result.success)).toBe(true);
    // A chunk object between deltas closes the text part: the text after it is a new part.
    expect(results.map((result) => (result.success ? result.value : undefined))).toEqual([
      { type: "start" },
      { type: "text-start", id: "text-1" },
      { type: "text-delta", id: "text-1", delta: "a" },
      { type: "text-end", id: "text-1" },
      { type: "data-weather", data: { c: 21 } },
      { type: "text-start", id: "text-2" },
      { type: "text-delta", id: "text-2", delta: "b" },
      { type: "text-end", id: "text-2" },
      { type: "finish" },
    ]);
    const raw = await new Response(forBytes).text();
    expect(raw.trimEnd().split("\n\n").at(-1)).toBe("data: [DONE]");
  });

  it("aborting the transport's request cancels the producer through request.signal, every time", async () => {
    const { transport, state, logger } = await chatServer((req) => model(Array.from({ length: 10_000 }, (_, i) => `w${i} `), 5, req.signal, state));
    for (let round = 1; round <= 10; round++) {
      const abort = new AbortController();
      const reader = (await send(transport, abort.signal)).getReader();
      let deltas = 0;
      while (deltas < 3) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the stream ended early");
        if (value.type === "text-delta") deltas++;
      }
      abort.abort();
      await reader.cancel().catch(() => {});
      await until(() => state.aborted === round);
    }
    expect(state).toMatchObject({ started: 10, ended: 10, aborted: 10 });
    expect(logger.errors).toEqual([]);
  });

  it("a client that leaves before the first token stops the producer while it waits", async () => {
    const { transport, state, logger } = await chatServer((req) => model(["late"], 60_000, req.signal, state));
    const abort = new AbortController();
    const stream = await send(transport, abort.signal);
    await until(() => state.started === 1);
    abort.abort();
    await stream.cancel().catch(() => {});
    await until(() => state.aborted === 1);
    expect(logger.errors).toEqual([]);
  });

  it("a producer that throws mid-stream: the SDK reports the safe errorText, after the text before it", async () => {
    const failing = (error: unknown) =>
      async function* (): AsyncGenerator<string> {
        yield "partial ";
        yield "answer";
        throw error;
      };
    const logger = recordingLogger();
    const app = new App({ logger });
    app.post("/exposed", () => uiMessageStream(failing(new HttpError(400, "context window exceeded"))()));
    app.post("/hidden", () => uiMessageStream(failing(new Error("secret upstream token abc123"))()));
    const { url } = await start(app);
    for (const [path, errorText, logged] of [
      ["/exposed", "context window exceeded", 0],
      ["/hidden", "Internal Server Error", 1],
    ] as const) {
      const { message, errors } = await assemble(await send(new DefaultChatTransport<UIMessage>({ api: `${url}${path}` })));
      expect(textOf(message)).toBe("partial answer");
      expect(errors.map((error) => error.message)).toEqual([errorText]);
      expect(logger.errors.length).toBe(logged);
    }
    const raw = await (await fetch(`${url}/hidden`, { method: "POST" })).text();
    expect(raw.trimEnd().split("\n\n").slice(-3)).toEqual([
      'data: {"type":"text-end","id":"text-1"}',
      'data: {"type":"error","errorText":"Internal Server Error"}',
      "data: [DONE]",
    ]);
  });

  it("a delta that is neither a string nor a chunk, and a start or finish chunk, fail the stream, logged", async () => {
    for (const bad of [42, { type: 7 }, { type: "finish" }, ["array"]]) {
      const { transport, logger } = await chatServer(() => ["ok ", bad]);
      const { message, errors } = await assemble(await send(transport));
      expect(textOf(message)).toBe("ok ");
      expect(errors.map((error) => error.message)).toEqual(["Internal Server Error"]);
      expect(logger.errors.map(([text, err]) => [text, (err as Error).name])).toEqual([["SSE producer failed", "TypeError"]]);
    }
  });

  it("refuses a source that is not iterable and options that are not an object where it is called", () => {
    for (const source of [undefined, 42, "text", {}]) expect(() => uiMessageStream(source as never)).toThrow(CelloError);
    expect(() => uiMessageStream([], null as never)).toThrow(/takes options/);
  });
});
