/**
 * Event ids: each channel numbers its events 1, 2, 3... (decimal strings), in
 * the order their transactions committed, with no gap (a rolled-back publish
 * rolls its number back too). Only `delete()` skips one number.
 */
import type { ChannelMessage } from "@cellojs/core";

const DIGITS = /^(0|[1-9][0-9]{0,15})$/;

/** The number an id stands for, or undefined when it is not one of ours (or too large to be). */
export function parseId(id: string): number | undefined {
  if (typeof id !== "string" || !DIGITS.test(id)) return undefined;
  const value = Number(id);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Order two ids of one channel: negative, zero or positive. An id that is not
 * one of ours sorts before every id that is.
 * @example
 * compareIds("9", "10"); // < 0
 */
export function compareIds(a: string, b: string): number {
  const x = parseId(a);
  const y = parseId(b);
  if (x === undefined || y === undefined) return (x === undefined ? 0 : 1) - (y === undefined ? 0 : 1);
  return x - y;
}

/** @internal A stored row as the message subscribers get: `event` and `to` only when present. */
export function toMessage(id: string, event: string | null, data: Buffer | string, audience: string | null): ChannelMessage {
  const text = typeof data === "string" ? data : data.toString("utf8");
  const message: ChannelMessage = event === null ? { id, data: text } : { id, event, data: text };
  if (audience !== null) message.to = audienceOf(audience);
  return message;
}

/** The audience, a JSON array of strings; one that does not parse as that (written by hand) shows the event to nobody, never to everybody. */
function audienceOf(text: string): readonly string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((tag) => typeof tag === "string")) return Object.freeze(parsed as string[]);
  } catch {
    // Not ours: nobody sees it.
  }
  return Object.freeze([]);
}
