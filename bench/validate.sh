#!/usr/bin/env bash
# Benchmark: `nsec validate --keyless` and `nsec validate` over generated
# stores of N files (default 1,000 and 10,000), against a loop of real
# `sops decrypt` over the same files, in the same run. Prints wall times
# (median of RUNS runs, default 3), the time per file (equal at every N when
# validate is linear) and the ratios.
#
#   bench/validate.sh [N...]       (NSEC=path/to/nsec SOPS=path/to/sops to override)
#   SOPS_FILES=300 bench/validate.sh 1000 10000
#   NSEC_BEFORE=/tmp/old/nsec bench/validate.sh   # also an older build, same run
#
# The store's .sops.yaml has three `nsec.ignore` globs (as a store with a
# README and docs has), so every file is also matched against them.
#
# The sops loop runs over the first SOPS_FILES files of each store (default
# 1,000; 10,000 sops processes take minutes) and is scaled to N: one
# `sops decrypt` per file costs the same whatever the store's size.
#
# Uses the throwaway test keys of tests/data/vectors/keys; a release build is
# made unless NSEC is given.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000)
runs=${RUNS:-3}
sops_files=${SOPS_FILES:-1000}
if [ -z "${NSEC:-}" ]; then
  cargo build -q --release -p secrets-cli
  NSEC=${CARGO_TARGET_DIR:-$root/target}/release/nsec
fi
SOPS=${SOPS:-${NSEC_TEST_SOPS:-$root/.test-tools/bin/sops}}
[ -x "$SOPS" ] || { echo "real sops missing at $SOPS (run scripts/test.sh)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keys=$work/keys.txt
cp tests/data/vectors/keys/age-test-key-A.txt "$keys"
chmod 600 "$keys"
A=$(grep -o 'age1[a-z0-9]*' "$keys" | head -1)
B=age19rlf2ksa8h9lz4q9avw74rwz9ycwa6x0kg927n5pxg9ue2a2df9qdj0506
rules() {
  cat <<YAML
nsec:
  ignore:
    - README.md
    - docs/**/*.md
    - "**/*.txt"
keys:
  - &laptop $A
  - &desktop $B
creation_rules:
  - path_regex: ^api-keys/.*\.yaml\$
    key_groups:
      - age:
          - *laptop
          - *desktop
YAML
}
export SOPS_AGE_KEY_FILE=$keys SOPS_DISABLE_VERSION_CHECK=1 HOME=$work

# One pool of files, each encrypted on its own (its own data key and age
# stanzas, so nothing can be shared between files); every store holds the
# first N of them (hard links).
max=0
for n in "${sizes[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
pool=$work/pool
mkdir -p "$pool/api-keys"
rules > "$pool/.sops.yaml"
echo "# bench store" > "$pool/README.md"
for i in $(seq 1 "$max"); do
  printf 'api_key: sk-bench-%06d\nuser_unencrypted: bench\nnested:\n  a: %d\n  b: two\n' "$i" "$i" \
    | (cd "$pool" && "$NSEC" encrypt --filename-override "api-keys/s$i.yaml" -) > "$pool/api-keys/s$i.yaml"
done

now() { date +%s.%N; }
# median_time CMD...: the median wall time of $runs runs, in seconds.
median_time() {
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(now); "$@" > /dev/null; t1=$(now)
    echo "$t1 - $t0" | bc -l
  done | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'
}

echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg), runs: $runs"
printf '%8s %12s %10s %12s %10s %12s %9s %9s' files "keyless s" "ms/file" "validate s" "ms/file" "sops loop s" "x keyless" "x full"
[ -n "${NSEC_BEFORE:-}" ] && printf ' %12s %12s' "bef keyless" "bef valid."
echo
for n in "${sizes[@]}"; do
  store=$work/store-$n
  mkdir -p "$store/api-keys"
  cp "$pool/.sops.yaml" "$pool/README.md" "$store/"
  for i in $(seq 1 "$n"); do ln "$pool/api-keys/s$i.yaml" "$store/api-keys/s$i.yaml"; done
  k=$(median_time "$NSEC" validate --keyless --dir "$store")
  v=$(median_time "$NSEC" validate --dir "$store")
  m=$(( n < sops_files ? n : sops_files ))
  t0=$(now)
  for i in $(seq 1 "$m"); do "$SOPS" decrypt "$store/api-keys/s$i.yaml" > /dev/null; done
  t1=$(now)
  s=$(echo "($t1 - $t0) * $n / $m" | bc -l)
  awk -v n="$n" -v k="$k" -v v="$v" -v s="$s" 'BEGIN {
    printf "%8d %12.3f %10.4f %12.3f %10.4f %12.1f %8.0fx %8.0fx", n, k, 1000*k/n, v, 1000*v/n, s, s/k, s/v }'
  if [ -n "${NSEC_BEFORE:-}" ]; then
    bk=$(median_time "$NSEC_BEFORE" validate --keyless --dir "$store")
    bv=$(median_time "$NSEC_BEFORE" validate --dir "$store")
    printf ' %12.3f %12.3f' "$bk" "$bv"
  fi
  echo
  rm -rf "$store"
done
