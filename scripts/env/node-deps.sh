#!/usr/bin/env bash
# npm ci, only when package-lock.json changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."
stamp=node_modules/.whisper-ts-lock.sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
fi
