#!/usr/bin/env node
// @ts-check
// Plain ESM JavaScript so `npx create-app` runs on a bare Node 20.19+, with no build step and no tsx.
import { main } from "../src/cli.js";

process.exitCode = await main(process.argv.slice(2));
