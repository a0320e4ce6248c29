#!/usr/bin/env bash
# binderd vs the Linux kernel Binder driver, in one run inside ../shared/tools/binder-vm
# (docs/performance.md "Kernel driver vs binderd (binder-vm)"). Builds the static target
# `bench_vm_compare` (build/benchvm), boots the VM (qemu; TCG software emulation where there is no
# usable KVM) and runs it there: an echo server on /dev/binder and one on a binderd started inside
# the VM, the same client code timing sync round trips of 0 B .. 1 MiB on both, pinned to CPU 0 and
# unpinned. Prints the table, then the JSON (also written to bench-vm-results.json).
#
#   deploy/bench-vm.sh [--cpus N] [--timeout S] [--json FILE] [PROGRAM FLAGS...]
#       PROGRAM FLAGS: --repeat N (3) --scale X (1) --max-ms N (2000) --sizes a,b,..
#                      --placements cpu0,any --backends kernel,binderd
#   deploy/bench-vm.sh --smoke           a seconds-long run (ctest bench_vm_compare_smoke): exit 0
#                                        when every row was measured; never checks timing
#   --no-build --binary PATH             run an already built binary (ctest does this)
#
# Exit status: the program's (0 = every row measured); 77 when binder-vm or qemu is not available
# (--smoke only; otherwise binder-vm installs qemu itself). Env: NB_BUILD_DIR (build), NB_JOBS
# (nproc), BINDER_VM (path of the binder-vm runner).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
vm=${BINDER_VM:-$root/../shared/tools/binder-vm/binder-vm}
build=${NB_BUILD_DIR:-$root/build}/benchvm
jobs=${NB_JOBS:-$(nproc)}
binary=""
do_build=1
smoke=0
cpus=2
timeout=""
json=$root/bench-vm-results.json
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --binary) binary=$2; shift ;;
    --smoke) smoke=1 ;;
    --cpus) cpus=$2; shift ;;
    --timeout) timeout=$2; shift ;;
    --json) json=$2; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [ ! -x "$vm" ]; then
  echo "bench-vm: binder-vm not found at $vm (set BINDER_VM)" >&2
  exit $([ $smoke = 1 ] && echo 77 || echo 2)
fi
if [ $smoke = 1 ] && ! command -v qemu-system-x86_64 >/dev/null; then
  echo "bench-vm: qemu-system-x86_64 not installed: skipped" >&2
  exit 77
fi

if [ $do_build = 1 ]; then
  cmake -S "$root" -B "$build" -DNB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" --target bench_vm_compare -j"$jobs"
  binary=$build/bench/bench_vm_compare
fi
[ -n "$binary" ] && [ -x "$binary" ] || { echo "bench-vm: no binary (--binary PATH)" >&2; exit 2; }

if [ $smoke = 1 ]; then
  # Every size and both placements, a handful of round trips each.
  args=(--repeat 1 --scale 0.01 --max-ms 200 "${args[@]}")
  timeout=${timeout:-400}
  json=$(mktemp /tmp/bench-vm-smoke.XXXXXX.json)
fi
timeout=${timeout:-1200}

# The guest gets a copy without debug info (a smaller initramfs boots faster under TCG).
guest_dir=$(mktemp -d /tmp/bench-vm.XXXXXX)
trap 'rm -rf "$guest_dir"' EXIT
guest_bin=$guest_dir/bench_vm_compare
strip --strip-debug -o "$guest_bin" "$binary" 2>/dev/null || cp "$binary" "$guest_bin"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
host_date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
out=$guest_dir/stdout
err=$guest_dir/stderr
set +e
"$vm" --timeout "$timeout" --cpus "$cpus" "$guest_bin" "${args[@]}" >"$out" 2>"$err"
rc=$?
set -e
# binder-vm's own lines (accelerator, VM time) and the harness's progress go to stderr.
accel=$(grep -o 'BINDER_VM_EXIT=[0-9]* (.*)' "$err" | tail -1 || true)
grep -v '^bench_vm_compare: .* repeat ' "$err" >&2 || true
echo "# host: $(uname -r), $(nproc) CPUs, $host_date; load at start $load_start, at end" \
  "$(cut -d' ' -f1-3 /proc/loadavg); binder-vm --cpus $cpus: ${accel:-exit $rc}"
sed '/^== json$/,$d' "$out"
if grep -q '^== json$' "$out"; then
  sed '1,/^== json$/d' "$out" >"$json"
  [ -z "$(tail -c1 "$json")" ] || echo >>"$json"  # the serial console may drop the last newline
  echo
  echo "== json ($json)"
  cat "$json"
fi
if [ $smoke = 1 ]; then
  rm -f "$json"
  [ $rc = 125 ] && echo "bench-vm: the VM itself failed (binder-vm exit 125)" >&2
fi
exit $rc
