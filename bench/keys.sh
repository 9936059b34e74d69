#!/usr/bin/env bash
# The cost of opening a file by key type, nsec against the real Go sops 3.11
# in the same run: `decrypt` of a one-value YAML file made by sops for
#   age   an X25519 age key (the baseline),
#   pq    a post-quantum age key (age1pq1…, from `nsec keygen --pq`),
#   pgp   a PGP key, through gpg (both tools run gpg; its agent is warm),
#   kms   an AWS KMS key, on a local moto server (loopback only).
# Runs of nsec and sops alternate; prints the median wall time of each and
# the ratio sops/nsec.
#
#   bench/keys.sh            # release build, 21 runs each
#   RUNS=51 bench/keys.sh
#
# Needs the tools scripts/test.sh installs (sops, gpg, gpgconf, moto_server
# in .test-tools/bin, or $NSEC_TEST_SOPS, $NSEC_TEST_GPG, …) and python3.
# Nothing is asserted: this is a measurement, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-21}
tool() { # tool NAME: $NSEC_TEST_<NAME>, else .test-tools/bin/NAME
  local var
  var=NSEC_TEST_$(echo "$1" | tr 'a-z-' 'A-Z_')
  local path=${!var:-$root/.test-tools/bin/$1}
  [ -x "$path" ] || { echo "no $1 at $path (run scripts/test.sh once)" >&2; exit 2; }
  echo "$path"
}
sops=$(tool sops); gpg=$(tool gpg); gpgconf=$(tool gpgconf); moto=$(tool moto_server)
python=$(dirname "$(readlink -f "$moto")")/python
cargo build -q --release -p secrets-cli
nsec=${CARGO_TARGET_DIR:-$root/target}/release/nsec

work=$(mktemp -d)
moto_pid=
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
  GNUPGHOME=$work/gnupg "$gpgconf" --kill all 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/home" "$work/gnupg"
chmod 700 "$work/gnupg"
# Nothing from the caller's environment decides which key is used.
for v in $(env | grep -oE '^(SOPS|NSEC|AWS)_[A-Z0-9_]*' || true); do
  case $v in NSEC_TEST_*) ;; *) unset "$v" ;; esac
done
export HOME=$work/home SOPS_DISABLE_VERSION_CHECK=1 GNUPGHOME=$work/gnupg
export SOPS_GPG_EXEC=$gpg AWS_EC2_METADATA_DISABLED=true NO_PROXY=127.0.0.1
unset XDG_CONFIG_HOME HTTP_PROXY HTTPS_PROXY http_proxy https_proxy || true

printf 'openai: sk-test-0123456789abcdef\n' > "$work/plain.yaml"
age_key=$root/tests/data/vectors/keys/age-test-key-A.txt
age_recipient=age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle
"$nsec" keygen --pq -o "$work/pq.txt" 2>/dev/null
pq_recipient=$(grep -o 'age1pq1[0-9a-z]*' "$work/pq.txt" | head -1)
"$gpg" --batch --passphrase '' --quick-gen-key 'bench <bench@example.org>' default default never 2>/dev/null
fp=$("$gpg" --batch --with-colons --list-keys bench@example.org 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
for _ in $(seq 100); do "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port))" 2>/dev/null && break; sleep 0.1; done
arn=$("$python" -c "import boto3; print(boto3.client('kms', region_name='us-east-1').create_key()['KeyMetadata']['Arn'])")

"$sops" encrypt --age "$age_recipient" "$work/plain.yaml" > "$work/age.yaml"
"$sops" encrypt --age "$pq_recipient" "$work/plain.yaml" > "$work/pq.yaml"
"$sops" encrypt --pgp "$fp" "$work/plain.yaml" > "$work/pgp.yaml"
"$sops" encrypt --kms "$arn" "$work/plain.yaml" > "$work/kms.yaml"

printf '%-6s %10s %10s %8s\n' key "nsec ms" "sops ms" "sops/nsec"
for kind in age pq pgp kms; do
  case $kind in
    age) keyfile=$age_key ;;
    pq) keyfile=$work/pq.txt ;;
    *) keyfile=$work/none.txt ;;
  esac
  SOPS_AGE_KEY_FILE=$keyfile "$python" - "$runs" "$kind" "$nsec" "$sops" "$work/$kind.yaml" <<'PY'
import os, statistics, subprocess, sys, time
runs, kind, nsec, sops, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def once(tool):
    t = time.perf_counter()
    p = subprocess.run([tool, "decrypt", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"{tool} decrypt {kind} failed: {p.stderr.decode()[-400:]}")
    return wall
once(nsec); once(sops)  # warm caches and gpg-agent
a, b = [], []
for _ in range(runs):
    a.append(once(nsec)); b.append(once(sops))
n, s = statistics.median(a) * 1000, statistics.median(b) * 1000
print(f"{kind:<6} {n:10.2f} {s:10.2f} {s / n:8.1f}x")
PY
done
