/**
 * Redis stream ids (`<ms>-<seq>`, two unsigned 64-bit integers) as SSE ids.
 * Compared as numbers without converting them: a sequence number can exceed
 * Number.MAX_SAFE_INTEGER, and BigInt on every comparison is needless work.
 */

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const U64_MAX = "18446744073709551615";

/** The smallest id: "before everything" in a stream. */
export const MIN_ID = "0-0";

/**
 * Whether `id` is a complete Redis stream id (`ms-seq`, each part within 64 bits).
 * A bare `"12"` is refused even though Redis reads it as `12-0`: no stream hands
 * out such an id, so it comes from elsewhere (e.g. the in-memory broker).
 *
 * @example isStreamId("1700000000000-0"); // true
 */
export function isStreamId(id: string): boolean {
  const match = STREAM_ID.exec(id);
  return match !== null && fitsU64(match[1]!) && fitsU64(match[2]!);
}

/**
 * Order two stream ids numerically: negative, zero or positive; NaN when either
 * is not a stream id (as the in-memory broker does for ids it did not issue).
 *
 * @example compareStreamIds("9-1", "10-0"); // negative
 */
export function compareStreamIds(a: string, b: string): number {
  const left = STREAM_ID.exec(a);
  const right = STREAM_ID.exec(b);
  if (!left || !right) return Number.NaN;
  return compareDigits(left[1]!, right[1]!) || compareDigits(left[2]!, right[2]!);
}

/** The millisecond part of a stream id. */
export function idMillis(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}

function fitsU64(digits: string): boolean {
  return compareDigits(digits, U64_MAX) <= 0;
}

function compareDigits(a: string, b: string): number {
  const x = stripZeros(a);
  const y = stripZeros(b);
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

function stripZeros(digits: string): string {
  let start = 0;
  while (start < digits.length - 1 && digits[start] === "0") start++;
  return digits.slice(start);
}
