#!/usr/bin/env bash
# Compares two normalized traces role by role: within a role the order of lines must match
# exactly; lines of different roles may interleave differently (they are different processes).
# Usage: compare_traces.sh EXPECTED ACTUAL    (exit 0 when equal, 1 with a per-role diff otherwise)
set -euo pipefail
exp=$1 act=$2
roles=$(cat "$exp" "$act" | grep -v '^###' | sed -n 's/^\([A-Za-z0-9_-]*\): .*/\1/p' | sort -u)
status=0
for r in $roles; do
  if ! diff -u --label "kernel:$r" --label "binderd:$r" <(grep "^$r: " "$exp" || true) \
       <(grep "^$r: " "$act" || true); then
    status=1
  fi
done
if ! diff -q <(grep '^### rc=' "$exp" || true) <(grep '^### rc=' "$act" || true) >/dev/null; then
  echo "exit status differs: kernel $(grep '^### rc=' "$exp") binderd $(grep '^### rc=' "$act")"
  status=1
fi
exit $status
