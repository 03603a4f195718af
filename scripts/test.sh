#!/usr/bin/env bash
# The one test command: installs what is missing (cached), lints, then runs every unit and integration test.
# Extra arguments go to vitest (e.g. a file filter). Every server a test run starts is stopped at the end,
# also after a failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env/lib.sh

use_node
scripts/env/node-deps.sh
scripts/env/install.sh

export WHISPER_TS_RUN_ID="run-$$-$(date +%s)"
cleanup() {
  local status=$?
  scripts/env/reap.sh "$WHISPER_TS_RUN_ID"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

npm run --silent lint
npm run --silent build
npx vitest run "$@"
