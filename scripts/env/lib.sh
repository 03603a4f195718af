# Shared settings of the environment scripts. Sourced, not run.
# The cache lives outside the checkout so a clean checkout (CI) still finds it on the same machine.
WHISPER_TS_CACHE=${WHISPER_TS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/whisper-ts}
BIN_DIR=$WHISPER_TS_CACHE/bin
VENV_DIR=$WHISPER_TS_CACHE/venv
# Consul: the last MPL-2.0 release is 1.16.4; the Go module proxy here refuses its zip, so 1.16.3 (MPL-2.0 too) is the fallback.
CONSUL_VERSIONS=${CONSUL_VERSIONS:-"v1.16.4 v1.16.3"}
PEBBLE_VERSION=${PEBBLE_VERSION:-v2.10.1}
MOTO_VERSION=${MOTO_VERSION:-5.2.5}
export WHISPER_TS_CACHE

log() { printf '[env] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

here_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here_lib/node.sh"
export NODE_VERSION NODE22_VERSION
