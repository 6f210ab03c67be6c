import { describe, expect, it } from "vitest";
import { SseResponseReader } from "./response-reader.js";

const events = [': ok\n\n', 'event: tick\ndata: {"t":1000.5,"i":0}\n\n', ": heartbeat\n\n", 'id: 7\nevent: tick\ndata: {"t":1001,"i":1}\n\n', 'event: tick\ndata: {"t":1002.25,"i":2}\n\n'];
const sseText = events.join("");
const EVENT_FRAMES = 3;

const identityHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
const chunkedHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

/** HTTP chunks of the given SSE texts, one per text, with chunk extensions on every other one. */
function chunked(texts: string[], last = false): string {
  let out = "";
  texts.forEach((text, index) => {
    out += `${Buffer.byteLength(text).toString(16)}${index % 2 ? ";ext=1" : ""}\r\n${text}\r\n`;
  });
  return last ? `${out}0\r\n\r\n` : out;
}

/** Feed `bytes` in pieces of `size` bytes; returns the frames counted per push, summed. */
function feed(reader: SseResponseReader, bytes: Buffer, size: number, receivedAt = 0): number {
  let total = 0;
  for (let start = 0; start < bytes.length; start += size) total += reader.push(bytes.subarray(start, start + size), receivedAt);
  return total;
}

describe("SseResponseReader", () => {
  it("reads a connection-delimited body: status, event frames (not comments), however the bytes are split", () => {
    const bytes = Buffer.from(identityHead + sseText);
    for (let size = 1; size <= bytes.length; size++) {
      const reader = new SseResponseReader();
      expect(feed(reader, bytes, size), `pieces of ${size} bytes`).toBe(EVENT_FRAMES);
      expect(reader.count).toBe(EVENT_FRAMES);
      expect(reader.status).toBe(200);
      expect(reader.chunked).toBe(false);
      expect(reader.error).toBeUndefined();
    }
  });

  it("de-chunks a chunked body, however the bytes are split (size lines, data, CRLFs, the head's end)", () => {
    // One HTTP chunk per SSE piece, and one HTTP chunk that carries several events at once.
    const bytes = Buffer.from(chunkedHead + chunked([...events.slice(0, 2), events.slice(2).join("")]));
    for (let size = 1; size <= bytes.length; size++) {
      const reader = new SseResponseReader();
      expect(feed(reader, bytes, size), `pieces of ${size} bytes`).toBe(EVENT_FRAMES);
      expect(reader.chunked).toBe(true);
      expect(reader.error).toBeUndefined();
      expect(reader.done).toBe(false);
    }
  });

  it("counts a frame whose blank-line terminator is split across two HTTP chunks once, and not before it is complete", () => {
    const reader = new SseResponseReader();
    expect(reader.push(Buffer.from(chunkedHead + chunked(["event: tick\ndata: a\n"])))).toBe(0);
    // Chunk framing bytes (CRLF, size line) sit between the two LFs on the wire.
    expect(reader.push(Buffer.from(chunked(["\nevent: tick\ndata: b\n\n"])))).toBe(2);
    expect(reader.count).toBe(2);
  });

  it("reads publish timestamps through the chunk framing when given a sample array", () => {
    const bytes = Buffer.from(chunkedHead + chunked(events));
    for (const size of [1, 7, bytes.length]) {
      const samples: number[] = [];
      const reader = new SseResponseReader(samples);
      feed(reader, bytes, size, 1010);
      expect(samples, `pieces of ${size} bytes`).toEqual([9.5, 9, 7.75]);
    }
  });

  it("stops at the last chunk (the server ended the stream)", () => {
    const reader = new SseResponseReader();
    expect(reader.push(Buffer.from(chunkedHead + chunked([events[1]!], true)))).toBe(1);
    expect(reader.done).toBe(true);
    expect(reader.push(Buffer.from(chunked([events[1]!])))).toBe(0);
  });

  it("reports the status of a non-200 answer and counts nothing from a non-SSE body", () => {
    const reader = new SseResponseReader();
    reader.push(Buffer.from("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"));
    expect(reader.headComplete).toBe(true);
    expect(reader.status).toBe(404);
  });

  it("gives up with a reason on a malformed head or chunk size, and counts nothing after", () => {
    const notHttp = new SseResponseReader();
    notHttp.push(Buffer.from("SSH-2.0-OpenSSH\r\n\r\nevent: tick\ndata: x\n\n"));
    expect(notHttp.error).toMatch(/not an HTTP\/1.x response/);
    expect(notHttp.count).toBe(0);

    const badSize = new SseResponseReader();
    expect(badSize.push(Buffer.from(`${chunkedHead}zz\r\nevent: tick\ndata: x\n\n\r\n`))).toBe(0);
    expect(badSize.error).toMatch(/bad chunk size/);
    expect(badSize.done).toBe(true);

    const noCrlf = new SseResponseReader();
    noCrlf.push(Buffer.from(`${chunkedHead}2\r\n:\nXX`));
    expect(noCrlf.error).toMatch(/not followed by CRLF/);

    const endless = new SseResponseReader();
    endless.push(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(20_000)}`));
    expect(endless.error).toMatch(/head longer than/);
  });

  it("starts counting afresh when count is reset", () => {
    const reader = new SseResponseReader();
    reader.push(Buffer.from(identityHead + sseText));
    reader.count = 0;
    expect(reader.push(Buffer.from(events[1]!))).toBe(1);
    expect(reader.count).toBe(1);
  });
});
