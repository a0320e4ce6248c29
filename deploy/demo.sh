#!/usr/bin/env bash
# The README's demo command: installs dependencies, builds, and runs netbinder on one host:
# binderd (the userspace Binder driver), the AOSP-compatible servicemanager and the echo service,
# then binderctl (list / check / call with a decoded reply / ping / stats) and echo_client (call,
# nested call-back, one-way order, fd passing, service-specific exception). Then an unmodified
# /dev/binder program (only <linux/android/binder.h>) runs on the same binderd through
# LD_PRELOAD=libnetbinder_preload.so. The final form (issue 5) adds a second side reaching echo
# through two gateways.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
BUILD=${NB_BUILD_DIR:-build}/main
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target binderd netbinder_preload servicemanager binderctl \
  echo_service echo_client binder_scenarios

bin() { find "$BUILD" -type f -name "$1" -perm -u+x | head -1; }
BINDERD=$(bin binderd) SM=$(bin servicemanager) CTL=$(bin binderctl)
ECHO_SVC=$(bin echo_service) ECHO_CLIENT=$(bin echo_client) SCEN=$(bin binder_scenarios)
PRELOAD=$(find "$BUILD" -name libnetbinder_preload.so | head -1)

export NETBINDER_DIR
NETBINDER_DIR=$(mktemp -d /tmp/netbinder-demo.XXXXXX)
dirs=("$NETBINDER_DIR")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "${dirs[@]}"
}
trap cleanup EXIT

"$BINDERD" --dir "$NETBINDER_DIR" >"$NETBINDER_DIR/binderd.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$NETBINDER_DIR/binder" ] && break; sleep 0.05; done
echo "== binderd serving $NETBINDER_DIR/{binder,hwbinder,vndbinder}"
"$SM" >"$NETBINDER_DIR/servicemanager.log" 2>&1 & pids+=($!)
"$ECHO_SVC" >"$NETBINDER_DIR/echo.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do "$CTL" check echo 2>/dev/null | grep -q found && break; sleep 0.05; done

step() { echo; echo "\$ $*"; "$@"; }
step "$CTL" list
step "$CTL" check echo
step "$CTL" call echo 1 s16 "hello from binderctl" --reply s16
step "$CTL" ping echo
step "$ECHO_CLIENT"
step "$CTL" stats

echo
echo "== an unmodified /dev/binder program on binderd through the LD_PRELOAD shim"
NETBINDER_DIR=$(mktemp -d /tmp/netbinder-demo2.XXXXXX)   # a fresh device: the program is its own manager
dirs+=("$NETBINDER_DIR")
"$BINDERD" --dir "$NETBINDER_DIR" >/dev/null 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$NETBINDER_DIR/binder" ] && break; sleep 0.05; done
for s in txn_roundtrip nested_call fd_passing; do
  echo "-- $s"
  LD_PRELOAD=$PRELOAD "$SCEN" "$s"
done
