/**
 * LLM chat: a page that streams a model's answer token by token, with a Stop
 * button and an answer that survives a page reload.
 *
 * The model is a local fake (an async generator with a delay per token, no
 * network): swap `FakeModel.stream` for a real client and pass it the signal.
 * Each answer is a resumable stream (`ResumableStreams`): the model keeps
 * generating when the page goes away (for `graceMs`), a reloaded page reads the
 * whole answer again from `GET /chat/streams/{id}`, and Stop
 * (`DELETE /chat/streams/{id}`) aborts the model's signal. Streams belong to the
 * browser session that started them (an HttpOnly cookie): another session gets 404.
 *
 * Run:   npx tsx examples/llm_chat.ts
 * Try:   open http://127.0.0.1:8000/, ask something, reload mid-answer, or press Stop
 *        curl -N -H 'content-type: application/json' -d '{"prompt":"hi"}' http://127.0.0.1:8000/chat
 */
import { randomBytes } from "node:crypto";
import { App, HttpError, Response, ResumableStreams, type Request } from "@cellojs/core";
import { chatPage } from "./llm_chat_page.js";
import { isMain } from "./main.js";

/** What one call of {@link FakeModel.stream} did. */
export interface ModelRun {
  prompt: string;
  /** Tokens yielded so far. */
  produced: number;
  /** True once the caller aborted the signal: the model stopped generating. */
  cancelled: boolean;
  /** True once every token was yielded. */
  finished: boolean;
}

/** A stand-in for an LLM: answers with a fixed text about the prompt, one word every `tokenMs`. */
export class FakeModel {
  /** Every run, oldest first (what a test checks). */
  readonly runs: ModelRun[] = [];
  readonly #tokenMs: number;

  constructor(tokenMs = 40) {
    this.#tokenMs = tokenMs;
  }

  /** The whole answer to `prompt`, as the concatenation of its tokens. */
  answer(prompt: string): string {
    return this.tokens(prompt).join("");
  }

  /** The answer's tokens: words, each with the space after it. */
  tokens(prompt: string): string[] {
    const text =
      `You asked: "${prompt}". Here is a streamed answer from a local fake model. ` +
      "Each word arrives as its own server-sent event, numbered by the stream. " +
      "Reload the page and the answer comes back whole, exactly once; press Stop and the model stops generating.";
    return text.split(/(?<= )/);
  }

  /** Yield the answer's tokens with a delay each; stops (and records it) when `signal` aborts. */
  async *stream(prompt: string, signal: AbortSignal): AsyncGenerator<string> {
    const run: ModelRun = { prompt, produced: 0, cancelled: false, finished: false };
    this.runs.push(run);
    try {
      for (const token of this.tokens(prompt)) {
        await delay(this.#tokenMs, signal);
        run.produced++;
        yield token;
      }
      run.finished = true;
    } finally {
      run.cancelled = signal.aborted;
    }
  }
}

/** Resolve after `ms`, or reject with the signal's reason once it aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Options of {@link createChatApp}. */
export interface ChatAppOptions {
  /** The model. Default: a {@link FakeModel} with `LLM_TOKEN_MS` (or 40) ms per token. */
  model?: FakeModel;
  /** How long an answer keeps generating with nobody reading it. Default 30000. */
  graceMs?: number;
}

const SESSION_COOKIE = "chat_session";
const MAX_PROMPT = 2000;

/** The session key of a request: the cookie the page set, or undefined. */
function session(request: Request): string | undefined {
  const cookies = request.getHeader("cookie") ?? "";
  const match = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_-]{22})(?:;|$)`).exec(cookies);
  return match?.[1];
}

/** The chat app: `GET /` (the page), `POST /chat`, `GET` and `DELETE /chat/streams/{id}`. */
export function createChatApp(options: ChatAppOptions = {}): App {
  const model = options.model ?? new FakeModel(Number(process.env.LLM_TOKEN_MS ?? 40));
  const app = new App();
  const answers = new ResumableStreams(app, {
    graceMs: options.graceMs ?? 30_000,
    // A session's streams are its own: the cookie is the owner key (no cookie: 403 below).
    owner: session,
  });
  const requireSession = (request: Request) => {
    if (session(request) === undefined) throw new HttpError(403, "no chat session: open the page first");
  };

  app.get("/", (req) => {
    const response = Response.html(chatPage);
    if (session(req) === undefined) response.setHeader("Set-Cookie", `${SESSION_COOKIE}=${randomBytes(16).toString("base64url")}; Path=/; HttpOnly; SameSite=Strict`);
    return response;
  });

  app.post("/chat", async (req) => {
    requireSession(req);
    // A reconnect with Last-Event-ID resumes the stream instead: its body is not read.
    if (req.getHeader("last-event-id")) return answers.start(req, () => []);
    const body = (await req.json()) as { prompt?: unknown };
    const prompt = body?.prompt;
    if (typeof prompt !== "string" || prompt.trim() === "" || prompt.length > MAX_PROMPT) {
      throw new HttpError(400, `prompt must be a non-empty string of at most ${MAX_PROMPT} characters`);
    }
    return answers.start(req, (signal) => model.stream(prompt, signal));
  });

  app.get("/chat/streams/{id}", (req) => {
    requireSession(req);
    return answers.resume(req, req.params.id!);
  });

  app.delete("/chat/streams/{id}", async (req) => {
    requireSession(req);
    await answers.stop(req, req.params.id!);
    return Response.noContent();
  });

  return app;
}

/** The app `npx tsx examples/llm_chat.ts` runs. */
export const app = createChatApp();

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
