/**
 * How error messages show a value the caller passed by mistake, so that
 * `"401"` is not mistaken for `401` and an object says what it is. Shared by
 * every argument check that builds a CelloError message.
 */

/** True for `{}`-style objects (prototype Object.prototype or null), not class instances, arrays or Maps. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A short description of `value` for an error message: strings quoted,
 * numbers as written, objects by kind (never their content, which may be large or secret).
 *
 * @example describeValue("401") // '"401"'
 * @example describeValue({ value: 1 }) // "an object"
 * @example describeValue(new Map()) // "a Map"
 */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  if (Array.isArray(value)) return "an array";
  if (isPlainObject(value)) return "an object";
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  return name ? `a ${name}` : "an object";
}
