#!/usr/bin/env bash
# The main job on the bundled example, with no setup: builds nsec, copies
# examples/nixos-repo (a NixOS repo whose secrets a laptop and a desktop
# decrypt at boot with sops-nix; THROWAWAY keys) to a scratch directory and
# runs the everyday commands on it. Nothing outside the scratch copy changes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p secrets-cli
# Wherever cargo puts it (CARGO_TARGET_DIR, build.target-dir in a config).
target_dir=$(cargo metadata -q --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
nsec=$target_dir/release/nsec
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r examples/nixos-repo "$scratch/repo"
cd "$scratch/repo"
# git does not keep file modes: identity files are private (nsec validate
# reports readable ones as E070).
chmod 600 throwaway-keys/*.txt
# The laptop's THROWAWAY identity (published with the example).
export SOPS_AGE_KEY_FILE=$PWD/throwaway-keys/laptop.txt
unset SOPS_AGE_KEY SOPS_AGE_KEY_CMD SOPS_CONFIG NSEC_DIR || true

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step nsec list;                         "$nsec" list
step nsec show api-keys/openai;         "$nsec" show api-keys/openai
step "printf 'sk-demo-123' | nsec add api-keys/demo"
printf 'sk-demo-123' | "$nsec" add api-keys/demo
step nsec decrypt secrets/api-keys/demo.yaml; "$nsec" decrypt secrets/api-keys/demo.yaml
step "printf 'sk-demo-456' | nsec set api-keys/demo   (a new value: a NAME works wherever a FILE does, the value never on argv)"
printf 'sk-demo-456' | "$nsec" set api-keys/demo
step nsec show api-keys/demo;           "$nsec" show api-keys/demo
step nsec validate --keyless;           "$nsec" validate --keyless
step nsec validate --keyless --host desktop; "$nsec" validate --keyless --host desktop
step nsec nix --host desktop;           "$nsec" nix --host desktop
