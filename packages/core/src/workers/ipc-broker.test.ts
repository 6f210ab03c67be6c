// The ChannelBroker conformance suite on the IPC broker, over a real IPC channel: the
// memory broker lives in another process (forked with an IPC channel, as a cluster primary
// holds it), and this test process talks to it the way a worker does.
import { fork, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runBrokerConformance } from "@cellojs/testing/conformance";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CelloError } from "../errors.js";
import { ipcBroker } from "./ipc-broker.js";

const here = dirname(fileURLToPath(import.meta.url));
let primary: ChildProcess;

async function startPrimary(): Promise<ChildProcess> {
  const child = fork(join(here, "../fixtures/broker-primary.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`the broker process exited with ${code}`)));
  });
  return child;
}

beforeAll(async () => {
  primary = await startPrimary();
});
afterAll(() => {
  primary.kill();
});

runBrokerConformance(() => ipcBroker(primary), { name: "ipcBroker (memory broker in another process)" });

describe("ipcBroker", () => {
  it("shares one numbering between two brokers talking to the same process, each delivering to its own subscribers once", async () => {
    const [a, b] = [ipcBroker(primary), ipcBroker(primary)];
    const name = `shared-${Math.random().toString(36).slice(2)}`;
    const seen: string[] = [];
    const stop = b.subscribe(name, (m) => seen.push(`${m.id}:${m.data}`));
    await b.lastId(name); // the subscription is in place at the other end
    expect(await a.publish(name, { data: "x" })).toBe("1");
    expect(await a.publish(name, { data: "y" })).toBe("2");
    expect((await b.replay(name, "")).events.map((m) => m.data)).toEqual(["x", "y"]);
    expect(seen).toEqual(["1:x", "2:y"]);
    stop();
    await Promise.all([a.close(), b.close()]);
  });

  it("reports disconnected and rejects with CELLO_BROKER_UNAVAILABLE once the other process is gone, and after close()", async () => {
    const lonely = await startPrimary();
    const broker = ipcBroker(lonely);
    expect(await broker.publish("c", { data: "1" })).toBe("1");
    expect(broker.status!()).toEqual({ connected: true });
    await new Promise((resolve) => {
      lonely.once("exit", resolve);
      lonely.kill("SIGKILL");
    });
    expect(broker.status!()).toEqual({ connected: false }); // what a readiness check reads
    const error = await broker.publish("c", { data: "2" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CelloError);
    expect((error as CelloError).code).toBe("CELLO_BROKER_UNAVAILABLE");
    await broker.close();
    expect(((await broker.lastId("c").catch((e: unknown) => e)) as CelloError).code).toBe("CELLO_BROKER_UNAVAILABLE");
  });
});
