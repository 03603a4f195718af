#!/bin/sh
# The image's entrypoint. whisper-ts reads whisper's environment itself (CONSUL, DEBUG="-d", STAGING="-s",
# ACME_REGISTER_EMAIL, WHISPER_CERT_FOLDER=/app/certs); this script only finds the AWS credentials file.
# whisper ran as root and its users mount ~/.aws/credentials at /root/.aws/credentials; whisper-ts runs as
# `node`, whose ~ is /home/node, so that path is used when nothing else names a credentials file.
# WHISPER_LEGACY_AWS_CREDENTIALS moves the legacy path (the packaging test cannot write to /root).
set -eu

legacy="${WHISPER_LEGACY_AWS_CREDENTIALS:-/root/.aws/credentials}"
if [ -z "${AWS_SHARED_CREDENTIALS_FILE:-}" ] && [ ! -e "${HOME:-/home/node}/.aws/credentials" ]; then
  if [ -r "$legacy" ]; then
    export AWS_SHARED_CREDENTIALS_FILE="$legacy"
    echo "whisper-ts entrypoint: AWS credentials file $legacy" >&2
  elif [ -e "$legacy" ]; then
    echo "whisper-ts entrypoint: $legacy is mounted but uid $(id -u) cannot read it (make it readable to that uid, or run with --user)" >&2
  fi
fi

exec node "$(dirname "$0")/../dist/bin.js" "$@"
