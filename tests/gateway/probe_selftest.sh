#!/usr/bin/env bash
# gateway_probe_selftest (ctest, label integration): gw_probe and the script helpers (gw_lib.sh)
# against a local echo_service on one binderd, no gateway: every subcommand passes where it must
# and fails where it must, the death probe fires on kill -9, and binderd's state returns to the
# baseline after the probes exit. This validates the tools the gateway tests are built from. The
# fd subcommands (memfd, pipe-dump, socket-echo) pass locally too, and every process's fd count is
# back at its baseline after them; chardev is a gateway-only check (locally /dev/null passes, so
# it must exit 1 here).
#
#   tests/gateway/probe_selftest.sh BUILD_DIR
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=gw_lib.sh
source "$(dirname "$0")/gw_lib.sh"
nb_init "${1:-}" probe-selftest

nb_host L
nb_start_host L
nb_start_echo L echo
nb_start_echo2() { nb_bg echo2-L L "$ECHO_SERVICE" --name echo2; }
nb_start_echo2
nb_wait_for "echo_service echo2" 10 grep -q "registered as echo2" "$NB_ROOT/echo2-L.log"

nb_check "wait-service" L wait-service echo 5000
base_state=$(nb_settled_state L)
nb_log "baseline binderd state: $base_state"

nb_check "echo" L echo echo "hello probe"
nb_check "echo (empty)" L echo echo ""
nb_check "callback" L callback echo
nb_check "oneway" L oneway echo 10000
nb_check "oneway again (fresh values)" L oneway echo 100
nb_check "lookup" L lookup echo echo2 "via echo2"
nb_check_rc 1 "lookup of an absent name" L lookup echo no.such.service x
nb_check_rc 20 "echo on an absent service" L --wait-ms 200 echo no.such.service x
nb_check_rc 20 "gw-state without a gateway" L --wait-ms 200 gw-state
nb_check_rc 10 "bad arguments" L oneway echo many
nb_check_rc 1 "death without a death" L death echo 300
nb_check_rc 1 "wait-gone of a live service" L wait-gone echo 300
nb_check_rc 1 "wait-service of an absent service" L wait-service no.such.service 300
nb_check_rc 1 "the deadline ends a run" L --deadline-ms 300 death echo 5000

nb_log "fds: memfd, pipe-dump, socket-echo locally; fd counts back to the baseline"
FD_PROCS=(binderd-L servicemanager-L echo-L echo2-L)
base_fds=$(nb_settled_fd_counts "${FD_PROCS[@]}")
nb_log "baseline fd counts: $base_fds"
nb_check "memfd" L memfd echo 1048576
nb_check "memfd sealed" L memfd echo 1048576 --seal
nb_check "memfd read-only, sealed" L memfd echo 65536 --seal --read-only
nb_check "memfd empty" L memfd echo 0
nb_check "pipe-dump 10 MB" L pipe-dump echo 10000000
nb_check "socket-echo 10 MB" L socket-echo echo 10000000
nb_check_rc 1 "chardev without a gateway (/dev/null passes locally)" L chardev echo
nb_check_rc 10 "memfd bad flag" L memfd echo 10 --sealed
nb_wait_fds "fd counts" 30 "$base_fds" "${FD_PROCS[@]}"
nb_log "fd counts: $(nb_fd_counts "${FD_PROCS[@]}")"

nb_log "kill -9 echo_service: the death probe started before must fire"
nb_death_start death-L L echo 10000
t0=$(nb_now_ms)
nb_kill9 echo-L
rc=0
nb_death_wait death-L || rc=$?
[ "$rc" -eq 0 ] || nb_fail "death probe exited $rc"
nb_log "death notification $(($(nb_now_ms) - t0)) ms after kill -9"
nb_check "wait-gone" L wait-gone echo 5000
nb_check_rc 20 "echo on the dead service" L --wait-ms 200 echo echo x

nb_log "restart echo_service"
nb_start_echo L echo
nb_check "wait-service after restart" L wait-service echo 5000
nb_check "echo after restart" L echo echo "again"
nb_check "callback after restart" L callback echo

nb_log "binderd state back to the baseline"
nb_wait_equal "binderd state of L" 20 "$base_state" nb_state L
nb_log "state: $(nb_state L)"
echo "PASS: gw_probe self-test"
