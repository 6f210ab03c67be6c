import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserAndApp, describeBrowser, screenshot, startDemo, waitFor } from "./browser/support.js";
import { createChatApp, FakeModel } from "./llm_chat.js";

describe("examples/llm_chat.ts over HTTP", () => {
  const model = new FakeModel(5);
  let client: TestClient;
  let cookie: string;
  beforeAll(async () => {
    client = await TestClient.start(createChatApp({ model }));
    const page = await client.get("/");
    cookie = page.headers["set-cookie"]!.split(";")[0]!;
  });
  afterAll(async () => {
    await client.close();
  });

  it("GET / is the page, loading nothing from outside, and starts a session", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(res.headers["set-cookie"]).toMatch(/^chat_session=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect((await client.get("/", { headers: { cookie } })).headers["set-cookie"]).toBeUndefined();
  });

  it("POST /chat streams the answer token by token, then an end event", async () => {
    const res = await client.sse("/chat", { method: "POST", headers: { cookie, "content-type": "application/json" }, body: JSON.stringify({ prompt: "why <b>?" }), timeoutMs: 10_000 });
    expect(res.status).toBe(200);
    const id = res.headers["cello-stream-id"]!;
    expect(res.events.at(-1)).toMatchObject({ event: "end", data: '{"reason":"done"}' });
    const tokens = res.events.filter((e) => e.event === "message");
    expect(tokens.map((e) => e.data).join("")).toBe(model.answer("why <b>?"));
    expect(tokens.every((e, i) => e.id.startsWith(`${id}.`) && (i === 0 || e.id !== tokens[i - 1]!.id))).toBe(true);
  });

  it("another session, or none, cannot read or stop a stream", async () => {
    const res = await client.sse("/chat", { method: "POST", headers: { cookie, "content-type": "application/json" }, body: '{"prompt":"mine"}', timeoutMs: 10_000 });
    const id = res.headers["cello-stream-id"]!;
    const other = `chat_session=${"B".repeat(22)}`;
    expect((await client.get(`/chat/streams/${id}`, { headers: { cookie: other } })).status).toBe(404);
    expect((await client.delete(`/chat/streams/${id}`, { headers: { cookie: other } })).status).toBe(404);
    expect((await client.get(`/chat/streams/${id}`)).status).toBe(403);
    expect((await client.get(`/chat/streams/${id}`, { headers: { cookie } })).status).toBe(200);
  });

  it("rejects a bad prompt with 400", async () => {
    for (const body of ['{"prompt":""}', '{"prompt":42}', "{}", JSON.stringify({ prompt: "x".repeat(2001) })]) {
      const res = await client.post("/chat", { headers: { cookie, "content-type": "application/json" }, body });
      expect(res.status, body).toBe(400);
    }
  });

  it("starts with `npx tsx examples/llm_chat.ts`", async () => {
    const demo = await startDemo("llm_chat.ts", { LLM_TOKEN_MS: "1" });
    try {
      const page = await fetch(demo.url);
      const sessionCookie = page.headers.get("set-cookie")!.split(";")[0]!;
      const res = await fetch(`${demo.url}/chat`, { method: "POST", headers: { cookie: sessionCookie, "content-type": "application/json" }, body: '{"prompt":"hi"}' });
      expect(res.status).toBe(200);
      const id = res.headers.get("cello-stream-id")!;
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const text = await res.text();
      expect(text).toContain('event: end\ndata: {"reason":"done"}');
      // Read again by its id, as a reloaded page does: the same bytes.
      const again = await fetch(`${demo.url}/chat/streams/${id}`, { headers: { cookie: sessionCookie } });
      expect(await again.text()).toBe(text);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});

describeBrowser("the LLM chat page in Chromium", () => {
  const model = new FakeModel(60);
  const env = browserAndApp(() => createChatApp({ model }));

  it("streams the answer, and a reload mid-answer shows the whole answer exactly once", async () => {
    const { page, errors } = await env.browser.newPage();
    await page.goto(env.url);
    await page.fill("#prompt", "tell me about <script>alert(1)</script>");
    await page.click("#send");
    await page.waitForFunction(() => Number(document.getElementById("tokens")?.textContent) >= 5, undefined, { timeout: 10_000 });
    expect(await page.textContent("#status")).toBe("streaming");
    await page.reload();
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "done", undefined, { timeout: 20_000 });
    const prompt = "tell me about <script>alert(1)</script>";
    expect(await page.textContent("#answer")).toBe(model.answer(prompt));
    expect(Number(await page.textContent("#tokens"))).toBe(model.tokens(prompt).length);
    // One model run, never restarted by the reload, never cancelled.
    expect(model.runs.map((r) => [r.prompt, r.finished, r.cancelled])).toEqual([[prompt, true, false]]);
    await screenshot(page, "llm-chat");
    expect(errors).toEqual([]);
  });

  it("Stop cancels the model: it stops generating, and the page says stopped", async () => {
    const { page, errors } = await env.browser.newPage();
    await page.goto(env.url);
    await page.fill("#prompt", "a long one");
    await page.click("#send");
    await page.waitForFunction(() => Number(document.getElementById("tokens")?.textContent) >= 3, undefined, { timeout: 10_000 });
    await page.click("#stop");
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "stopped", undefined, { timeout: 10_000 });
    const run = await waitFor(() => model.runs.find((r) => r.prompt === "a long one" && r.cancelled), "the model to see the cancel");
    expect(run.finished).toBe(false);
    const answer = (await page.textContent("#answer"))!;
    expect(model.answer("a long one").startsWith(answer)).toBe(true);
    expect(answer.length).toBeLessThan(model.answer("a long one").length);
    expect(await page.isEnabled("#send")).toBe(true);
    expect(errors).toEqual([]);
  });
});
