#!/usr/bin/env bash
# The README's test command: installs dependencies, builds everything with warnings as errors, builds
# the pure layers again under clang with ASan+UBSan and libFuzzer, and runs the whole suite
# (unit, integration, and a bounded fuzz smoke run). VM tests (label vm) run when NB_VM_TESTS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh

JOBS=${NB_JOBS:-$(nproc)}
BUILD=${NB_BUILD_DIR:-build}

cmake -S . -B "$BUILD/main" -DNB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD/main" -j"$JOBS"

CC=clang CXX=clang++ cmake -S . -B "$BUILD/asan" -DNB_WERROR=ON -DNB_ONLY_PURE=ON \
  -DNB_SANITIZE=address,undefined -DNB_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$BUILD/asan" -j"$JOBS"

exclude=vm
if [ "${NB_VM_TESTS:-0}" = 1 ]; then exclude='^$'; fi

status=0
echo "== tests (g++ build)"
ctest --test-dir "$BUILD/main" --output-on-failure -LE "$exclude" -j"$JOBS" || status=1
echo "== tests (clang ASan+UBSan build, with fuzz smoke runs)"
ctest --test-dir "$BUILD/asan" --output-on-failure -LE "$exclude" -j"$JOBS" || status=1
exit $status
