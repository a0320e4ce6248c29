#!/usr/bin/env bash
# gateway_netns_rig (ctest, labels integration;netns): three hosts A, B, C in network namespaces
# made by this script (nbA<pid>, nbB<pid>, nbC<pid>), veth A–B (10.200.1.0/30) and B–C
# (10.200.2.0/30), loopback up in each; every host runs binderd + servicemanager + bindergw
# (--insecure, short keepalive). echo_service runs on B and on C (each registers "echo"). B imports
# C's echo as c.echo and exports echo and c.*; A imports everything B exports with prefix b.
# On A:
#   echo / callback on b.echo (the callback B makes runs on A's calling thread), echo and callback
#   on b.c.echo (A→B→C→A through two gateways), `lookup b.echo c.echo` (B hands A a binder that
#   lives on C), 10000 one-ways in order;
#   kill -9 of echo on B → the death probe on A fires within the keepalive bound (time printed);
#   b.echo disappears, and returns when echo_service is restarted;
#   veth A–B down → b.echo and b.c.echo disappear on A and death probes started before fire; link
#   up → b.echo is imported again and answers;
#   with every probe gone, all three gateways' tables and binderds' node/ref counts are back at
#   the baseline recorded when the imports first appeared.
#
#   tests/gateway/netns_rig_test.sh BUILD_DIR
#
# Exit 77 (ctest SKIP_RETURN_CODE) when network namespaces cannot be made (no CAP_SYS_ADMIN);
# fails (does not skip) when bindergw is not built. Env as loopback_test.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=gw_lib.sh
source "$(dirname "$0")/gw_lib.sh"
nb_init "${1:-}" gw-netns

KEEPALIVE_INTERVAL_MS=${NB_GW_KEEPALIVE_INTERVAL_MS:-200}
KEEPALIVE_TIMEOUT_MS=${NB_GW_KEEPALIVE_TIMEOUT_MS:-1500}
DISCOVERY_MS=${NB_GW_DISCOVERY_INTERVAL_MS:-200}
SLACK_MS=${NB_GW_SLACK_MS:-3000}
BACKOFF_MAX_MS=${NB_GW_BACKOFF_MAX_MS:-1000}  # reconnect promptly once the link is back
PORT=7411
GW_COMMON=(--insecure --keepalive-interval-ms "$KEEPALIVE_INTERVAL_MS"
  --keepalive-timeout-ms "$KEEPALIVE_TIMEOUT_MS" --discovery-interval-ms "$DISCOVERY_MS"
  --backoff-max-ms "$BACKOFF_MAX_MS" --log-level info)

# ---- the rig ---------------------------------------------------------------------------------
NS_A=nbA$$ NS_B=nbB$$ NS_C=nbC$$
if ! ip netns add "$NS_A" 2>"$NB_ROOT/netns.err"; then
  echo "SKIP: cannot create network namespaces ($(tr '\n' ' ' <"$NB_ROOT/netns.err")); needs" \
    "root / CAP_SYS_ADMIN and iproute2" >&2
  exit 77
fi
NB_NETNS+=("$NS_A")
for ns in "$NS_B" "$NS_C"; do
  ip netns add "$ns" || nb_fail "ip netns add $ns"
  NB_NETNS+=("$ns")
done
nb_require_bindergw
for ns in "$NS_A" "$NS_B" "$NS_C"; do ip -n "$ns" link set lo up; done
# Interface names are per namespace: A's end to B is "to-b", and so on.
ip -n "$NS_A" link add to-b type veth peer name to-a netns "$NS_B"
ip -n "$NS_B" link add to-c type veth peer name to-b netns "$NS_C"
ip -n "$NS_A" addr add 10.200.1.1/30 dev to-b
ip -n "$NS_B" addr add 10.200.1.2/30 dev to-a
ip -n "$NS_B" addr add 10.200.2.1/30 dev to-c
ip -n "$NS_C" addr add 10.200.2.2/30 dev to-b
ip -n "$NS_A" link set to-b up
ip -n "$NS_B" link set to-a up
ip -n "$NS_B" link set to-c up
ip -n "$NS_C" link set to-b up
link_up() { ip -n "$1" -o link show "$2" | grep -q 'state UP'; }
nb_wait_for "veth A-B up" 10 link_up "$NS_A" to-b
nb_wait_for "veth B-C up" 10 link_up "$NS_B" to-c
nb_log "rig: $NS_A 10.200.1.1 <-> 10.200.1.2 $NS_B 10.200.2.1 <-> 10.200.2.2 $NS_C"

listening() { [ -n "$(ip netns exec "$1" ss -Hltn "( sport = :$PORT )" 2>/dev/null)" ]; }
wait_listening() {
  local ns=$1 gw=$2 deadline=$(($(nb_now_ms) + 15000))
  until listening "$ns"; do
    nb_alive "$gw" || nb_fail "$gw exited"
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "$gw not listening on :$PORT in 15s"
    sleep 0.05
  done
}

nb_host A "$NS_A"
nb_host B "$NS_B"
nb_host C "$NS_C"
for h in A B C; do nb_start_host "$h"; done
nb_start_echo B echo
nb_start_echo C echo

nb_bg gw-C C "$BINDERGW" --gateway-id gwC --listen "10.200.2.2:$PORT" --export echo \
  "${GW_COMMON[@]}"
wait_listening "$NS_C" gw-C
nb_bg gw-B B "$BINDERGW" --gateway-id gwB --listen "10.200.1.2:$PORT" \
  --connect "10.200.2.2:$PORT" --import echo --import-prefix c. --export echo --export 'c.*' \
  "${GW_COMMON[@]}"
wait_listening "$NS_B" gw-B
nb_bg gw-A A "$BINDERGW" --gateway-id gwA --connect "10.200.1.2:$PORT" --import '*' \
  --import-prefix b. "${GW_COMMON[@]}"

nb_check "c.echo imported on B" B wait-service c.echo 30000
nb_check "b.echo imported on A" A wait-service b.echo 30000
nb_check "b.c.echo imported on A" A wait-service b.c.echo 30000
for h in A B C; do nb_check "gateway $h registered" "$h" wait-service netbinder.gateway 10000; done

# ---- baseline ----------------------------------------------------------------------------------
declare -A base_gw=() base_state=()
for h in A B C; do
  base_gw[$h]=$(nb_settled_gw_state "$h")
  printf 'baseline gw-state %s:\n%s\n' "$h" "${base_gw[$h]}"
  nb_assert_no_calls "$h" "${base_gw[$h]}"
done
for h in A B C; do
  base_state[$h]=$(nb_settled_state "$h")
  nb_log "baseline binderd $h: ${base_state[$h]}"
done

# ---- calls -------------------------------------------------------------------------------------
nb_check "echo A->B" A echo b.echo "hello from A"
nb_check "callback A->B->A (thread affinity)" A callback b.echo
nb_check "echo A->B->C" A echo b.c.echo "hello C"
nb_check "callback A->B->C->A (thread affinity)" A callback b.c.echo
nb_check "B hands A a binder on C" A lookup b.echo c.echo "hello via a forwarded binder"
nb_check "oneway order A->B" A oneway b.echo 10000
nb_check "echo after the flood" A echo b.echo "still here"
for h in A B C; do
  nb_log "gw-state $h:"
  nb_gw_state "$h" || nb_fail "gw-state $h"
done

# ---- kill -9 of echo on B -> death on A within the keepalive bound -----------------------------
bound=$((KEEPALIVE_TIMEOUT_MS + SLACK_MS))
nb_death_start death-kill A b.echo $((bound + 10000))
t0=$(nb_now_ms)
nb_kill9 echo-B
rc=0
nb_death_wait death-kill || rc=$?
elapsed=$(($(nb_now_ms) - t0))
[ "$rc" -eq 0 ] || nb_fail "no death notification on A for b.echo after kill -9 on B (exit $rc)"
nb_log "death on A ${elapsed} ms after kill -9 of echo on B (bound ${bound} ms)"
[ "$elapsed" -le "$bound" ] || nb_fail "death took ${elapsed} ms, more than ${bound} ms"
nb_check "b.echo gone" A wait-gone b.echo $((bound + DISCOVERY_MS + 5000))
nb_check "b.c.echo unaffected" A echo b.c.echo "C is still there"
nb_start_echo B echo
nb_check "b.echo imported again" A wait-service b.echo 30000
nb_check "echo after restart" A echo b.echo "back again"

# ---- link A–B down -> imports die; up -> imported again -------------------------------------------
# Death probes on both imports over the A–B session, started before the link goes down.
link_bound=$((KEEPALIVE_TIMEOUT_MS + KEEPALIVE_INTERVAL_MS + SLACK_MS))
nb_death_start death-link A b.echo $((link_bound + 10000))
nb_death_start death-link-c A b.c.echo $((link_bound + 10000))
t0=$(nb_now_ms)
ip -n "$NS_A" link set to-b down
rc=0
nb_death_wait death-link || rc=$?
elapsed=$(($(nb_now_ms) - t0))
[ "$rc" -eq 0 ] || nb_fail "no death notification on A for b.echo after link down (exit $rc)"
nb_log "death on A ${elapsed} ms after link A-B down (bound ${link_bound} ms)"
rc=0
nb_death_wait death-link-c || rc=$?
[ "$rc" -eq 0 ] || nb_fail "no death notification on A for b.c.echo after link down (exit $rc)"
[ "$elapsed" -le "$link_bound" ] || nb_fail "link-down death took ${elapsed} ms > ${link_bound} ms"
nb_check "b.echo gone after link down" A wait-gone b.echo $((link_bound + 5000))
nb_check "b.c.echo gone after link down" A wait-gone b.c.echo $((link_bound + 5000))
nb_check "B's own echo unaffected" B echo echo "B is fine"
ip -n "$NS_A" link set to-b up
t0=$(nb_now_ms)
nb_check "b.echo imported after link up" A wait-service b.echo 60000
nb_log "b.echo back on A $(($(nb_now_ms) - t0)) ms after link up"
nb_check "b.c.echo imported after link up" A wait-service b.c.echo 30000
nb_check "echo after link up" A echo b.echo "reconnected"
nb_check "callback after link up" A callback b.echo
nb_check "lookup after link up" A lookup b.echo c.echo "forwarded again"

# ---- no leak -------------------------------------------------------------------------------------
nb_log "back to the baseline (every probe has exited)"
for h in A B C; do nb_wait_equal "gw-state $h" 30 "${base_gw[$h]}" nb_gw_state "$h"; done
for h in A B C; do nb_wait_equal "binderd state $h" 30 "${base_state[$h]}" nb_state "$h"; done
for h in A B C; do
  nb_log "gw-state $h: $(nb_gw_state "$h" | tr '\n' ' ')"
  nb_log "binderd $h: $(nb_state "$h")"
done
echo "PASS: gateway netns rig"
