#!/usr/bin/env bash
# Stops every process of a test run: those whose environment carries WHISPER_TS_RUN_ID=<id>.
# The servers already die with the test runner (pdeathsig); this catches anything that outlived it.
set -u
id=${1:?usage: reap.sh RUN_ID}
found=()
for env in /proc/[0-9]*/environ; do
  pid=${env#/proc/}; pid=${pid%/environ}
  [ "$pid" = $$ ] && continue
  if { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qx "WHISPER_TS_RUN_ID=$id"; then found+=("$pid"); fi
done
[ ${#found[@]} -eq 0 ] && exit 0
# The shell that runs the tests carries the marker too: spare our ancestors.
self_tree=" $$ $PPID $(ps -o ppid= -p $PPID 2>/dev/null | tr -d ' ') "
victims=()
for pid in "${found[@]}"; do
  case "$self_tree" in *" $pid "*) ;; *) victims+=("$pid") ;; esac
done
[ ${#victims[@]} -eq 0 ] && exit 0
echo "[env] stopping ${#victims[@]} leftover process(es) of $id: $(ps -o comm= -p "${victims[@]}" | tr '\n' ' ')" >&2
kill -TERM "${victims[@]}" 2>/dev/null
sleep 2
kill -KILL "${victims[@]}" 2>/dev/null
exit 0
