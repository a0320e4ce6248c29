#!/usr/bin/env bash
# The issue-4 acceptance run on the real kernel driver: the same servicemanager, echo_service,
# binderctl and echo_client binaries that run on binderd, inside ../shared/tools/binder-vm
# (Linux 6.1 binder_linux.ko, /dev/binder). binderctl lists the services and calls echo with a
# decoded reply; echo_client runs all its checks (nested call-back, one-way order, fd, exception).
# Usage: kernel_vm_demo.sh SERVICEMANAGER ECHO_SERVICE BINDERCTL ECHO_CLIENT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
vm=${BINDER_VM:-$here/../../../shared/tools/binder-vm/binder-vm}
[ -x "$vm" ] || { echo "binder-vm not found at $vm (set BINDER_VM)" >&2; exit 2; }
out=$("$vm" -q --timeout 240 --add "$1" --add "$2" --add "$3" --add "$4" --shell-cmd '
  unset NETBINDER_DIR
  /opt/servicemanager >/tmp/sm.log 2>&1 &
  /opt/echo_service >/tmp/echo.log 2>&1 &
  i=0; until /opt/binderctl check echo 2>/dev/null | grep -q ": found"; do
    i=$((i+1)); [ $i -gt 100 ] && { echo "echo never registered"; cat /tmp/sm.log /tmp/echo.log; exit 1; }
    sleep 0.1
  done
  /opt/binderctl list || exit 1
  /opt/binderctl call echo 1 s16 "hello from the kernel" --reply s16 || exit 1
  /opt/binderctl ping echo || exit 1
  /opt/echo_client || exit 1
  echo KERNEL-DEMO-OK')
rc=$?
echo "$out"
grep -q '^KERNEL-DEMO-OK$' <<<"$out" || exit 1
grep -q '"hello from the kernel"' <<<"$out" || { echo "binderctl reply not decoded"; exit 1; }
grep -q 'echo: \[' <<<"$out" || { echo "binderctl list did not show echo"; exit 1; }
exit $rc
