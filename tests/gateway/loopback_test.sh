#!/usr/bin/env bash
# gateway_loopback (ctest, label integration): two "hosts" on this machine — each its own binderd
# (private --dir) and servicemanager — joined by two bindergw over 127.0.0.1. echo_service runs on
# B; A imports it as b.echo. On A, through the gateways: echo, a callback that B calls (run on A's
# calling thread), 10000 one-ways in order, gw-state of both sides; kill -9 of echo_service on B →
# the death probe on A fires and b.echo disappears; restart → b.echo is back and answers. Finally,
# with every probe gone: both gateways' tables and both binderds' node/ref counts are back at the
# baseline recorded right after b.echo first appeared (the same services are registered then).
#
#   tests/gateway/loopback_test.sh BUILD_DIR
#
# Needs bindergw: fails (does not skip) when it is not built. Env: BINDERGW=PATH, NB_TEST_KEEP_DIR=1
# keeps the logs, NB_GW_KEEPALIVE_TIMEOUT_MS (1500), NB_GW_SLACK_MS (3000) bound the death latency.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=gw_lib.sh
source "$(dirname "$0")/gw_lib.sh"
nb_init "${1:-}" gw-loopback
nb_require_bindergw

KEEPALIVE_INTERVAL_MS=${NB_GW_KEEPALIVE_INTERVAL_MS:-200}
KEEPALIVE_TIMEOUT_MS=${NB_GW_KEEPALIVE_TIMEOUT_MS:-1500}
DISCOVERY_MS=${NB_GW_DISCOVERY_INTERVAL_MS:-200}
SLACK_MS=${NB_GW_SLACK_MS:-3000}
BACKOFF_MAX_MS=${NB_GW_BACKOFF_MAX_MS:-1000}  # reconnect promptly once the link is back
GW_COMMON=(--insecure --keepalive-interval-ms "$KEEPALIVE_INTERVAL_MS"
  --keepalive-timeout-ms "$KEEPALIVE_TIMEOUT_MS" --discovery-interval-ms "$DISCOVERY_MS"
  --backoff-max-ms "$BACKOFF_MAX_MS" --log-level info)

# A free TCP port on 127.0.0.1: random high ports until `ss` shows no socket on one (a race with
# another process taking it is caught below: bindergw B must be seen listening on it).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
      echo "$p"
      return 0
    fi
  done
  nb_fail "no free port found"
}
listening() { [ -n "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ]; }

nb_host A
nb_host B
nb_start_host A
nb_start_host B
nb_start_echo B echo

PORT=$(free_port)
nb_log "bindergw B listens on 127.0.0.1:$PORT, exports echo*"
nb_bg gw-B B "$BINDERGW" --gateway-id gwB --listen "127.0.0.1:$PORT" --export 'echo*' \
  "${GW_COMMON[@]}"
deadline=$(($(nb_now_ms) + 15000))
until listening "$PORT"; do
  nb_alive gw-B || nb_fail "bindergw B exited (port $PORT taken?)"
  [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "bindergw B not listening on $PORT in 15s"
  sleep 0.05
done
nb_log "bindergw A connects, imports echo* as b.*"
nb_bg gw-A A "$BINDERGW" --gateway-id gwA --connect "127.0.0.1:$PORT" --import 'echo*' \
  --import-prefix b. "${GW_COMMON[@]}"

nb_check "b.echo imported" A wait-service b.echo 30000
nb_check "gateway A registered" A wait-service netbinder.gateway 10000
nb_check "gateway B registered" B wait-service netbinder.gateway 10000

# ---- baseline: the same services registered as at the end --------------------------------
base_gw_A=$(nb_settled_gw_state A)
base_gw_B=$(nb_settled_gw_state B)
printf 'baseline gw-state A:\n%s\nbaseline gw-state B:\n%s\n' "$base_gw_A" "$base_gw_B"
nb_assert_no_calls A "$base_gw_A"
nb_assert_no_calls B "$base_gw_B"
base_state_A=$(nb_settled_state A)
base_state_B=$(nb_settled_state B)
nb_log "baseline binderd A: $base_state_A"
nb_log "baseline binderd B: $base_state_B"

# ---- calls through the gateways -------------------------------------------------------------
nb_check "echo" A echo b.echo "hello across the gateways"
nb_check "callback (thread affinity)" A callback b.echo
nb_check "oneway order" A oneway b.echo 10000
nb_check "echo after the flood" A echo b.echo "still here"
nb_log "gw-state A:"
nb_gw_state A || nb_fail "gw-state A"
nb_log "gw-state B:"
nb_gw_state B || nb_fail "gw-state B"

# ---- kill -9 of the service on B -> death on A ----------------------------------------------
nb_death_start death-A A b.echo $((KEEPALIVE_TIMEOUT_MS + SLACK_MS + 10000))
t0=$(nb_now_ms)
nb_kill9 echo-B
rc=0
nb_death_wait death-A || rc=$?
elapsed=$(($(nb_now_ms) - t0))
[ "$rc" -eq 0 ] || nb_fail "no death notification on A for b.echo after kill -9 on B (exit $rc)"
bound=$((KEEPALIVE_TIMEOUT_MS + SLACK_MS))
nb_log "death notification on A ${elapsed} ms after kill -9 on B (bound ${bound} ms)"
[ "$elapsed" -le "$bound" ] || nb_fail "death took ${elapsed} ms, more than ${bound} ms"
nb_check "b.echo gone" A wait-gone b.echo $((DISCOVERY_MS + KEEPALIVE_TIMEOUT_MS + SLACK_MS + 5000))

# ---- restart -> imported again ---------------------------------------------------------------
nb_start_echo B echo
nb_check "b.echo imported again" A wait-service b.echo 30000
nb_check "echo after restart" A echo b.echo "back again"
nb_check "callback after restart" A callback b.echo

# ---- no leak: tables and driver state back to the baseline -----------------------------------
nb_log "back to the baseline (every probe has exited)"
nb_wait_equal "gw-state A" 30 "$base_gw_A" nb_gw_state A
nb_wait_equal "gw-state B" 30 "$base_gw_B" nb_gw_state B
nb_wait_equal "binderd state A" 30 "$base_state_A" nb_state A
nb_wait_equal "binderd state B" 30 "$base_state_B" nb_state B
nb_log "gw-state A: $(nb_gw_state A | tr '\n' ' ')"
nb_log "gw-state B: $(nb_gw_state B | tr '\n' ' ')"
nb_log "binderd A: $(nb_state A)"
nb_log "binderd B: $(nb_state B)"
echo "PASS: gateway loopback"
