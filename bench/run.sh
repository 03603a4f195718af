#!/usr/bin/env bash
# Runs every benchmark and writes the results into bench/README.md. `bench/run.sh --tiny` for a quick check.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env/lib.sh
use_node
scripts/env/node-deps.sh
scripts/env/install.sh
npm run -s build
exec npx tsx bench/run.ts "$@"
