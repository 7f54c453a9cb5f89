#!/usr/bin/env node
/** `lakesync`: the command-line client of the REST API (bin/lakesync.mjs starts it). */
import { run } from './program.js';

process.exitCode = await run(process.argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
