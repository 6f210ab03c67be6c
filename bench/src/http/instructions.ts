/**
 * Instructions per request, counted by valgrind's callgrind: repeatable on a loaded
 * machine where CPU time is not (others' load changes a round's CPU-s, never its
 * instruction count). Not part of `pnpm bench`; run it by hand to compare two versions
 * of the hot path, or two servers:
 *
 *   npx tsx src/http/instructions.ts --systems=node-http,cello-functions --pipelining=10,1
 *
 * Each server runs under `valgrind --tool=callgrind --separate-threads=yes` (about 50x
 * slower). A raw-socket client sends `--warmup` requests (so V8 has optimized the hot
 * path), the counters are zeroed, `--requests` more are sent, and the counters dumped.
 * It prints the instructions per request of the main thread (the event loop, where
 * requests are parsed, routed and answered) and of all threads (adding V8's compiler and
 * GC threads, which vary more from run to run). Needs valgrind (Debian: `valgrind`).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "../worker.js";
import { HTTP_ROUTES, HTTP_SYSTEMS } from "./section.js";

/**
 * Send `total` GET requests for `path` over `connections` keep-alive connections, `pipelining`
 * in flight on each, counting responses by their head's end. A connection the server closes
 * (its keep-alive timeout, under valgrind's slowness) is replaced and its unanswered requests sent again.
 * @example await drive(8000, "/", 10_000, 10, 1);
 */
export function drive(port: number, path: string, total: number, connections: number, pipelining: number): Promise<void> {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    let open = 0;
    let reconnects = 0;
    const start = () => {
      open++;
      const socket = connect(port, "127.0.0.1");
      let carry = "";
      let inflight = 0;
      const fill = () => {
        let batch = 0;
        while (inflight < pipelining && sent < total) {
          sent++;
          inflight++;
          batch++;
        }
        if (batch > 0) socket.write(batch === 1 ? request : Buffer.concat(Array<Buffer>(batch).fill(request)));
        if (inflight === 0) socket.end();
      };
      socket.on("connect", fill);
      socket.on("data", (chunk: Buffer) => {
        const text = carry + chunk.toString("latin1");
        let at = 0;
        for (let end = text.indexOf("\r\n\r\n"); end !== -1; end = text.indexOf("\r\n\r\n", at)) {
          at = end + 4;
          inflight--;
          done++;
        }
        carry = text.slice(Math.max(at, text.length - 3));
        fill();
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        open--;
        if (inflight > 0) {
          sent -= inflight;
          if (++reconnects > 1000) reject(new Error("the server kept closing connections"));
          else start();
          return;
        }
        if (open === 0) {
          if (done >= total) resolve();
          else reject(new Error(`only ${done} of ${total} answered`));
        }
      });
    };
    for (let i = 0; i < connections; i++) start();
  });
}

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

/** Count one server at one depth; returns instructions per request (main thread, all threads). */
async function count(system: string, route: (typeof HTTP_ROUTES)[number], pipelining: number, warmup: number, requests: number, connections: number) {
  const dir = mkdtempSync(join(tmpdir(), "cello-callgrind-"));
  const server = await Worker.start(HTTP_SYSTEMS[system]!.script, {
    label: `server ${system} (callgrind)`,
    wrapper: ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--dump-instr=no", `--callgrind-out-file=${join(dir, "cg.%p")}`],
    readyTimeoutMs: 300_000,
  });
  try {
    await drive(server.info.port as number, route.path, warmup, connections, pipelining);
    execFileSync("callgrind_control", ["-z", String(server.pid)], { stdio: "ignore" });
    await drive(server.info.port as number, route.path, requests, connections, pipelining);
    execFileSync("callgrind_control", ["-d", String(server.pid)], { stdio: "ignore" });
    // One file per thread of the dump: `...-01` is the main thread.
    let main = 0;
    let all = 0;
    for (const file of readdirSync(dir).filter((name) => /\.1-\d+$/.test(name))) {
      const total = Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, file), "utf8"))?.[1] ?? 0);
      all += total;
      if (file.endsWith("-01")) main = total;
    }
    return { main: Math.round(main / requests), all: Math.round(all / requests) };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const systems = option("systems", "node-http,cello-functions,cello-decorators").split(",");
const depths = option("pipelining", "10,1").split(",").map(Number);
const route = HTTP_ROUTES.find((r) => r.id === option("route", "json"))!;
const warmup = Number(option("warmup", "30000"));
const requests = Number(option("requests", "10000"));
const connections = Number(option("connections", "10"));
for (const id of systems) if (!HTTP_SYSTEMS[id]) throw new Error(`unknown HTTP system ${id}`);
console.log(`| server | -p | instructions / request, main thread | all threads |\n| --- | --- | --- | --- |`);
for (const pipelining of depths) {
  for (const id of systems) {
    const { main, all } = await count(id, route, pipelining, warmup, requests, connections);
    console.log(`| ${HTTP_SYSTEMS[id]!.label} | ${pipelining} | ${main.toLocaleString("en-US")} | ${all.toLocaleString("en-US")} |`);
  }
}
process.exit(0);
