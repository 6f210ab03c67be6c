// POST streams and cancellation by construction: a route reads the request body, calls
// an upstream (a fake LLM on a real socket) with undici's fetch and request.signal, and
// streams its tokens. Whenever the client leaves (undici abort, a raw socket destroyed,
// before or after the first token), the upstream request is cancelled promptly, every time.
import { connect as netConnect } from "node:net";
import type { ReadableStream } from "node:stream/web";
import { fetch } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect } from "@cellojs/client";
import { App } from "./app.js";
import { fakeToken, startFakeLlm, type FakeLlm, type FakeLlmRequest } from "./fake-llm.test-support.js";
import type { Request } from "./request.js";
import { SseStream } from "./sse/stream.js";
import { recordingLogger, startWithCleanup } from "./testing.js";

const start = startWithCleanup();
let llm: FakeLlm;
beforeEach(async () => {
  llm = await startFakeLlm();
});
afterEach(() => llm.close());

const ROUNDS = 20;
/** How long a cancellation may take here: generous, the machine is loaded. It is measured and printed. */
const PROMPT_MS = 5_000;

/** Ask the fake LLM for what the client's body says, passing the request's signal along. */
async function askUpstream(request: Request): Promise<ReadableStream<Uint8Array>> {
  const ask = await request.json<FakeLlmRequest>();
  const upstream = await fetch(llm.url, { method: "POST", body: JSON.stringify(ask), signal: request.signal });
  return upstream.body!;
}

/**
 * The upstream's text. Ending this generator releases the body, never cancels it: the
 * upstream request is cancelled by request.signal alone, which is what these tests prove.
 */
async function* textOf(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) yield decoder.decode(read.value, { stream: true });
  } finally {
    reader.releaseLock();
  }
}

async function relayApp() {
  const logger = recordingLogger();
  const app = new App({ logger, sse: { heartbeatMs: 0 } });
  // A generator handler: the engine pulls the upstream's text.
  app.post("/generator", async (request) => textOf(await askUpstream(request)));
  // A push stream: the handler's own loop feeds an SseStream.
  app.post("/sse-stream", async (request) => {
    const body = await askUpstream(request);
    const stream = new SseStream();
    void (async () => {
      try {
        for await (const text of textOf(body)) stream.addData(text);
      } catch {
        // The client left: request.signal aborted the upstream fetch, whose body read fails here.
      } finally {
        stream.close();
      }
    })();
    return stream;
  });
  const client = await start(app);
  return { url: client.url, port: Number(new URL(client.url).port), logger };
}

/** POST with undici's fetch, read until the first token, then abort. */
async function leaveWithUndiciAbort(url: string, ask: FakeLlmRequest, afterFirstToken = true): Promise<number> {
  const abort = new AbortController();
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ask), signal: abort.signal });
  expect(response.status).toBe(200);
  if (afterFirstToken) {
    const reader = response.body!.getReader();
    let text = "";
    const decoder = new TextDecoder();
    while (!text.includes(`data: ${fakeToken(0)}`)) {
      const read = await reader.read();
      if (read.done) throw new Error("the stream ended before the first token");
      text += decoder.decode(read.value, { stream: true });
    }
  }
  abort.abort();
  return performance.now();
}

/** POST over a raw socket; destroy it once `until` is in what came back (or at once when "" ). */
function leaveWithSocketDestroy(port: number, path: string, ask: FakeLlmRequest, until: string): Promise<number> {
  const body = JSON.stringify(ask);
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1", () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      if (until === "") {
        // Wait for the upstream call to start, then leave: the handler is still awaiting its head.
        llm.until((l) => l.started > startedBefore).then(() => {
          socket.destroy();
          resolve(performance.now());
        }, reject);
      }
    });
    const startedBefore = llm.started;
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (until !== "" && received.includes(until)) {
        socket.destroy();
        resolve(performance.now());
      }
    });
    socket.on("error", reject);
  });
}

describe("a client that leaves cancels the upstream request (request.signal -> undici fetch)", () => {
  const latencies: number[] = [];
  afterEach(() => {
    if (latencies.length > 0) console.log(`upstream cancelled ${latencies.length} times; slowest ${Math.max(...latencies).toFixed(1)} ms, median ${latencies.sort((a, b) => a - b)[latencies.length >> 1]!.toFixed(1)} ms after the client left`);
    latencies.length = 0;
  });

  for (const path of ["/generator", "/sse-stream"]) {
    for (const how of ["undici abort", "socket destroy"] as const) {
      it(`${path}, ${how} after the first token: cancelled ${ROUNDS} times out of ${ROUNDS}`, async () => {
        const { url, port, logger } = await relayApp();
        for (let round = 1; round <= ROUNDS; round++) {
          const ask: FakeLlmRequest = { delayMs: 5 };
          const leftAt = how === "undici abort" ? await leaveWithUndiciAbort(`${url}${path}`, ask) : await leaveWithSocketDestroy(port, path, ask, `data: ${fakeToken(0)}`);
          await llm.until((l) => l.cancelled === round, PROMPT_MS);
          latencies.push(llm.cancelledAt[round - 1]! - leftAt);
        }
        expect([llm.started, llm.cancelled, llm.completed]).toEqual([ROUNDS, ROUNDS, 0]);
        expect(Math.max(...latencies)).toBeLessThan(PROMPT_MS);
        expect(logger.errors).toEqual([]);
      });
    }

    it(`${path}: a client that leaves before the first token (the handler still awaits the upstream's head) cancels it`, async () => {
      const { url, port, logger } = await relayApp();
      for (let round = 1; round <= ROUNDS; round++) {
        const ask: FakeLlmRequest = { headDelayMs: 60_000 };
        const leftAt = round % 2 === 0 ? await leaveWithSocketDestroy(port, path, ask, "") : await leaveBeforeHead(`${url}${path}`, ask);
        await llm.until((l) => l.cancelled === round, PROMPT_MS);
        latencies.push(llm.cancelledAt[round - 1]! - leftAt);
      }
      expect([llm.started, llm.cancelled, llm.completed]).toEqual([ROUNDS, ROUNDS, 0]);
      // The handler's fetch rejected with the AbortError it asked for: nothing to log, nobody to answer.
      expect(logger.errors).toEqual([]);
    });
  }

  it("@cellojs/client's connect(): a POST stream with a body, stopped by its signal, cancels the upstream every time", async () => {
    const { url, logger } = await relayApp();
    for (let round = 1; round <= ROUNDS; round++) {
      const stop = new AbortController();
      const path = round % 2 === 0 ? "/generator" : "/sse-stream";
      let text = "";
      for await (const event of connect(`${url}${path}`, { method: "POST", body: JSON.stringify({ delayMs: 5 }), headers: { "content-type": "application/json" }, signal: stop.signal })) {
        text += event.data;
        if (text.includes(fakeToken(2))) stop.abort(); // ends the iteration without an error
      }
      const leftAt = performance.now();
      expect(text.startsWith(fakeToken(0) + fakeToken(1))).toBe(true);
      await llm.until((l) => l.cancelled === round, PROMPT_MS);
      latencies.push(llm.cancelledAt[round - 1]! - leftAt);
    }
    expect([llm.started, llm.cancelled, llm.completed]).toEqual([ROUNDS, ROUNDS, 0]);
    expect(logger.errors).toEqual([]);
  });

  it("a client that stays gets every token, and the upstream completes", async () => {
    const { url } = await relayApp();
    for (const path of ["/generator", "/sse-stream"]) {
      const response = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify({ tokens: 50, delayMs: 1 }) });
      const events = (await response.text()).split("\n\n").filter((block) => block.startsWith("data: ")).map((block) => block.slice(6));
      expect(events.join("")).toBe(Array.from({ length: 50 }, (_, i) => fakeToken(i)).join(""));
    }
    await llm.until((l) => l.completed === 2);
    expect(llm.cancelled).toBe(0);
  });
});

/** POST with undici's fetch and abort once the upstream call has started, before any response head. */
async function leaveBeforeHead(url: string, ask: FakeLlmRequest): Promise<number> {
  const abort = new AbortController();
  const startedBefore = llm.started;
  const pending = fetch(url, { method: "POST", body: JSON.stringify(ask), signal: abort.signal }).catch((err: unknown) => err);
  await llm.until((l) => l.started > startedBefore);
  abort.abort();
  const leftAt = performance.now();
  expect(((await pending) as Error).name).toBe("AbortError");
  return leftAt;
}
