/**
 * ChannelTail, the resume served from the channel on an instance without the
 * session: history then live, each event once, ending after the response.
 */
import { memoryBroker, type SseEvent } from "@cellojs/core";
import { expect, test } from "vitest";
import { ChannelTail } from "./remote-resume.js";

const rpc = (progress: number) => JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress } });

async function collect(tail: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  for await (const event of tail) events.push(event);
  return events;
}

test("events published between subscribing and reading the history come once; the response ends a request stream", async () => {
  const broker = memoryBroker();
  const channel = "mcp:s:stream-1";
  await broker.publish(channel, { data: "{}" }); // the SDK's priming event: id 1, nothing to deliver
  await broker.publish(channel, { data: rpc(1) }); // id 2: the client has it
  const tail = new ChannelTail(broker, channel, "stream-1", "2");
  // Published after the tail subscribed and before it read the history: in both, delivered once.
  await broker.publish(channel, { data: rpc(2) });
  await broker.publish(channel, { data: rpc(3) });
  const events = collect(tail);
  await new Promise((resolve) => setTimeout(resolve, 20));
  await broker.publish(channel, { data: rpc(4) });
  await broker.publish(channel, { data: JSON.stringify({ jsonrpc: "2.0", id: 7, result: { content: [] } }) });
  await broker.publish(channel, { data: rpc(5) }); // after the response: not this stream's business
  const got = await events;
  expect(got.map((event) => event.id)).toEqual(["stream-1:3", "stream-1:4", "stream-1:5", "stream-1:6"]);
  expect(got.map((event) => event.event)).toEqual(["message", "message", "message", "message"]);
  expect(got.map((event) => JSON.parse(event.data).params?.progress ?? "result")).toEqual([2, 3, 4, "result"]);
});

test("the standalone stream does not end at a message with an id; return() ends it", async () => {
  const broker = memoryBroker();
  const tail = new ChannelTail(broker, "mcp:s:_GET_stream", "_GET_stream", "0");
  await broker.publish("mcp:s:_GET_stream", { data: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "sampling/createMessage", params: {} }) });
  const first = await tail.next();
  expect(first.done).toBe(false);
  const pending = tail.next();
  await tail.return();
  expect((await pending).done).toBe(true);
});

test("a client that stalls while thousands of events arrive holds a bounded queue, and still gets each event once, in order", async () => {
  const inner = memoryBroker();
  let replays = 0;
  const broker = { ...inner, replay: (...args: Parameters<typeof inner.replay>) => (replays++, inner.replay(...args)) };
  const channel = "mcp:s:stream-1";
  const count = 5000;
  inner.configure(channel, { history: count + 10, ttlMs: 0 });
  const tail = new ChannelTail(broker, channel, "stream-1", "0");
  await inner.publish(channel, { data: rpc(1) });
  const first = await tail.next(); // the tail has replayed the (empty) history and is live
  expect(first.done).toBe(false);
  replays = 0;
  // Nobody reads while these arrive: past the bound the live queue is dropped, and the history read again.
  for (let i = 2; i <= count; i++) await inner.publish(channel, { data: rpc(i) });
  await inner.publish(channel, { data: JSON.stringify({ jsonrpc: "2.0", id: 7, result: { content: [] } }) });
  const rest = await collect(tail);
  expect(replays).toBeGreaterThan(0);
  expect(rest.map((event) => JSON.parse(event.data).params?.progress ?? "result")).toEqual([...Array.from({ length: count - 1 }, (_, i) => i + 2), "result"]);
});
