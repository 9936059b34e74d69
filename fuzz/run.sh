#!/usr/bin/env bash
# Runs the fuzz targets one at a time, nice'd, one libFuzzer process each.
#
#   fuzz/run.sh [EXECUTIONS] [TARGET...]
#
# EXECUTIONS: libFuzzer -runs per target (default 10000000).
# TARGET: some of the targets (default: all of them, in a fixed order).
# Extra libFuzzer flags: FUZZ_FLAGS="-max_total_time=600" fuzz/run.sh …
#
# Prints per target: executions, wall time, exec/s, findings (files in
# fuzz/artifacts/TARGET/). The corpus grows in fuzz/corpus/TARGET (not
# committed); the committed seeds are read from fuzz/seeds/. Exit status 1
# when any target has a finding.
#
# Needs: cargo (stable is fine), a C++ compiler (libFuzzer is C++; g++ is
# installed with apt-get when missing) and cargo-fuzz (installed from
# crates.io when missing). See fuzz/README.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

runs="${1:-10000000}"
shift || true

# The cargo-fuzz installed when missing (the one these scripts were run with).
CARGO_FUZZ_VERSION=0.13.2

ALL=(yaml_fast yaml_parse json dotenv ini enc_value metadata sops_yaml age_identity ssh_key go_regex)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=("${ALL[@]}")
fi

# The seed directory and dictionary of each target.
seeds_of() {
    case "$1" in
        yaml_fast | yaml_parse) echo yaml ;;
        *) echo "$1" ;;
    esac
}
dict_of() {
    case "$1" in
        yaml_fast | yaml_parse | metadata) echo dicts/yaml.dict ;;
        sops_yaml) echo dicts/sops_yaml.dict ;;
        age_identity) echo dicts/age_identity.dict ;;
        enc_value) echo dicts/enc_value.dict ;;
        go_regex) echo dicts/go_regex.dict ;;
        *) echo "" ;;
    esac
}

# The largest input libFuzzer makes (-max_len). 16 KiB, except for ssh_key:
# age's key file parser checks every character of the base64 body with a
# base64 decode (nom's take_while1 in age-core), which is most of the
# target's time and grows with the input. 4 KiB holds every key file age
# and ssh-to-age take (an OpenSSH RSA-4096 private key file is about
# 3.4 KB, its binary body about 2.5 KB), so larger inputs only make the
# runs slower.
max_len_of() {
    case "$1" in
        ssh_key) echo 4096 ;;
        *) echo 16384 ;;
    esac
}

if ! command -v c++ >/dev/null 2>&1; then
    echo "run.sh: no C++ compiler; installing g++" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq g++ >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq g++ >/dev/null
    fi
fi
# cargo finds `cargo-fuzz` on PATH or in $CARGO_HOME/bin; it is installed in
# the latter, which works with a fresh CARGO_HOME too (CI with an empty HOME).
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz $CARGO_FUZZ_VERSION from crates.io" >&2
    nice -n 10 cargo install --locked --root "${CARGO_HOME:-$HOME/.cargo}" \
        "cargo-fuzz@$CARGO_FUZZ_VERSION"
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "run.sh: cargo-fuzz was installed but cargo does not find it" >&2
        exit 2
    fi
fi

# Stable toolchain: no sanitizer (see README.md). cargo-fuzz builds in
# release mode with debug assertions and overflow checks on.
echo "building the fuzz targets…" >&2
nice -n 10 cargo fuzz build --sanitizer none >&2
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin="$here/target/$triple/release"

printf '%-13s %12s %9s %9s  %s\n' target executions time exec/s findings
status=0
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"
    artifacts="$here/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    rm -f "$artifacts"/fuzz-*.log
    dict="$(dict_of "$t")"
    flags=(
        -runs="$runs"
        -jobs=1 -workers=1
        -timeout=10
        -rss_limit_mb=1536
        -max_len="$(max_len_of "$t")"
        -print_final_stats=1
        -artifact_prefix="$artifacts/"
    )
    if [ -n "$dict" ]; then
        flags+=(-dict="$here/$dict")
    fi
    marker="$artifacts/.started"
    touch "$marker"
    start=$(date +%s.%N)
    # -jobs=1 -workers=1: one fuzzing process, whose log is fuzz-0.log in
    # the working directory.
    (cd "$artifacts" && nice -n 10 "$bin/$t" "${flags[@]}" ${FUZZ_FLAGS:-} \
        "$corpus" "$here/seeds/$(seeds_of "$t")" >/dev/null 2>&1) || true
    end=$(date +%s.%N)
    log="$artifacts/fuzz-0.log"
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -1)"
    execs="${execs:-0}"
    secs="$(awk "BEGIN { print $end - $start }")"
    rate="$(awk "BEGIN { printf \"%d\", $execs / ($secs + 0.001) }")"
    # Findings of this run: the files libFuzzer wrote since it started.
    findings=()
    while IFS= read -r f; do
        findings+=("${f#"$here"/}")
    done < <(find "$artifacts" -newer "$marker" -type f \
        \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)
    if [ "${#findings[@]}" -gt 0 ]; then
        status=1
        summary="${#findings[@]}: ${findings[*]}"
    else
        summary="none"
    fi
    printf '%-13s %12s %8.1fs %9s  %s\n' "$t" "$execs" "$secs" "$rate" "$summary"
done
exit "$status"
