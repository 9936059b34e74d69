{
  description = "nsec: SOPS-compatible secrets for age keys";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # `nsec --version` names the commit (the build sandbox has no .git).
      gitCommit = self.shortRev or self.dirtyShortRev or null;
    in
    {
      overlays.default = final: _prev: {
        nsec = final.callPackage ./package.nix { inherit gitCommit; };
      };

      packages = forAllSystems (
        pkgs:
        let
          nsec = pkgs.callPackage ./package.nix { inherit gitCommit; };
        in
        {
          inherit nsec;
          default = nsec;
        }
      );

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = nixpkgs.lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      });

      # cargo, clippy, rustfmt and the programs the tests compare nsec with.
      # NSEC_TEST_<TOOL> points the tests at them (crates/secrets-core/src/
      # test_tools.rs); the tests expect sops 3.11, which scripts/test.sh
      # installs when nixpkgs has another version.
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.default ];
          packages = with pkgs; [
            cargo
            rustc
            clippy
            rustfmt
            sops
            age
            openssh
            wireguard-tools
            nix
            git
            bash
            zsh
            fish
            man-db
          ];
          shellHook = ''
            export NSEC_TEST_SOPS=${pkgs.lib.getExe pkgs.sops}
            export NSEC_TEST_AGE=${pkgs.age}/bin/age
            export NSEC_TEST_AGE_KEYGEN=${pkgs.age}/bin/age-keygen
            export NSEC_TEST_SSH_KEYGEN=${pkgs.openssh}/bin/ssh-keygen
            export NSEC_TEST_WG=${pkgs.wireguard-tools}/bin/wg
            export NSEC_TEST_NIX_INSTANTIATE=${pkgs.nix}/bin/nix-instantiate
            export NSEC_TEST_GIT=${pkgs.git}/bin/git
            export NSEC_TEST_BASH=${pkgs.bash}/bin/bash
            export NSEC_TEST_ZSH=${pkgs.zsh}/bin/zsh
            export NSEC_TEST_FISH=${pkgs.fish}/bin/fish
            export NSEC_TEST_MAN=${pkgs.man-db}/bin/man
          '';
        };
      });
    };
}
