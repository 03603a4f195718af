#!/usr/bin/env bash
# The one test command: installs what is missing (cached), lints, then runs every unit and integration test.
# Extra arguments go to vitest (e.g. a file filter). Every server a test run starts is stopped at the end,
# also after a failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env/lib.sh

scripts/env/node-deps.sh
scripts/env/install.sh

export WHISPER_TS_RUN_ID="run-$$-$(date +%s)"
# The AWS SDK warns once per process that its 2027 releases need Node 22; the lock file pins a release that runs on 20.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
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
