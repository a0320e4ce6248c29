# shellcheck shell=bash
# shellcheck disable=SC2153  # BINDERD etc. are set by nb_bin through printf -v
# Helpers shared by the gateway test scripts (sourced; not a test of its own): "hosts" made of
# binderd + servicemanager (+ services, + bindergw) in private temp dirs, optionally inside a
# network namespace; gw_probe runs; binderd state and gateway table baselines. Every wait is
# bounded; every child is recorded and killed by the EXIT trap, which also removes the temp dirs
# (kept with NB_TEST_KEEP_DIR=1) and the namespaces the script made.
#
#   nb_init BUILD_DIR TAG         binaries from BUILD_DIR (env overrides: BINDERD, SERVICEMANAGER,
#                                 BINDERCTL, ECHO_SERVICE, GW_PROBE, BINDERGW), temp root, trap
#   nb_host H [NETNS]             declares host H (its own binderd dir; commands run in NETNS)
#   nb_start_host H               binderd + servicemanager of H, waits until handle 0 answers
#   nb_bg NAME H CMD...           a background process of H (log $NB_ROOT/NAME.log), pid NB_PID[NAME]
#   nb_kill9 NAME                 SIGKILL + reap
#   nb_start_echo H NAME          echo_service on H as NAME (log echo-NAME); waits for registration
#   nb_probe H ARGS...            gw_probe on H (bounded by `timeout`); output on stdout
#   nb_check DESC H ARGS...       a probe that must pass; prints its output, dies otherwise
#   nb_check_rc RC DESC H ARGS... a probe that must exit RC
#   nb_state H                    one-line summary of H's binderd state (procs, nodes, refs, ...)
#   nb_settled_state H            nb_state once two reads 300 ms apart agree (bounded)
#   nb_gw_state H / nb_settled_gw_state H    the gateway's table dump (gw_probe gw-state)
#   nb_death_start NAME H SVC MS / nb_death_wait NAME    a background death probe, once linked
#   nb_wait_equal DESC SECS EXPECTED CMD...   polls CMD until its output is EXPECTED
#   nb_now_ms                     monotonic-enough wall clock in ms (date)
#   nb_fail MSG                   prints MSG and the tails of every log, exits 1

NB_PROBE_TIMEOUT_S=${NB_PROBE_TIMEOUT_S:-180}
declare -A NB_PID=() NB_HOST_DIR=() NB_HOST_NS=()
NB_PIDS_ORDER=()
NB_NETNS=()
NB_ROOT=""

nb_log() { printf '== %s\n' "$*"; }

nb_now_ms() { date +%s%3N; }

nb_fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [ -n "$NB_ROOT" ] && [ -d "$NB_ROOT" ]; then
    for f in "$NB_ROOT"/*.log; do
      [ -f "$f" ] || continue
      printf -- '---- %s (last 30 lines)\n' "${f##*/}" >&2
      tail -n 30 "$f" >&2 || true
    done
  fi
  exit 1
}

nb_cleanup() {
  local rc=$? name pid ns
  trap - EXIT INT TERM
  for ((i = ${#NB_PIDS_ORDER[@]} - 1; i >= 0; i--)); do
    name=${NB_PIDS_ORDER[i]}
    pid=${NB_PID[$name]:-}
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  local deadline=$(($(date +%s) + 5))
  for name in "${NB_PIDS_ORDER[@]}"; do
    pid=${NB_PID[$name]:-}
    [ -n "$pid" ] || continue
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${NB_NETNS[@]}"; do
    # Only processes this script started live in its namespaces.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  if [ -n "$NB_ROOT" ] && [ -d "$NB_ROOT" ]; then
    if [ -n "${NB_TEST_KEEP_DIR:-}" ]; then
      echo "kept $NB_ROOT" >&2
    else
      rm -rf "$NB_ROOT"
    fi
  fi
  exit "$rc"
}

# nb_bin VAR NAME SUBPATH: $VAR if set, else BUILD/SUBPATH, else the first executable NAME in BUILD.
nb_bin() {
  local var=$1 name=$2 sub=$3 path
  path=${!var:-}
  if [ -z "$path" ]; then
    if [ -x "$NB_BUILD/$sub" ]; then
      path=$NB_BUILD/$sub
    else
      path=$(find "$NB_BUILD" -type f -name "$name" -perm -u+x 2>/dev/null | head -n 1)
    fi
  fi
  printf -v "$var" '%s' "$path"
}

nb_init() {
  [ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
  NB_BUILD=$(cd "$1" && pwd) || { echo "no build dir $1" >&2; exit 2; }
  nb_bin BINDERD binderd local_driver/binderd
  nb_bin SERVICEMANAGER servicemanager cmds/servicemanager/servicemanager
  nb_bin BINDERCTL binderctl cmds/binderctl/binderctl
  nb_bin ECHO_SERVICE echo_service cmds/echo/echo_service
  nb_bin GW_PROBE gw_probe tests/gateway/gw_probe
  nb_bin BINDERGW bindergw gateway/bindergw
  local b
  for b in BINDERD SERVICEMANAGER BINDERCTL ECHO_SERVICE GW_PROBE; do
    if [ -z "${!b}" ] || [ ! -x "${!b}" ]; then
      echo "FAIL: $b not built in $NB_BUILD" >&2
      exit 1
    fi
  done
  NB_ROOT=$(mktemp -d "/tmp/nb-$2.XXXXXX")
  trap nb_cleanup EXIT
  trap 'exit 130' INT TERM
}

nb_require_bindergw() {
  # The gateway tests fail (never skip) without bindergw: they are the gateway's acceptance tests.
  if [ -z "$BINDERGW" ] || [ ! -x "$BINDERGW" ]; then
    nb_fail "bindergw is not built in $NB_BUILD (set BINDERGW=PATH or build the bindergw target)"
  fi
}

nb_host() {
  NB_HOST_DIR[$1]=$NB_ROOT/host-$1
  NB_HOST_NS[$1]=${2:-}
  mkdir -p "${NB_HOST_DIR[$1]}"
}

# nb_in_cmd H CMD...: sets NB_CMD to CMD with H's NETBINDER_DIR, inside H's namespace when it
# has one. `ip netns exec` and `env` exec the command, so the pid of a backgrounded NB_CMD is the
# command's own (a backgrounded shell function would be a subshell: killing it would not kill the
# command).
nb_in_cmd() {
  local h=$1
  shift
  NB_CMD=(env NETBINDER_DIR="${NB_HOST_DIR[$h]}" "$@")
  if [ -n "${NB_HOST_NS[$h]}" ]; then
    NB_CMD=(ip netns exec "${NB_HOST_NS[$h]}" "${NB_CMD[@]}")
  fi
}

# nb_in H CMD...: runs CMD on H in the foreground.
nb_in() {
  nb_in_cmd "$@"
  "${NB_CMD[@]}"
}

nb_bg() {
  local name=$1 h=$2
  shift 2
  nb_in_cmd "$h" "$@"
  "${NB_CMD[@]}" >"$NB_ROOT/$name.log" 2>&1 &
  NB_PID[$name]=$!
  NB_PIDS_ORDER+=("$name")
}

nb_alive() { kill -0 "${NB_PID[$1]}" 2>/dev/null; }

nb_kill9() {
  local pid=${NB_PID[$1]}
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  NB_PID[$1]=""
}

# nb_wait_for DESC SECS CMD...: until CMD succeeds.
nb_wait_for() {
  local desc=$1 secs=$2
  shift 2
  local deadline=$(($(nb_now_ms) + secs * 1000))
  until "$@" >/dev/null 2>&1; do
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "$desc: not within ${secs}s"
    sleep 0.05
  done
}

nb_start_host() {
  local h=$1 dir=${NB_HOST_DIR[$1]}
  nb_bg "binderd-$h" "$h" "$BINDERD" --dir "$dir" --log-level warn
  nb_wait_for "binderd of $h" 10 test -S "$dir/binder"
  nb_bg "servicemanager-$h" "$h" "$SERVICEMANAGER"
  # `binderctl check` exits 20 until handle 0 answers a PING.
  nb_wait_for "servicemanager of $h" 10 nb_in "$h" "$BINDERCTL" check nothing
}

nb_start_echo() {
  local h=$1 name=$2
  nb_bg "echo-$h" "$h" "$ECHO_SERVICE" --name "$name"
  nb_wait_for "echo_service $name on $h" 10 grep -q "registered as $name" "$NB_ROOT/echo-$h.log"
}

nb_probe() {
  local h=$1
  shift
  nb_in "$h" timeout -k 5 "$NB_PROBE_TIMEOUT_S" "$GW_PROBE" "$@"
}

nb_check() {
  local desc=$1 h=$2 out rc=0
  shift 2
  out=$(nb_probe "$h" "$@" 2>&1) || rc=$?
  printf '%s [%s] %s\n' "$h" "$desc" "$out"
  [ "$rc" -eq 0 ] || nb_fail "$desc on $h: gw_probe $* exited $rc"
}

nb_check_rc() {
  local want=$1 desc=$2 h=$3 out rc=0
  shift 3
  out=$(nb_probe "$h" "$@" 2>&1) || rc=$?
  printf '%s [%s, exit %d] %s\n' "$h" "$desc" "$rc" "$out"
  [ "$rc" -eq "$want" ] || nb_fail "$desc on $h: gw_probe $* exited $rc, expected $want"
}

# Summary of the driver's state for H: the counts a leak would change. Threads are left out (the
# pool grows on demand); dead nodes are the nodes listed before the first proc.
nb_state() {
  local dump
  dump=$(nb_in "$1" "$BINDERCTL" state) || nb_fail "binderctl state on $1 failed"
  printf '%s\n' "$dump" | awk '
    /^proc / { procs++; inproc = 1; next }
    /^  node / { if (inproc) nodes++; else dead++; next }
    /^  ref / {
      refs++
      if ($0 ~ / dead node /) deadrefs++
      for (i = 1; i < NF; i++) { if ($i == "s") s += $(i + 1); if ($i == "w") w += $(i + 1) }
      next
    }
    /^  buffer / { buffers++ }
    /transaction/ { txns++ }
    END {
      printf "procs=%d nodes=%d refs=%d strong=%d weak=%d dead_nodes=%d dead_refs=%d buffers=%d transactions=%d\n",
        procs, nodes, refs, s, w, dead, deadrefs, buffers, txns
    }'
}

nb_settled_state() {
  local h=$1 a b deadline=$(($(nb_now_ms) + 10000))
  a=$(nb_state "$h")
  while :; do
    sleep 0.3
    b=$(nb_state "$h")
    [ "$a" = "$b" ] && { printf '%s\n' "$b"; return 0; }
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "binderd state of $h does not settle: $a / $b"
    a=$b
  done
}

nb_wait_equal() {
  local desc=$1 secs=$2 want=$3 got
  shift 3
  local deadline=$(($(nb_now_ms) + secs * 1000))
  while :; do
    got=$("$@" 2>&1) || true
    [ "$got" = "$want" ] && return 0
    if [ "$(nb_now_ms)" -ge "$deadline" ]; then
      printf 'baseline:\n%s\nnow:\n%s\n' "$want" "$got" >&2
      nb_fail "$desc: not back to the baseline within ${secs}s"
    fi
    sleep 0.2
  done
}

# nb_death_start NAME H SERVICE TIMEOUT_MS: a background `death` probe, returned once it has
# printed "linked" (the registration is in place before the caller breaks anything).
nb_death_start() {
  local name=$1 h=$2 service=$3 timeout_ms=$4
  nb_bg "$name" "$h" timeout -k 5 "$NB_PROBE_TIMEOUT_S" "$GW_PROBE" death "$service" "$timeout_ms"
  local deadline=$(($(nb_now_ms) + 15000))
  until grep -q '^linked$' "$NB_ROOT/$name.log"; do
    nb_alive "$name" || nb_fail "death probe $name on $h exited before linking"
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "death probe $name on $h did not link in 15s"
    sleep 0.02
  done
}

# nb_death_wait NAME: the probe's exit code (0 = binderDied ran); prints its output.
nb_death_wait() {
  local name=$1 rc=0
  wait "${NB_PID[$name]}" || rc=$?
  NB_PID[$name]=""
  sed "s/^/  [$name] /" "$NB_ROOT/$name.log"
  return "$rc"
}

# gw-state of H with a bounded retry (the gateway may be registering).
nb_gw_state() {
  nb_probe "$1" --wait-ms 10000 gw-state
}

# gw-state of H once two reads 300 ms apart agree (bounded): the baseline is not a transient.
nb_settled_gw_state() {
  local h=$1 a b deadline=$(($(nb_now_ms) + 10000))
  a=$(nb_gw_state "$h") || nb_fail "gw-state $h"
  while :; do
    sleep 0.3
    b=$(nb_gw_state "$h") || nb_fail "gw-state $h"
    [ "$a" = "$b" ] && { printf '%s\n' "$b"; return 0; }
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "gw-state of $h does not settle: $a / $b"
    a=$b
  done
}

# Fails unless every session line of a gw-state dump has calls_out=0 calls_in=0.
nb_assert_no_calls() {
  local h=$1 dump=$2
  if printf '%s\n' "$dump" | grep '^peer=' | grep -Eqv 'calls_out=0 calls_in=0$'; then
    nb_fail "gateway of $h has calls in flight while idle:"$'\n'"$dump"
  fi
}

# ---- added for hostile_test.sh ----------------------------------------------------------------
#   nb_free_port                  a TCP port on 127.0.0.1 with no socket on it now (random high
#                                 ports; the caller checks its server really listens there)
#   nb_listening PORT             true once something listens on PORT
#   nb_wait_listening NAME PORT   until NAME listens on PORT (15 s; fails if NAME exits)
nb_free_port() {
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

nb_listening() { [ -n "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ]; }

nb_wait_listening() {
  local name=$1 port=$2 deadline=$(($(nb_now_ms) + 15000))
  until nb_listening "$port"; do
    nb_alive "$name" || nb_fail "$name exited (port $port taken?)"
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "$name not listening on $port in 15s"
    sleep 0.05
  done
}

# ---- added for fd_test.sh -----------------------------------------------------------------------
#   nb_fd_count NAME              entries of /proc/PID/fd of the background process NAME, binder
#                                 connections left out (unix SEQPACKET sockets: binderd's
#                                 per-thread client connections, which come and go with looper
#                                 threads, and binderd's side of them)
#   nb_fd_list NAME               those entries, "FD -> TARGET" per line (for failure messages)
#   nb_fd_counts NAME...          "NAME=COUNT ..." on one line (the baseline fd_test compares)
#   nb_settled_fd_counts NAME...  nb_fd_counts once two reads 300 ms apart agree (bounded)
#   nb_wait_fds DESC SECS BASE NAME...  until nb_fd_counts NAME... is BASE (30 s); lists on failure
nb_fd_list() {
  local pid=${NB_PID[$1]:-}
  [ -n "$pid" ] || return 0
  local fd
  {
    awk 'NR > 1 && $5 == "0005" { print "seq " $7 }' "/proc/$pid/net/unix" 2>/dev/null || true
    for fd in "/proc/$pid/fd"/*; do
      [ -e "$fd" ] || [ -L "$fd" ] || continue
      printf 'fd %s %s\n' "${fd##*/}" "$(readlink "$fd" 2>/dev/null || echo '?')"
    done
  } | awk '
    $1 == "seq" { seq["socket:[" $2 "]"] = 1; next }
    $1 == "fd" && !($3 in seq) { print $2 " -> " $3 }'
}

nb_fd_count() {
  if [ -z "${NB_PID[$1]:-}" ]; then
    echo "gone"
    return 0
  fi
  nb_fd_list "$1" | wc -l
}

nb_fd_counts() {
  local name out=""
  for name in "$@"; do out+="$name=$(nb_fd_count "$name") "; done
  printf '%s\n' "${out% }"
}

nb_settled_fd_counts() {
  local a b deadline=$(($(nb_now_ms) + 10000))
  a=$(nb_fd_counts "$@")
  while :; do
    sleep 0.3
    b=$(nb_fd_counts "$@")
    [ "$a" = "$b" ] && { printf '%s\n' "$b"; return 0; }
    [ "$(nb_now_ms)" -lt "$deadline" ] || nb_fail "fd counts do not settle: $a / $b"
    a=$b
  done
}

# nb_wait_fds DESC SECS BASELINE NAME...: polls until nb_fd_counts NAME... equals BASELINE; on
# timeout prints the fd list of every process whose count differs, then fails.
nb_wait_fds() {
  local desc=$1 secs=$2 want=$3 got name
  shift 3
  local deadline=$(($(nb_now_ms) + secs * 1000))
  while :; do
    got=$(nb_fd_counts "$@")
    [ "$got" = "$want" ] && return 0
    [ "$(nb_now_ms)" -lt "$deadline" ] || break
    sleep 0.2
  done
  printf 'baseline: %s\nnow:      %s\n' "$want" "$got" >&2
  for name in "$@"; do
    if ! printf '%s\n' "$want" | tr ' ' '\n' | grep -qx "$name=$(nb_fd_count "$name")"; then
      printf -- '-- fds of %s (pid %s):\n' "$name" "${NB_PID[$name]:-}" >&2
      nb_fd_list "$name" | sed 's/^/   /' >&2
    fi
  done
  nb_fail "$desc: fd counts not back to the baseline within ${secs}s"
}
