#!/usr/bin/env bash
# gateway_fds (ctest, label integration): issue 6's tests. The loopback rig (two binderds, two
# bindergw over 127.0.0.1, echo_service on B imported on A as b.echo) and, on A through the
# gateways: echoMemfd of a 1 MiB memfd (plain; sealed SHRINK|GROW|WRITE|SEAL; read-only + sealed):
# same bytes, seals and access mode back; dumpTo into a pipe, 100 MB, pattern and count checked,
# throughput printed; socketEcho over a socketpair, 10 MB both ways, half-close answered with EOF;
# readFd of /dev/null refused (the call fails) with a gateway log line naming "character device".
# After each check every process of both hosts (binderds, servicemanagers, bindergws,
# echo_service) holds as many fds as at the baseline (polled up to 30 s); at the end both
# gateways' tables and both binderds' state are back at their baselines, as in loopback_test.sh.
#
#   tests/gateway/fd_test.sh BUILD_DIR
#
# Needs bindergw (fails without it). Env as loopback_test.sh; NB_FD_PIPE_BYTES (100000000) and
# NB_FD_SOCKET_BYTES (10000000) size the streams; NB_TEST_KEEP_DIR=1 keeps the logs.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=gw_lib.sh
source "$(dirname "$0")/gw_lib.sh"
nb_init "${1:-}" gw-fds
nb_require_bindergw

PIPE_BYTES=${NB_FD_PIPE_BYTES:-100000000}
SOCKET_BYTES=${NB_FD_SOCKET_BYTES:-10000000}
GW_COMMON=(--insecure --keepalive-interval-ms "${NB_GW_KEEPALIVE_INTERVAL_MS:-200}"
  --keepalive-timeout-ms "${NB_GW_KEEPALIVE_TIMEOUT_MS:-1500}"
  --discovery-interval-ms "${NB_GW_DISCOVERY_INTERVAL_MS:-200}"
  --backoff-max-ms "${NB_GW_BACKOFF_MAX_MS:-1000}" --log-level info)

nb_host A
nb_host B
nb_start_host A
nb_start_host B
nb_start_echo B echo

PORT=$(nb_free_port)
nb_log "bindergw B listens on 127.0.0.1:$PORT, exports echo*"
# B accepts fd contents up to 8 MiB (a per-peer limit from its config file): A's gateway must
# refuse a bigger memfd for that call only.
cat >"$NB_ROOT/gw-B.textproto" <<'CONF'
limits { max_fd_payload_bytes: 8388608 }
CONF
nb_bg gw-B B "$BINDERGW" --gateway-id gwB --listen "127.0.0.1:$PORT" --export 'echo*' \
  --config "$NB_ROOT/gw-B.textproto" "${GW_COMMON[@]}"
nb_wait_listening gw-B "$PORT"
nb_log "bindergw A connects, imports echo* as b.*"
nb_bg gw-A A "$BINDERGW" --gateway-id gwA --connect "127.0.0.1:$PORT" --import 'echo*' \
  --import-prefix b. "${GW_COMMON[@]}"

nb_check "b.echo imported" A wait-service b.echo 30000
nb_check "gateway A registered" A wait-service netbinder.gateway 10000
nb_check "gateway B registered" B wait-service netbinder.gateway 10000
nb_check "echo through the gateways" A echo b.echo "before the fds"

# ---- baselines ------------------------------------------------------------------------------
FD_PROCS=(binderd-A servicemanager-A gw-A binderd-B servicemanager-B gw-B echo-B)
base_gw_A=$(nb_settled_gw_state A)
base_gw_B=$(nb_settled_gw_state B)
printf 'baseline gw-state A:\n%s\nbaseline gw-state B:\n%s\n' "$base_gw_A" "$base_gw_B"
nb_assert_no_calls A "$base_gw_A"
nb_assert_no_calls B "$base_gw_B"
base_state_A=$(nb_settled_state A)
base_state_B=$(nb_settled_state B)
nb_log "baseline binderd A: $base_state_A"
nb_log "baseline binderd B: $base_state_B"
base_fds=$(nb_settled_fd_counts "${FD_PROCS[@]}")
nb_log "baseline fd counts: $base_fds"

# fds_back DESC: every process's fd count back at the baseline (every probe has exited).
fds_back() {
  nb_wait_fds "fd counts after $1" 30 "$base_fds" "${FD_PROCS[@]}"
  nb_log "fd counts after $1: back at the baseline"
}

# ---- files and shared memory: contents, seals, access mode ---------------------------------
nb_check "memfd 1 MiB" A memfd b.echo 1048576
fds_back "memfd"
nb_check "memfd 1 MiB sealed" A memfd b.echo 1048576 --seal
fds_back "memfd sealed"
nb_check "memfd 1 MiB read-only, sealed" A memfd b.echo 1048576 --seal --read-only
fds_back "memfd read-only"

# ---- a per-peer limit fails that transaction only --------------------------------------------
if out=$(nb_probe A memfd b.echo 16777216 2>&1); then
  printf '%s\n' "$out"
  nb_fail "a 16 MiB memfd crossed although B accepts 8 MiB"
fi
nb_log "16 MiB memfd refused by A's gateway (B's limit is 8 MiB): $(printf '%s' "$out" | tail -n 1)"
nb_check "memfd within the limit, after the refused one" A memfd b.echo 4194304
fds_back "the limit check"

# ---- pipe: a dumpsys-style one-way stream ---------------------------------------------------
out=$(nb_probe A --deadline-ms 240000 pipe-dump b.echo "$PIPE_BYTES" 2>&1) || {
  printf '%s\n' "$out"
  nb_fail "pipe-dump of $PIPE_BYTES bytes through the gateways failed"
}
printf 'A [pipe-dump] %s\n' "$out"
nb_log "pipe throughput: $(printf '%s\n' "$out" | grep -o '[0-9.]* MB/s' || echo '?')"
fds_back "pipe-dump"

# ---- a big transfer does not hold up small calls (measured, not asserted) ---------------------
BIG_PIPE_BYTES=${NB_FD_BIG_PIPE_BYTES:-1073741824}
quiet=$(nb_probe A latency b.echo 200 2>&1) || nb_fail "latency probe failed: $quiet"
nb_log "echo latency, idle link:          $quiet"
nb_probe A --deadline-ms 280000 pipe-dump b.echo "$BIG_PIPE_BYTES" >"$NB_ROOT/big-pipe.out" 2>&1 &
big=$!
sleep 1
busy=$(nb_probe A latency b.echo 200 2>&1) || nb_fail "latency probe during the transfer failed: $busy"
nb_log "echo latency, during the transfer: $busy"
wait "$big" || { cat "$NB_ROOT/big-pipe.out"; nb_fail "pipe-dump of $BIG_PIPE_BYTES bytes failed"; }
nb_log "big transfer: $(cat "$NB_ROOT/big-pipe.out")"
fds_back "the big transfer"

# ---- stream socket: two ways, half-close ------------------------------------------------------
nb_check "socket-echo" A --deadline-ms 240000 socket-echo b.echo "$SOCKET_BYTES"
fds_back "socket-echo"

# ---- a character device is refused, with a log line naming it ------------------------------
nb_check "chardev refused" A chardev b.echo
nb_wait_for "a gateway log line naming the character device" 10 \
  grep -qi 'character device' "$NB_ROOT/gw-A.log" "$NB_ROOT/gw-B.log"
nb_log "gateway log: $(grep -hi 'character device' "$NB_ROOT/gw-A.log" "$NB_ROOT/gw-B.log" |
  head -n 1)"
fds_back "chardev"
nb_check "echo after the fds" A echo b.echo "after the fds"

# ---- no leak: tables and driver state back to the baseline -----------------------------------
nb_log "back to the baseline (every probe has exited)"
nb_wait_equal "gw-state A" 30 "$base_gw_A" nb_gw_state A
nb_wait_equal "gw-state B" 30 "$base_gw_B" nb_gw_state B
nb_wait_equal "binderd state A" 30 "$base_state_A" nb_state A
nb_wait_equal "binderd state B" 30 "$base_state_B" nb_state B
fds_back "everything"
nb_log "fd counts: $(nb_fd_counts "${FD_PROCS[@]}")"
echo "PASS: gateway fds"
