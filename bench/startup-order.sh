#!/usr/bin/env bash
# Regenerates crates/secrets-cli/startup.ld, the linker script that places
# the functions a short nsec command runs next to each other at the start
# of the executable's code. Spread over 6 MB of code, they made the kernel
# map ~54 separate 64 KiB windows of it at every start (one page fault
# each, with the 16 pages around it); grouped, they need a handful.
#
#   bench/startup-order.sh           # release build, profile, rewrite startup.ld
#   bench/startup-order.sh --check   # only say how much of startup.ld still
#                                    # matches the current release build
#
# The functions come from callgrind runs of the commands scripts run once
# per secret (decrypt, encrypt, filestatus, set, exec-env) on a one-value
# file. A function is named by a pattern without the hash that rustc puts
# in symbol names (which changes with the compiler, the dependencies' versions and
# features), unless that pattern would also match other functions (the
# instances of one generic function), which are then named exactly. What
# no longer matches is simply not grouped: a stale script costs start-up
# time, never correctness. Run it again after a toolchain or dependency
# update, or when the start-up path changes; bench/README.md has the
# measurement.
#
# Needs: valgrind, python3 (bench/startup_order.py does the text work).
# Nothing is asserted: this is a tool, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
script=$root/crates/secrets-cli/startup.ld
command -v valgrind > /dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 2; }
command -v python3 > /dev/null || { echo "python3 is needed" >&2; exit 2; }
cargo build -q --release -p secrets-cli
bin=$root/target/release/nsec
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
nm --defined-only "$bin" | awk '$2 ~ /^[tTwW]$/ { print $3 }' > "$work/symbols"
if [ "${1:-}" = --check ]; then
  python3 bench/startup_order.py check "$script" "$work/symbols"
  exit 0
fi

recipient=age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle
export SOPS_AGE_KEY_FILE=$root/tests/data/vectors/keys/age-test-key-A.txt
printf 'openai: sk-test-0123456789abcdef\n' > "$work/one.yaml"
"$bin" encrypt --age "$recipient" "$work/one.yaml" > "$work/one.enc.yaml"
n=0
profile() {
  n=$((n + 1))
  valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$work/cg.$n" \
    "$bin" "$@" > /dev/null
}
profile decrypt "$work/one.enc.yaml"
profile encrypt --age "$recipient" "$work/one.yaml"
profile filestatus "$work/one.enc.yaml"
profile set "$work/one.enc.yaml" '["openai"]' '"sk-test-changed"'
profile exec-env "$work/one.enc.yaml" true
python3 bench/startup_order.py write "$script" "$work/symbols" "$work"/cg.*
