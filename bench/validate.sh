#!/usr/bin/env bash
# Benchmark: `nsec validate --keyless` and `nsec validate` over a generated
# store of N files (default 1000), against a loop of real `sops decrypt` over
# the same files, in the same run. Prints wall times and ratios.
#
#   bench/validate.sh [N]        (NSEC=path/to/nsec SOPS=path/to/sops to override)
#
# Uses the throwaway test keys of tests/data/vectors/keys; a release build is
# made unless NSEC is given.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
n=${1:-1000}
if [ -z "${NSEC:-}" ]; then
  cargo build -q --release -p secrets-cli
  NSEC=$root/target/release/nsec
fi
SOPS=${SOPS:-$root/.test-tools/bin/sops}
[ -x "$SOPS" ] || { echo "real sops missing at $SOPS (run scripts/test.sh)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keys=$work/keys.txt
cp tests/data/vectors/keys/age-test-key-A.txt "$keys"
chmod 600 "$keys"
A=$(grep -o 'age1[a-z0-9]*' "$keys" | head -1)
B=age19rlf2ksa8h9lz4q9avw74rwz9ycwa6x0kg927n5pxg9ue2a2df9qdj0506
store=$work/secrets
mkdir -p "$store/api-keys"
cat > "$store/.sops.yaml" <<YAML
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
export SOPS_AGE_KEY_FILE=$keys SOPS_DISABLE_VERSION_CHECK=1 HOME=$work
# Every file is encrypted on its own (its own data key and age stanzas), so
# nothing can be shared between files.
for i in $(seq 1 "$n"); do
  printf 'api_key: sk-bench-%06d\nuser_unencrypted: bench\nnested:\n  a: %d\n  b: two\n' "$i" "$i" \
    | (cd "$store" && "$NSEC" encrypt --filename-override "api-keys/s$i.yaml" -) > "$store/api-keys/s$i.yaml"
done

now() { date +%s.%N; }
t0=$(now); "$NSEC" validate --keyless --dir "$store" | tail -1; t1=$(now)
"$NSEC" validate --dir "$store" | tail -1; t2=$(now)
for f in "$store"/api-keys/*.yaml; do "$SOPS" decrypt "$f" > /dev/null; done; t3=$(now)

awk -v n="$n" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" 'BEGIN {
  k = t1 - t0; v = t2 - t1; s = t3 - t2
  printf "files: %d\n", n
  printf "nsec validate --keyless : %8.3f s\n", k
  printf "nsec validate           : %8.3f s\n", v
  printf "sops decrypt loop       : %8.3f s\n", s
  printf "ratio sops loop / validate --keyless : %6.1fx\n", s / k
  printf "ratio sops loop / validate           : %6.1fx\n", s / v
}'
