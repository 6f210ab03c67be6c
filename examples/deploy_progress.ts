/**
 * Deploy progress: a job that runs on the server and reports as it goes.
 * `POST /deploy` starts a (fake) deploy and answers 201 with its id;
 * `GET /deploy/{deploy_id}/progress` streams `progress` events, then `done`,
 * then ends. A client that joins late gets the steps it missed first; one that
 * reconnects with `Last-Event-ID` gets only the steps after it.
 *
 * Run:   npx tsx examples/deploy_progress.ts
 * Try:   open http://127.0.0.1:8000/ and press Deploy
 *        curl -X POST http://127.0.0.1:8000/deploy            -> {"deploy_id":"..."}
 *        curl -N http://127.0.0.1:8000/deploy/<deploy_id>/progress
 */
import { randomUUID } from "node:crypto";
import { App, HttpError, Response, SseEvent, SseStream } from "@cellojs/core";
import { deployPage } from "./deploy_progress_page.js";
import { isMain } from "./main.js";

/** The steps of a deploy and the percentage reached when each one starts. */
export const DEPLOY_STEPS: ReadonlyArray<{ percent: number; step: string }> = [
  { percent: 0, step: "Queued" },
  { percent: 10, step: "Checking out the code" },
  { percent: 25, step: "Installing dependencies" },
  { percent: 45, step: "Building" },
  { percent: 65, step: "Running tests" },
  { percent: 80, step: "Uploading the build" },
  { percent: 95, step: "Switching traffic" },
  { percent: 100, step: "Deployed" },
];

/** What `GET /deploy/{deploy_id}` returns. */
export interface DeployStatus {
  deploy_id: string;
  service: string;
  status: "running" | "succeeded";
  percent: number;
  step: string;
}

/** Options of {@link createDeployApp}. */
export interface DeployAppOptions {
  /** Milliseconds between two steps. Default `DEPLOY_STEP_MS` or 600. */
  stepMs?: number;
  /** How long a finished deploy stays readable. Default 10 minutes. */
  keepMs?: number;
}

interface Deploy {
  status: DeployStatus;
  /** Every event so far, numbered from 1: replayed to clients that join late or resume. */
  events: SseEvent[];
  listeners: Set<(event: SseEvent) => void>;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Build the deploy app: `GET /` (page), `POST /deploy`, `GET /deploy/{deploy_id}`,
 * `GET /deploy/{deploy_id}/progress` (SSE).
 * @param options - `stepMs` (default 600), `keepMs` (default 10 min).
 * @example
 * const app = createDeployApp({ stepMs: 50 });
 * await app.listen({ port: 0 });
 */
export function createDeployApp(options: DeployAppOptions = {}): App {
  const stepMs = options.stepMs ?? (Number(process.env.DEPLOY_STEP_MS) || 600);
  const keepMs = options.keepMs ?? 10 * 60_000;
  const deploys = new Map<string, Deploy>();
  const app = new App();
  app.enableCors();

  const emit = (deploy: Deploy, event: string, data: unknown) => {
    const frame = new SseEvent(JSON.stringify(data), { event, id: String(deploy.events.length + 1) });
    deploy.events.push(frame);
    for (const listener of deploy.listeners) listener(frame);
  };

  const start = (service: string): string => {
    const id = randomUUID();
    const deploy: Deploy = {
      status: { deploy_id: id, service, status: "running", percent: 0, step: DEPLOY_STEPS[0]!.step },
      events: [],
      listeners: new Set(),
      timer: undefined,
    };
    deploys.set(id, deploy);
    let next = 0;
    const advance = () => {
      const { percent, step } = DEPLOY_STEPS[next++]!;
      Object.assign(deploy.status, { percent, step });
      emit(deploy, "progress", { percent, step });
      if (next < DEPLOY_STEPS.length) {
        deploy.timer = setTimeout(advance, stepMs);
        return;
      }
      deploy.status.status = "succeeded";
      emit(deploy, "done", { deploy_id: id, status: "succeeded" });
      deploy.listeners.clear();
      // Keep the result readable for a while, then forget it; unref'd so it never holds the process open.
      deploy.timer = setTimeout(() => deploys.delete(id), keepMs).unref();
    };
    advance();
    return id;
  };

  const find = (id: string | undefined): Deploy => {
    const deploy = id === undefined ? undefined : deploys.get(id);
    if (!deploy) throw new HttpError(404, `Unknown deploy ${JSON.stringify(id)}`);
    return deploy;
  };

  app.onEvent("shutdown", () => {
    for (const deploy of deploys.values()) clearTimeout(deploy.timer);
  });

  app.get("/", () => Response.html(deployPage));

  app.post("/deploy", async (request) => {
    // The body is optional: `{"service": "api"}` names what is deployed.
    const text = await request.text();
    const body: unknown = text.trim() === "" ? {} : await request.json();
    const service = typeof body === "object" && body !== null && "service" in body ? body.service : "web";
    if (typeof service !== "string" || !/^[a-z0-9][a-z0-9-]{0,39}$/.test(service)) {
      throw new HttpError(400, 'service must be 1-40 lower-case letters, digits or "-"');
    }
    const id = start(service);
    return Response.created({ deploy_id: id }, `/deploy/${id}`);
  });

  app.get("/deploy/{deploy_id}", (request) => find(request.params.deploy_id).status);

  app.get("/deploy/{deploy_id}/progress", (request) => {
    const deploy = find(request.params.deploy_id);
    // Our ids are 1, 2, 3...: resume after the one the client last saw.
    const lastSeen = Math.max(0, Math.floor(Number(request.getHeader("last-event-id") ?? request.query.lastEventId ?? 0) || 0));
    const stream = new SseStream();
    for (const event of deploy.events.slice(lastSeen)) stream.add(event);
    if (deploy.status.status !== "running") {
      stream.close();
      return stream;
    }
    const listener = (event: SseEvent) => {
      stream.add(event);
      if (event.event === "done") stream.close();
    };
    deploy.listeners.add(listener);
    stream.onClose(() => deploy.listeners.delete(listener));
    return stream;
  });

  return app;
}

/** The app `npx tsx examples/deploy_progress.ts` runs. */
export const app = createDeployApp();

if (isMain(import.meta.url)) {
  app.enableLogging();
  await app.run();
}
