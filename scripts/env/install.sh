#!/usr/bin/env bash
# Installs what the integration tests run against, once; later runs find everything cached and return in a second.
#   Debian: bind9 (named, nsupdate, dig), haproxy, openssl; lego, certbot + its RFC 2136 plugin (benchmark peers);
#           docker.io (the image test's engine) and mmdebstrap (its base image); openssh-server and ssh-keygen
#           (the SFTP target's sshd); chromium and fonts-dejavu-core (the dashboard's browser test and its screenshot)
#   npm registry: Node 24 and Node 22 with npm (the base image; the packaging test runs the tarball on both)
#   Go module proxy: consul (built from source), pebble and pebble-challtestsrv
#   PyPI: moto[server] in a venv
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
mkdir -p "$BIN_DIR"
exec 9>"$WHISPER_TS_CACHE/.install.lock"
flock 9

install_debian() {
  local missing=()
  command -v /usr/sbin/named >/dev/null 2>&1 || missing+=(bind9)
  command -v nsupdate >/dev/null 2>&1 || missing+=(bind9-dnsutils)
  command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  command -v lego >/dev/null 2>&1 || missing+=(lego)
  command -v certbot >/dev/null 2>&1 || missing+=(certbot)
  dpkg -s python3-certbot-dns-rfc2136 >/dev/null 2>&1 || missing+=(python3-certbot-dns-rfc2136)
  [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  command -v flock >/dev/null 2>&1 || missing+=(util-linux)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build_consul() {
  if [ -x "$BIN_DIR/consul" ] && "$BIN_DIR/consul" version >/dev/null 2>&1; then return; fi
  local v dir src
  for v in $CONSUL_VERSIONS; do
    log "consul $v: downloading from the Go module proxy"
    if ! dir=$(go mod download -json "github.com/hashicorp/consul@$v" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Dir","")) if not d.get("Error") else sys.exit(d["Error"])'); then
      log "consul $v is not available, trying the next version"
      continue
    fi
    if ! grep -q 'Mozilla Public License' "$dir/LICENSE"; then log "consul $v is not MPL-2.0, skipped"; continue; fi
    src=$WHISPER_TS_CACHE/build/consul-$v
    rm -rf "$src"; mkdir -p "$(dirname "$src")"; cp -r "$dir" "$src"; chmod -R u+w "$src"
    # The module zip lacks the sub-module folders its replace lines point at: take them from the proxy instead.
    for m in api sdk envoyextensions proto-public troubleshoot; do
      (cd "$src" && go mod edit -dropreplace="github.com/hashicorp/consul/$m")
    done
    log "consul $v: building (a few minutes the first time)"
    (cd "$src" && GOFLAGS=-mod=mod GONOSUMDB=github.com/hashicorp/consul CGO_ENABLED=0 \
      go build -trimpath -ldflags=-checklinkname=0 -o "$BIN_DIR/consul.tmp" .)
    mv "$BIN_DIR/consul.tmp" "$BIN_DIR/consul"
    rm -rf "$src"
    "$BIN_DIR/consul" version | head -n 1 >&2
    return
  done
  log "no Consul version could be built"; exit 1
}

install_pebble() {
  local stamp=$BIN_DIR/.pebble-$PEBBLE_VERSION
  if [ -f "$stamp" ] && [ -x "$BIN_DIR/pebble" ] && [ -x "$BIN_DIR/pebble-challtestsrv" ]; then return; fi
  log "pebble $PEBBLE_VERSION: go install"
  GOBIN=$BIN_DIR go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" \
    "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION"
  touch "$stamp"
}

install_moto() {
  local stamp=$VENV_DIR/.moto-$MOTO_VERSION
  if [ -f "$stamp" ] && [ -x "$VENV_DIR/bin/moto_server" ]; then return; fi
  log "moto $MOTO_VERSION: pip install into a venv"
  rm -rf "$VENV_DIR"
  python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$stamp"
}

install_node() {
  node_dist "$NODE_VERSION" >/dev/null
  node_dist "$NODE22_VERSION" >/dev/null
}

install_debian
install_node
"$here/base-image.sh" >/dev/null
build_consul
install_pebble
install_moto
log "ready in $WHISPER_TS_CACHE"
