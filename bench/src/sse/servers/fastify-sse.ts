/**
 * Fastify 5 with @fastify/sse: one SSE context per client kept in a Set;
 * `reply.sse.send` per event per client. Its API has no way to send a tick's
 * events as one chunk: `send` frames a string as `data:` lines, and a stream or
 * async iterable is written one message at a time, so this is its best
 * broadcast setup (writing to `reply.raw` would bypass the plugin).
 */
import { fastifySSE } from "@fastify/sse";
import Fastify from "fastify";
import type { AddressInfo } from "node:net";
import { EVENT_NAME, HOST, serveSse } from "./serve.js";

type SseContext = NonNullable<import("fastify").FastifyReply["sse"]>;

const app = Fastify({ logger: false });
await app.register(fastifySSE);
const contexts = new Set<SseContext>();
const ignore = () => {};

// The data is already JSON text: pass it through instead of JSON-encoding it again.
app.get("/sse", { sse: { kind: "only", serializer: (data: unknown) => String(data) } }, async (_request, reply) => {
  const sse = reply.sse!;
  sse.keepAlive();
  sse.sendHeaders();
  // @fastify/sse commits the head lazily; flush it so the client sees the stream open now.
  reply.raw.flushHeaders();
  contexts.add(sse);
  sse.onClose(() => contexts.delete(sse));
});

await serveSse({
  listen: async () => {
    await app.listen({ host: HOST, port: 0 });
    return (app.server.address() as AddressInfo).port;
  },
  clients: () => contexts.size,
  publish: (events) => {
    for (const event of events) {
      for (const sse of contexts) sse.send({ event: EVENT_NAME, data: event.data }).catch(ignore);
    }
  },
});
