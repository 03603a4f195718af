#!/bin/sh
# The image's entrypoint (run by tini). whisper-ts reads whisper's environment itself (CONSUL, DEBUG, STAGING, DOMAIN,
# KV_PATH, ACME_REGISTER_EMAIL, WHISPER_CERT_FOLDER=/app/certs). This script bridges what differs in a container:
# whisper ran as root, whisper-ts runs as `node` (uid 1000, HOME=/home/node), so
#  - whisper's mounts under /root (.aws/credentials, .aws/config, .acme) are pointed at explicitly;
#  - a volume or key file the image's user cannot use stops the container at once with ONE line saying what to run,
#    instead of a daemon that retries forever against a folder it can never write.
# Every line it prints starts with "whisper-ts entrypoint:".
set -eu

say() { echo "whisper-ts entrypoint: $*" >&2; }
die() { say "$*"; exit 78; }  # 78: EX_CONFIG, the container's configuration must change

uid=$(id -u)
folder="${WHISPER_CERT_FOLDER:-/app/certs}"

# `status`, `limits`, --dryrun, --help and --version write nothing: the checks below are for the daemon only.
daemon=yes
case "${1:-}" in status|limits) daemon=no ;; esac
case "${WHISPER_DRYRUN:-}" in ""|0|false|no|off) ;; *) daemon=no ;; esac
acme_key_arg=no
for a in "$@"; do
  case "$a" in
    --dryrun|--help|-h|--version|-V) daemon=no ;;
    -a|--acme-key|--acme-key=*) acme_key_arg=yes ;;
  esac
done

# whisper's image set ACME_REGISTER_EMAIL=needtochange@docker.run as a placeholder. Registering it would give the
# account a contact nobody reads and hide the missing setting; it is dropped, so that without an account key the
# daemon asks for a real address, and with one (the usual migration) nothing changes: the address is unused then.
if [ "${ACME_REGISTER_EMAIL:-}" = "needtochange@docker.run" ]; then
  say "ignoring ACME_REGISTER_EMAIL=needtochange@docker.run (whisper's placeholder): set your address to register a new ACME account"
  unset ACME_REGISTER_EMAIL
fi

# The AWS SDK's shared files, at whisper's path when nothing else names them.
aws_file() { # <variable> <file name>
  eval "set_already=\${$1:-}"
  legacy="/root/.aws/$2"
  if [ -z "$set_already" ] && [ ! -e "${HOME:-/home/node}/.aws/$2" ] && [ -e "$legacy" ]; then
    if [ -r "$legacy" ]; then
      export "$1=$legacy"
      say "AWS $2 file $legacy"
    else
      say "$legacy is mounted but uid $uid cannot read it (owner uid $(stat -c %u "$legacy"), mode $(stat -c %a "$legacy")): make the host file readable to uid $uid, or run with --user $(stat -c %u "$legacy"); meanwhile the standard AWS chain is used"
    fi
  fi
}
aws_file AWS_SHARED_CREDENTIALS_FILE credentials
aws_file AWS_CONFIG_FILE config

# The host folder or named volume behind a mount point, for the chown line: a named volume shows in
# /proc/self/mountinfo as .../volumes/<name>/_data; a bind mount's host path is not reliably known inside.
volume_name() {
  while read -r _ _ _ root mnt _; do
    if [ "$mnt" = "$1" ]; then
      case "$root" in */volumes/*/_data) root=${root%/_data}; echo "${root##*/}"; return ;; esac
    fi
  done </proc/self/mountinfo
}

if [ "$daemon" = yes ] && [ -d "$folder" ]; then
  # A real write, not `test -w`: that also catches a read-only mount and a full disk, with the system's reason.
  probe="$folder/.whisper-entrypoint-probe.$$"
  if err=$( { : >"$probe"; } 2>&1 ); then rm -f "$probe"; [ -r "$folder" ] || err="Permission denied"; fi
  if [ -n "$err" ]; then
    owner=$(stat -c %u "$folder")
    case "$err" in
      *"Read-only file system"*) die "$folder is mounted read-only: the daemon writes its certificates there; mount it read-write" ;;
      *"Permission denied"*)
        vol=$(volume_name "$folder")
        if [ -n "$vol" ]; then fix="docker run --rm --user 0 -v $vol:$folder --entrypoint chown <this image> -R $uid:$uid $folder"
        else fix="chown -R $uid:$uid <the host folder mounted at $folder>"; fi
        die "$folder is not writable by uid $uid (the container's user; the folder belongs to uid $owner, mode $(stat -c %a "$folder")): run $fix, or start the container with --user $owner" ;;
      *) die "cannot write to $folder: $err" ;;
    esac
  fi
fi

# The account key, in the daemon's own order: -a/WHISPER_ACME_KEY, else <folder>/.acme, else ~/.acme, else a new
# <folder>/.acme. whisper's last release kept it at ~/.acme of root, mounted at /root/.acme; for the image's user
# that is not ~, so it is named explicitly where ~/.acme would have been taken.
legacy_key=/root/.acme
if [ "$daemon" = yes ] && [ -z "${WHISPER_ACME_KEY:-}" ] && [ "$acme_key_arg" = no ] && [ -e "$legacy_key" ]; then
  home_key="${HOME:-/home/node}/.acme"
  if [ -e "$folder/.acme" ]; then
    say "$legacy_key is not used: $folder/.acme exists and comes first"
  elif [ "$home_key" != "$legacy_key" ] && [ -e "$home_key" ]; then
    say "$legacy_key is not used: $home_key exists and comes first"
  elif [ -d "$legacy_key" ]; then
    die "$legacy_key is a directory, not whisper's account key: docker creates one when the host path given to -v ...:$legacy_key does not exist; mount the existing key file (whisper's ~/.acme), or drop that mount to register a new account kept in $folder/.acme"
  elif [ ! -r "$legacy_key" ]; then
    owner=$(stat -c %u "$legacy_key")
    die "$legacy_key (whisper's account key) is not readable by uid $uid (the container's user; it belongs to uid $owner, mode $(stat -c %a "$legacy_key")): run chown $uid <the host file mounted at $legacy_key>, or start the container with --user $owner"
  else
    export WHISPER_ACME_KEY="$legacy_key"
    say "ACME account key $legacy_key (whisper's)"
  fi
fi

# WHISPER_LISTEN empty: still serve the health endpoints, on a free loopback port (no fixed port to collide with under
# --network host); docker/healthcheck.mjs finds that port in /proc.
if [ -z "${WHISPER_LISTEN:-}" ]; then export WHISPER_LISTEN=127.0.0.1:0; fi

exec node "$(dirname "$0")/../dist/bin.js" "$@"
