#!/usr/bin/env node
import { main } from './cli.js';

// Exit explicitly: after a stop, an idle keep-alive socket of a client library must not hold the process open.
process.exit(await main(process.argv.slice(2)));
