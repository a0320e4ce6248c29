#!/usr/bin/env bash
# The benchmark command (docs/performance.md): builds the `bench` target (and binderd,
# servicemanager, bindergw, which it starts) in a RelWithDebInfo build and runs it once. Prints the
# table on stdout and writes JSON.
#
#   deploy/bench.sh [BENCH FLAGS...]     e.g. --scale 0.2 (shorter), --repeat 1 (default 3),
#                                        --placements cpu0, --no-gateway,
#                                        --json FILE (default bench-results.json)
#
# Env: NB_BUILD_DIR (build), NB_JOBS (nproc). Run it on an idle machine: the load is printed at the
# start and end; measurements taken while something else runs are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${NB_JOBS:-$(nproc)}
BUILD=${NB_BUILD_DIR:-build}/bench
cmake -S . -B "$BUILD" -DNB_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target bench -j"$JOBS"
exec "$BUILD/bench/bench" "$@"
