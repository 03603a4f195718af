#!/usr/bin/env bash
# Builds, once, the root filesystem of the base image the Dockerfile names (node:24-bookworm-slim) for the image
# test: no registry is reachable here, so it comes from Debian packages (mmdebstrap --variant=minbase of bookworm,
# the release the official image uses) plus Node 24 and npm from the npm registry, laid out like the official
# image (/usr/local/bin/node, npm and npx; user and group `node`, uid and gid 1000). Prints the cached tarball's
# path; test/support/docker.ts imports it into the test engine under the official name. The Dockerfile itself
# stays the one users build from the official base.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

suite=bookworm
out=$WHISPER_TS_CACHE/images/node-$NODE_VERSION-$suite-slim.tar
if [ -f "$out" ]; then printf '%s\n' "$out"; exit 0; fi

command -v mmdebstrap >/dev/null 2>&1 || { log "mmdebstrap is missing: run scripts/env/install.sh"; exit 1; }
dist=$(node_dist "$NODE_VERSION")
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$WHISPER_TS_CACHE/images/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

log "base image: mmdebstrap --variant=minbase $suite (a minute or two the first time)"
# The mirrors are named, not read from standard input (CI has none).
mmdebstrap --quiet --variant=minbase --mode=root \
  --customize-hook='chroot "$1" groupadd --gid 1000 node' \
  --customize-hook='chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node' \
  "$suite" "$root" \
  "deb http://deb.debian.org/debian $suite main" \
  "deb http://deb.debian.org/debian $suite-updates main" \
  "deb http://deb.debian.org/debian-security $suite-security main" </dev/null

log "base image: node $NODE_VERSION and npm into /usr/local"
cp -a "$dist/bin" "$dist/lib" "$dist/include" "$dist/share" "$root/usr/local/"
rm -f "$root/usr/local/.complete"
# Same as the official image: npm and npx point into lib/node_modules.
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" /usr/local/bin/node --version >/dev/null
rm -rf "$root/var/cache/apt/"*.bin "$root/var/lib/apt/lists/"*

tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$out"
log "base image: $(du -h "$out" | cut -f1) in $out"
printf '%s\n' "$out"
