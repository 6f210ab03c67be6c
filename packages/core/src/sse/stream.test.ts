import { describe, expect, it, vi } from "vitest";
import { SseEvent } from "./event.js";
import { kAttach, type SseSink } from "./source.js";
import { SseStream } from "./stream.js";

function sink(): SseSink & { frames: string[]; ended: boolean } {
  return {
    frames: [],
    ended: false,
    eventsDropped: 0,
    bufferLimit: 1024 * 1024,
    send(frame) {
      this.frames.push(frame);
      return true;
    },
    end() {
      this.ended = true;
    },
    writable: () => Promise.resolve(),
  };
}

describe("SseStream", () => {
  it("counts events and keeps them until attached, in order", () => {
    const stream = new SseStream();
    expect(stream.isEmpty()).toBe(true);
    stream.addData("one");
    stream.addEvent("two", "2");
    stream.add(new SseEvent("3", { id: "3" }));
    stream.addComment("not counted");
    expect(stream.len()).toBe(3);
    expect(stream.isEmpty()).toBe(false);
    const target = sink();
    stream[kAttach](target);
    expect(target.frames).toEqual(["data: one\n\n", "event: two\ndata: 2\n\n", "id: 3\ndata: 3\n\n", ": not counted\n\n"]);
    stream.addData("live");
    expect(target.frames.at(-1)).toBe("data: live\n\n");
  });

  it("close() before attach ends the response right after the queued frames", () => {
    const stream = new SseStream();
    stream.addData("x");
    stream.close();
    const target = sink();
    stream[kAttach](target);
    expect(target.frames).toEqual(["data: x\n\n"]);
    expect(target.ended).toBe(true);
  });

  it("ignores adds after close without throwing, and runs onClose once", async () => {
    const stream = new SseStream();
    const onClose = vi.fn();
    stream.onClose(onClose);
    stream.close();
    stream.close();
    expect(stream.closed).toBe(true);
    expect(stream.addData("late")).toBe(false);
    expect(stream.len()).toBe(0);
    expect(onClose).toHaveBeenCalledTimes(1);
    const late = vi.fn();
    stream.onClose(late);
    await Promise.resolve();
    expect(late).toHaveBeenCalledTimes(1);
  });

  it("refuses to be attached twice", () => {
    const stream = new SseStream();
    stream[kAttach](sink());
    expect(() => stream[kAttach](sink())).toThrow(/one handler/);
  });
});
