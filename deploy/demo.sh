#!/usr/bin/env bash
# The README's demo command: installs dependencies, builds, and runs what netbinder can show today:
# binderd (the userspace Binder driver) in a private directory, and an unmodified /dev/binder program
# (tests/conformance/binder_scenarios, which only includes <linux/android/binder.h>) running on it
# through LD_PRELOAD=libnetbinder_preload.so — a context manager and a client making calls, passing a
# binder, a nested call-back, file descriptors and scatter-gather buffers — then binderd's state dump.
# Its final form (issue 5) adds a service manager, an echo service and two gateways.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
BUILD=${NB_BUILD_DIR:-build}/main
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target binderd netbinder_preload binder_scenarios

dir=$(mktemp -d /tmp/netbinder-demo.XXXXXX)
"$BUILD/local_driver/binderd" --dir "$dir" >"$dir/binderd.log" 2>&1 &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$dir/binder" ] && break; sleep 0.05; done
echo "binderd is serving $dir/{binder,hwbinder,vndbinder}"

run() {
  echo
  echo "== $1: $2"
  NETBINDER_DIR=$dir LD_PRELOAD=$PWD/$BUILD/local_driver/libnetbinder_preload.so \
    "$BUILD/tests/conformance/binder_scenarios" "$1"
}
run txn_roundtrip "a client calls the context manager and gets a reply"
run refcount_handshake "a binder object crosses; BR_INCREFS/BR_ACQUIRE handshake; release"
run nested_call "the service calls back into the client on the client's waiting thread"
run death_notification "the client dies; the holder of its binder is told"
run fd_passing "a pipe crosses as a file descriptor"
run scatter_gather "PTR buffers with a parent fixup and an fd array"

echo
echo "== binderd state (debugfs format)"
"$BUILD/local_driver/binderd" --dir "$dir" --dump stats | head -30 || true
