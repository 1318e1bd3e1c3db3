#!/usr/bin/env node
/** Entry point of the `agent` binary. */
import { main } from './program.js';

await main(process.argv);
