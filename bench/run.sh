#!/usr/bin/env bash
# Runs every benchmark and writes the results into bench/README.md. `bench/run.sh --tiny` for a quick check,
# `bench/run.sh --soak` for the soak run, `bench/run.sh --pending` for the Route53 PENDING measure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env/lib.sh
use_node
scripts/env/node-deps.sh
scripts/env/install.sh
npm run -s build
# `bench/run.sh --soak`: the soak run alone (bench/soak.ts), its figures into bench/README.md.
if [ "${1:-}" = --soak ]; then shift; exec npx tsx bench/soak.ts "$@"; fi
# `bench/run.sh --pending [--delay <s>] ...`: Route53 changes held PENDING (bench/pending.ts), its table into bench/README.md.
if [ "${1:-}" = --pending ]; then shift; exec npx tsx bench/pending.ts "$@"; fi
exec npx tsx bench/run.ts "$@"
