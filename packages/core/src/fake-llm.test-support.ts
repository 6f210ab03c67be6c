/**
 * A fake LLM HTTP server on a real socket, for cancellation tests: `POST /v1/stream`
 * answers with tokens written slowly as plain text, and counts the requests that
 * finished and those whose client (the app under test) went away mid-answer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** What a request to the fake asks for (its JSON body); every field optional. */
export interface FakeLlmRequest {
  /** How many tokens to write. Default 10 000 (far longer than any test waits). */
  tokens?: number;
  /** The pause before each token, in ms. Default 10. */
  delayMs?: number;
  /** The pause before the response head, in ms (a model still thinking). Default 0. */
  headDelayMs?: number;
}

export interface FakeLlm {
  /** `http://127.0.0.1:<port>/v1/stream` */
  readonly url: string;
  /** Requests received. */
  readonly started: number;
  /** Requests answered to the last token. */
  readonly completed: number;
  /** Requests whose client left before the last token: the upstream work a client's departure must cancel. */
  readonly cancelled: number;
  /** `performance.now()` of each cancellation, in order. */
  readonly cancelledAt: readonly number[];
  /** Resolves once `check()` holds; rejects after `timeoutMs`. */
  until(check: (llm: FakeLlm) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The token the fake writes at `index`: `"t<index> "`. */
export const fakeToken = (index: number): string => `t${index} `;

/** Start a fake LLM on port 0 of 127.0.0.1. */
export async function startFakeLlm(): Promise<FakeLlm> {
  let started = 0;
  let completed = 0;
  let cancelled = 0;
  const cancelledAt: number[] = [];
  const sockets = new Set<import("node:net").Socket>();

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    started++;
    let body = "";
    for await (const chunk of req) body += chunk;
    const ask = (body === "" ? {} : JSON.parse(body)) as FakeLlmRequest;
    const tokens = ask.tokens ?? 10_000;
    const delayMs = ask.delayMs ?? 10;
    let timer: NodeJS.Timeout | undefined;
    let gone = false;
    res.once("close", () => {
      clearTimeout(timer);
      if (res.writableFinished) return;
      gone = true;
      cancelled++;
      cancelledAt.push(performance.now());
    });
    const wait = (ms: number) => new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    if (ask.headDelayMs) await wait(ask.headDelayMs);
    if (gone) return;
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.flushHeaders();
    for (let index = 0; index < tokens; index++) {
      await wait(delayMs);
      if (gone) return;
      res.write(fakeToken(index));
    }
    res.end(() => completed++);
  };

  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/stream") {
      res.writeHead(404).end();
      return;
    }
    answer(req, res).catch(() => res.destroy());
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const llm: FakeLlm = {
    url: `http://127.0.0.1:${port}/v1/stream`,
    get started() {
      return started;
    },
    get completed() {
      return completed;
    },
    get cancelled() {
      return cancelled;
    },
    cancelledAt,
    async until(check, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check(llm)) {
        if (Date.now() > deadline) throw new Error(`fake LLM: condition not met in ${timeoutMs} ms (started ${started}, completed ${completed}, cancelled ${cancelled})`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return llm;
}
