#!/usr/bin/env bash
# The README's main-job command: installs the local servers (cached), builds whisper-ts, and runs it on an
# embedded default: local Consul, Pebble and DNS with a few sample services. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env/lib.sh
use_node
scripts/env/node-deps.sh
scripts/env/install.sh
npm run --silent build
export WHISPER_TS_RUN_ID="demo-$$-$(date +%s)"
trap 'scripts/env/reap.sh "$WHISPER_TS_RUN_ID"' EXIT
npx tsx scripts/demo.ts "$@"
