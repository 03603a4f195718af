#!/usr/bin/env bash
# The one test command: installs what is missing (cached), lints, then runs every unit and integration test.
# Extra arguments go to vitest (e.g. a file filter). Every server a test run starts is stopped at the end,
# also after a failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env/lib.sh

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.whisper-ts-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
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
npx vitest run "$@"
