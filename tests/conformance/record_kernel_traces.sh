#!/usr/bin/env bash
# Runs every scenario of binder_scenarios.c and binder_scenarios_ext.c on the real kernel Binder
# driver inside
# ../shared/tools/binder-vm and writes one normalized trace per scenario into OUT_DIR
# (default: tests/conformance/expected, the checked-in kernel reference).
# Usage: record_kernel_traces.sh [OUT_DIR]
#        record_kernel_traces.sh --check   (record into a temp dir, diff with expected/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --check ]; then
  chk=$(mktemp -d)
  trap 'rm -rf "$chk"' EXIT
  "$0" "$chk"
  status=0
  for f in "$here"/expected/*.trace; do
    "$here/compare_traces.sh" "$f" "$chk/$(basename "$f")" || { echo "differs: $f"; status=1; }
  done
  if [ $status = 0 ]; then echo "kernel reference traces unchanged"; fi
  exit $status
fi
out=${1:-$here/expected}
vm=${BINDER_VM:-$here/../../../shared/tools/binder-vm/binder-vm}
[ -x "$vm" ] || { echo "binder-vm not found at $vm (set BINDER_VM)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bins="binder_scenarios binder_scenarios_ext"
for b in $bins; do
  gcc -O1 -static -pthread -Wall -Wextra -Werror -o "$tmp/$b" "$here/$b.c"
done
# scenario names are unique across both binaries: each becomes expected/<name>.trace. The pause
# between scenarios lets the kernel finish releasing the previous run's processes (it does that
# asynchronously), so that e.g. the previous context manager is gone before the next one registers.
dups=$(for b in $bins; do "$tmp/$b" list; done | sort | uniq -d)
[ -z "$dups" ] || { echo "scenario names defined twice: $dups" >&2; exit 2; }
"$vm" -q --timeout 600 --add "$tmp/binder_scenarios" --add "$tmp/binder_scenarios_ext" --shell-cmd \
  'for b in binder_scenarios binder_scenarios_ext; do for s in $(/opt/$b list); do echo "### $s"; /opt/$b $s; echo "### rc=$?"; sleep 0.2; done; done' \
  > "$tmp/all.txt"
mkdir -p "$out"
awk -v out="$out" '
  /^### rc=/ { if (name != "") { print $0 >> (out "/" name ".trace"); close(out "/" name ".trace") } name = ""; next }
  /^### / { name = $2; printf "" > (out "/" name ".trace"); next }
  name != "" { print >> (out "/" name ".trace") }
' "$tmp/all.txt"
n=$(ls "$out"/*.trace | wc -l)
echo "recorded $n kernel traces into $out"
