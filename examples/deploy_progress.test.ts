import type { App } from "@cellojs/core";
import { TestClient } from "@cellojs/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readStreamUntil, startDemo, waitFor } from "./browser/support.js";
import { createDeployApp, DEPLOY_STEPS } from "./deploy_progress.js";

let app: App;
let client: TestClient;
beforeAll(async () => {
  app = createDeployApp({ stepMs: 15, keepMs: 2500 });
  client = await TestClient.start(app);
});
afterAll(async () => {
  await client.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function startDeploy(json?: unknown): Promise<string> {
  const res = await client.post("/deploy", json === undefined ? {} : { json });
  expect(res.status).toBe(201);
  return res.json.deploy_id as string;
}

const progressFrames = (from = 1) =>
  DEPLOY_STEPS.slice(from - 1)
    .map(({ percent, step }, i) => `id: ${from + i}\nevent: progress\ndata: {"percent":${percent},"step":"${step}"}\n\n`)
    .join("");

describe("examples/deploy_progress.ts", () => {
  it("GET / is the page with a progress bar, loading nothing from outside", async () => {
    const res = await client.get("/");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.text).toContain('role="progressbar"');
    expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
  });

  it("POST /deploy answers 201 with {deploy_id} and a Location", async () => {
    const res = await client.post("/deploy");
    expect(res.status).toBe(201);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(Object.keys(res.json)).toEqual(["deploy_id"]);
    expect(res.json.deploy_id).toMatch(UUID);
    expect(res.headers.location).toBe(`/deploy/${res.json.deploy_id}`);
  });

  it("/deploy/{id}/progress streams every step, then done, then the server ends it", async () => {
    const id = await startDeploy();
    const res = await client.sse(`/deploy/${id}/progress`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(res.raw).toBe(": ok\n\n" + progressFrames() + `id: 9\nevent: done\ndata: {"deploy_id":"${id}","status":"succeeded"}\n\n`);
    expect(res.endedBy).toBe("server-closed");
  });

  it("a client joining after the deploy finished gets the whole history; Last-Event-ID resumes after it", async () => {
    const id = await startDeploy();
    await waitFor(async () => (await client.get(`/deploy/${id}`)).json.status === "succeeded", "the deploy to finish");
    const late = await client.sse(`/deploy/${id}/progress`);
    expect(late.events.map((e) => e.event)).toEqual([...Array(8).fill("progress"), "done"]);
    const resumed = await client.sse(`/deploy/${id}/progress`, { lastEventId: "5" });
    expect(resumed.raw).toBe(": ok\n\n" + progressFrames(6) + `id: 9\nevent: done\ndata: {"deploy_id":"${id}","status":"succeeded"}\n\n`);
    const viaQuery = await client.sse(`/deploy/${id}/progress?lastEventId=8`);
    expect(viaQuery.events.map((e) => [e.id, e.event])).toEqual([["9", "done"]]);
  });

  it("GET /deploy/{id} reports the service, status and step", async () => {
    const id = await startDeploy({ service: "api" });
    const running = await client.get(`/deploy/${id}`);
    expect(running.status).toBe(200);
    expect(running.json).toMatchObject({ deploy_id: id, service: "api" });
    await waitFor(async () => (await client.get(`/deploy/${id}`)).json.status === "succeeded", "the deploy to finish");
    expect((await client.get(`/deploy/${id}`)).json).toEqual({ deploy_id: id, service: "api", status: "succeeded", percent: 100, step: "Deployed" });
  });

  it("rejects a bad body with 400 JSON", async () => {
    const badService = await client.post("/deploy", { json: { service: "No Spaces!" } });
    expect(badService.status).toBe(400);
    expect(badService.json).toEqual({ error: 'service must be 1-40 lower-case letters, digits or "-"', status: 400 });
    const badJson = await client.post("/deploy", { body: "{nope", headers: { "content-type": "application/json" } });
    expect(badJson.status).toBe(400);
    expect(badJson.json.status).toBe(400);
  });

  it("an unknown deploy id is a 404 JSON, for the status and the stream", async () => {
    for (const path of ["/deploy/nope", "/deploy/nope/progress"]) {
      const res = await client.get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.json).toEqual({ error: 'Unknown deploy "nope"', status: 404 });
    }
  });

  it("forgets a finished deploy after keepMs", async () => {
    const id = await startDeploy();
    await waitFor(async () => (await client.get(`/deploy/${id}`)).status === 404, "the deploy to be forgotten", 8000);
  });

  it("starts with `npx tsx examples/deploy_progress.ts`", async () => {
    const demo = await startDemo("deploy_progress.ts", { DEPLOY_STEP_MS: "10" });
    try {
      const res = await fetch(`${demo.url}/deploy`, { method: "POST" });
      expect(res.status).toBe(201);
      const { deploy_id } = (await res.json()) as { deploy_id: string };
      const text = await readStreamUntil(`${demo.url}/deploy/${deploy_id}/progress`, (t) => t.includes("event: done"));
      expect(text).toContain('event: progress\ndata: {"percent":100,"step":"Deployed"}\n\n');
      // --port 0 listens on a random port: the demo prints that address and no other.
      expect(demo.printedOrigins()).toEqual([demo.url]);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
  }, 30_000);
});
