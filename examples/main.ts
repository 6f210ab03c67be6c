/** Helpers shared by the examples. */
import { pathToFileURL } from "node:url";

/** True when `moduleUrl` is the script node/tsx was started with (not imported by a test). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && moduleUrl === pathToFileURL(entry).href;
}
