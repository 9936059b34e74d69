#!/usr/bin/env bash
# CI smoke test of the fuzz targets: every target for a short, bounded run
# (20,000 executions or 15 seconds each, whichever comes first), one at a
# time. Exit status 1 when any target finds something.
#
#   fuzz/smoke.sh [EXECUTIONS] [SECONDS]
#
# Needs what fuzz/run.sh needs (cargo, a C++ compiler, cargo-fuzz; the
# last two are installed when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
runs="${1:-20000}"
secs="${2:-15}"
# A fixed seed: the same executions on every CI run (libFuzzer seeds from
# the clock otherwise), so a pass or a finding is reproducible. The long
# runs (run.sh) keep random seeds.
FUZZ_FLAGS="-seed=${FUZZ_SEED:-1} -max_total_time=$secs ${FUZZ_FLAGS:-}" exec "$here/run.sh" "$runs"
