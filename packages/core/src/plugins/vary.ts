/**
 * `Vary`, added to by more than one plugin (CORS, compression): one way to do it.
 */
import type { Response } from "../response.js";

/**
 * Add `field` to the response's `Vary` list, unless it (or `*`) is there already.
 * @example appendVary(response, "Accept-Encoding") // Vary: Origin, Accept-Encoding
 */
export function appendVary(response: Response, field: string): void {
  const current = response.getHeader("vary");
  const list = current === undefined ? [] : String(current).split(",").map((s) => s.trim()).filter(Boolean);
  if (list.some((f) => f === "*" || f.toLowerCase() === field.toLowerCase())) return;
  list.push(field);
  response.setHeader("Vary", list.join(", "));
}
