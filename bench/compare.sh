#!/usr/bin/env bash
# Times nsec against the real Go sops 3.11 in the same run, for encrypt and
# decrypt of YAML files with 1, 10,000 and 100,000 values, and prints the
# ratios of wall time and of peak memory (RSS).
#
#   bench/compare.sh            # release build, 5 runs each, median
#   RUNS=9 bench/compare.sh
#
# Needs: the sops binary that scripts/test.sh installs (.test-tools/bin/sops, or
# $NSEC_TEST_SOPS), GNU time (/usr/bin/time), python3. Nothing is asserted:
# this is a measurement, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-5}
sops=${NSEC_TEST_SOPS:-$root/.test-tools/bin/sops}
[ -x "$sops" ] || { echo "no sops at $sops (run scripts/test.sh once)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 2; }
cargo build -q --release -p secrets-cli
nsec=$root/target/release/nsec

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
key=$root/tests/data/vectors/keys/age-test-key-A.txt
recipient=age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle
export HOME=$work/home SOPS_DISABLE_VERSION_CHECK=1 SOPS_AGE_KEY_FILE=$key
unset SOPS_CONFIG NSEC_DIR XDG_CONFIG_HOME || true

gen() { # gen N FILE: N string/int/bool values in nested maps, with comments
  python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    if n == 1:
        f.write("openai: sk-test-0123456789abcdef\n")
    else:
        groups = max(1, n // 50)
        per = n // groups
        for g in range(groups):
            f.write(f"# service {g}\nservice_{g}:\n")
            for i in range(per):
                kind = i % 3
                v = f"secret-value-{g}-{i}-abcdefghijklmnop" if kind == 0 else (str(g * 1000 + i) if kind == 1 else "true")
                f.write(f"    key_{i}: {v}\n")
PY
}

# measure CMD... -> prints "seconds maxrss_kib" (median over $runs)
measure() {
  local times=() mems=() out
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$work/time.out" -f "%e %M" "$@" >/dev/null 2>/dev/null
    out=$(tail -1 "$work/time.out")
    times+=("${out% *}"); mems+=("${out#* }")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END{printf "%s ", a[int((NR+1)/2)]}'
  printf '%s\n' "${mems[@]}" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}

# GNU time reports 0.00 s below 10 ms; use a finer clock for small files.
measure_fine() {
  python3 - "$runs" "$@" <<'PY'
import resource, subprocess, sys, time, statistics
runs, cmd = int(sys.argv[1]), sys.argv[2:]
walls, rss = [], []
for _ in range(runs):
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls.append(time.perf_counter() - t)
    if p.returncode != 0:
        sys.exit(f"failed: {cmd}")
print(f"{statistics.median(walls):.4f}")
PY
}

printf '%-8s %-8s %12s %12s %8s %12s %12s %8s\n' op values "nsec s" "sops s" "speedup" "nsec MiB" "sops MiB" "mem %"
for n in 1 10000 100000; do
  plain=$work/plain-$n.yaml
  gen "$n" "$plain"
  "$sops" encrypt --age "$recipient" "$plain" > "$work/enc-$n.yaml"
  for op in encrypt decrypt; do
    if [ "$op" = encrypt ]; then
      a=("$nsec" encrypt --age "$recipient" "$plain"); b=("$sops" encrypt --age "$recipient" "$plain")
    else
      a=("$nsec" decrypt "$work/enc-$n.yaml"); b=("$sops" decrypt "$work/enc-$n.yaml")
    fi
    read -r _ nm <<<"$(measure "${a[@]}")"
    read -r _ sm <<<"$(measure "${b[@]}")"
    nt=$(measure_fine "${a[@]}"); st=$(measure_fine "${b[@]}")
    awk -v op="$op" -v n="$n" -v nt="$nt" -v st="$st" -v nm="$nm" -v sm="$sm" 'BEGIN {
      printf "%-8s %-8s %12.4f %12.4f %7.1fx %12.1f %12.1f %7.0f%%\n", op, n, nt, st, st/nt, nm/1024, sm/1024, 100*nm/sm }'
  done
done
