#!/usr/bin/env node
/** The `cello-client` command (package.json `bin`): see generate/cli.ts. */
import { main } from "./generate/cli.js";

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
