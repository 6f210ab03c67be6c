/**
 * `cello-client generate <url-or-file> [--out <file>]`: fetches or reads an
 * OpenAPI 3.1/3.2 document (JSON) and writes the module `generateClientTypes()`
 * makes of it, to `--out` or to standard output.
 *
 * Exit codes: 0 written, 1 the document could not be read or typed (the
 * message names the URL, file or JSON Pointer), 2 wrong usage.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateClientTypes } from "./generate.js";

const USAGE = `Usage: cello-client generate <url-or-file> [--out <file>]

Writes TypeScript types for createClient() from an OpenAPI 3.1 or 3.2 document (JSON).

  <url-or-file>   http(s):// URL of the document (e.g. http://127.0.0.1:8000/openapi.json) or a file
  -o, --out       the module to write (e.g. src/api.gen.ts); standard output when left out
  -h, --help      this text
`;

/** Runs the command with `args` (without node and the script); returns the exit code. */
export async function main(args: string[], io: { stdout: (text: string) => void; stderr: (text: string) => void }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } } });
  } catch (error) {
    io.stderr(`cello-client: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.stdout(USAGE);
    return 0;
  }
  const [command, source, ...extra] = parsed.positionals;
  if (command !== "generate" || source === undefined || extra.length > 0) {
    io.stderr(`cello-client: ${command === undefined ? "no command" : command !== "generate" ? `unknown command ${JSON.stringify(command)}` : source === undefined ? "generate needs the document's URL or file" : `unexpected argument ${JSON.stringify(extra[0])}`}\n\n${USAGE}`);
    return 2;
  }
  try {
    const document = await load(source);
    const text = await generateClientTypes(document, { source: /^https?:\/\//i.test(source) ? source : undefined });
    if (parsed.values.out === undefined) {
      io.stdout(text);
    } else {
      const out = resolve(parsed.values.out);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, text);
      io.stderr(`cello-client: wrote ${parsed.values.out}\n`);
    }
    return 0;
  } catch (error) {
    io.stderr(`cello-client: ${(error as Error).message}\n`);
    return 1;
  }
}

async function load(source: string): Promise<unknown> {
  let text: string;
  if (/^https?:\/\//i.test(source)) {
    let response: Response;
    try {
      response = await fetch(source, { headers: { accept: "application/json" } });
    } catch (cause) {
      throw new Error(`could not fetch ${source}: ${(cause as Error).message}${(cause as Error).cause ? ` (${((cause as Error).cause as Error).message})` : ""}`);
    }
    if (!response.ok) throw new Error(`could not fetch ${source}: HTTP ${response.status} ${response.statusText}`);
    text = await response.text();
  } else {
    try {
      text = await readFile(source, "utf8");
    } catch (cause) {
      throw new Error(`could not read ${source}: ${(cause as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new Error(`${source} is not JSON (${(cause as Error).message}); give the JSON form of the OpenAPI document`);
  }
}
