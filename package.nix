# nsec, for `callPackage ./package.nix { }` from a nixpkgs checkout (the
# flake uses it too).
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
  # The commit shown by `nsec --version` (the flake passes its revision; the
  # sandbox has no .git to read it from).
  gitCommit ? null,
}:

let
  cargoToml = lib.importTOML ./Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "nsec";
  inherit (cargoToml.workspace.package) version;

  # What the build reads: the workspace, the crates and the templates they
  # include. Not target/, .git or the test data.
  src = lib.fileset.toSource {
    root = ./.;
    fileset = lib.fileset.unions [
      ./Cargo.toml
      ./Cargo.lock
      ./crates
      ./templates
    ];
  };

  cargoLock.lockFile = ./Cargo.lock;

  cargoBuildFlags = [
    "--package"
    "secrets-cli"
  ];

  env = lib.optionalAttrs (gitCommit != null) { NSEC_GIT_COMMIT = gitCommit; };

  nativeBuildInputs = [ installShellFiles ];

  # The test suite compares nsec with the real Go sops 3.11, age, ssh-keygen,
  # wg, nix-instantiate, git, bash, zsh, fish and man (scripts/test.sh
  # installs them); many tests also need root (a tmpfs mount, switching to
  # `nobody`). None of that is available in the build sandbox, so the tests
  # run in CI through scripts/test.sh, not here.
  doCheck = false;

  # Completions and man pages come from the built binary, so they match its
  # --help exactly.
  postInstall = lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    installShellCompletion --cmd nsec \
      --bash <($out/bin/nsec completion bash) \
      --zsh <($out/bin/nsec completion zsh) \
      --fish <($out/bin/nsec completion fish)
    mkdir -p man
    $out/bin/nsec man --dir man
    installManPage man/*.1
  '';

  meta = {
    description = "SOPS-compatible secrets for age keys: a drop-in sops CLI with store commands for NixOS";
    homepage = cargoToml.workspace.package.repository;
    license = with lib.licenses; [
      mit
      asl20
    ];
    mainProgram = "nsec";
    platforms = lib.platforms.unix;
  };
}
