#!/usr/bin/env bash
# Runs one conformance scenario on binderd through the LD_PRELOAD shim and compares its trace with
# the kernel's (expected/NAME.trace). binderd runs in a private temporary directory.
# Usage: run_on_binderd.sh BINDERD PRELOAD_SO SCENARIOS_BIN NAME
set -euo pipefail
binderd=$1 preload=$2 scenarios=$3 name=$4
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/nb-conf.XXXXXX)
"$binderd" --dir "$dir" >"$dir/binderd.log" 2>&1 &
daemon=$!
cleanup() {
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$dir/binder" ] && break; sleep 0.05; done
[ -S "$dir/binder" ] || { echo "binderd did not start:"; cat "$dir/binderd.log"; exit 1; }
set +e
NETBINDER_DIR=$dir LD_PRELOAD=$preload timeout 30 "$scenarios" "$name" >"$dir/trace" 2>"$dir/stderr"
rc=$?
set -e
echo "### rc=$rc" >>"$dir/trace"
if ! "$here/compare_traces.sh" "$here/expected/$name.trace" "$dir/trace"; then
  echo "--- binderd trace:"; cat "$dir/trace"
  echo "--- scenario stderr:"; cat "$dir/stderr"
  echo "--- binderd log (tail):"; tail -20 "$dir/binderd.log"
  exit 1
fi
echo "$name: binderd trace matches the kernel's"
