#!/usr/bin/env bash
# The README's demo command: installs dependencies, builds, and runs netbinder on one host:
# binderd (the userspace Binder driver), the AOSP-compatible servicemanager and the echo service,
# then binderctl (list / check / call with a decoded reply / ping / stats) and echo_client (call,
# nested call-back, one-way order, fd passing, service-specific exception). Then an unmodified
# /dev/binder program (only <linux/android/binder.h>) runs on the same binderd through
# LD_PRELOAD=libnetbinder_preload.so. Finally a second "host" (its own binderd and servicemanager)
# reaches the echo service of the first through two bindergw gateways on loopback: the service
# appears there as b.echo, and binderctl and echo_client call it — nested call-back on the calling
# thread, one-way order and an fd (a memfd crossing as its contents) included — without knowing
# a network is in between.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
BUILD=${NB_BUILD_DIR:-build}/main
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target binderd netbinder_preload servicemanager binderctl \
  echo_service echo_client binder_scenarios bindergw

bin() { find "$BUILD/" -type f -name "$1" -perm -u+x | head -1; }
BINDERD=$(bin binderd) SM=$(bin servicemanager) CTL=$(bin binderctl)
ECHO_SVC=$(bin echo_service) ECHO_CLIENT=$(bin echo_client) SCEN=$(bin binder_scenarios)
GW=$(bin bindergw)
PRELOAD=$(find "$BUILD/" -name libnetbinder_preload.so | head -1)

export NETBINDER_DIR
NETBINDER_DIR=$(mktemp -d /tmp/netbinder-demo.XXXXXX)
dirs=("$NETBINDER_DIR")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${NB_DEMO_KEEP:-}" ] || rm -rf "${dirs[@]}"
}
trap cleanup EXIT

"$BINDERD" --dir "$NETBINDER_DIR" >"$NETBINDER_DIR/binderd.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$NETBINDER_DIR/binder" ] && break; sleep 0.05; done
echo "== binderd serving $NETBINDER_DIR/{binder,hwbinder,vndbinder}"
"$SM" >"$NETBINDER_DIR/servicemanager.log" 2>&1 & pids+=($!)
"$ECHO_SVC" >"$NETBINDER_DIR/echo.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do "$CTL" check echo 2>/dev/null | grep -q ": found" && break; sleep 0.05; done
HOST_B=$NETBINDER_DIR

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

echo
echo "== two hosts: host A reaches host B's echo service through two gateways (127.0.0.1)"
PORT=$((20000 + RANDOM % 20000))
NETBINDER_DIR=$HOST_B "$GW" --gateway-id hostB --listen "127.0.0.1:$PORT" --export 'echo*' \
  >"$HOST_B/bindergw.log" 2>&1 & pids+=($!)
HOST_A=$(mktemp -d /tmp/netbinder-demo-a.XXXXXX)
dirs+=("$HOST_A")
"$BINDERD" --dir "$HOST_A" >"$HOST_A/binderd.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$HOST_A/binder" ] && break; sleep 0.05; done
NETBINDER_DIR=$HOST_A "$SM" >"$HOST_A/servicemanager.log" 2>&1 & pids+=($!)
sleep 0.2
NETBINDER_DIR=$HOST_A "$GW" --gateway-id hostA --connect "127.0.0.1:$PORT" --import 'echo*' \
  --import-prefix b. >"$HOST_A/bindergw.log" 2>&1 & pids+=($!)
export NETBINDER_DIR=$HOST_A
for _ in $(seq 200); do "$CTL" check b.echo 2>/dev/null | grep -q ": found" && break; sleep 0.05; done
step "$CTL" list
step "$CTL" call b.echo 1 s16 "hello from host A" --reply s16
step "$ECHO_CLIENT" --name b.echo --lookup-name echo
