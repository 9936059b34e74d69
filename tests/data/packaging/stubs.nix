# Stand-ins for the parts of nixpkgs that package.nix and flake.nix use, so
# tests/packaging.rs can evaluate them with nix-instantiate where no nixpkgs
# can be fetched. Paths are turned into strings (nothing is copied into a
# store); derivations are their arguments plus `type` and an `outPath`.
let
  systems = [
    "x86_64-linux"
    "aarch64-linux"
    "x86_64-darwin"
    "aarch64-darwin"
  ];

  lib = {
    importTOML = path: builtins.fromTOML (builtins.readFile path);
    optionalString = cond: s: if cond then s else "";
    optionalAttrs = cond: attrs: if cond then attrs else { };
    genAttrs =
      names: f:
      builtins.listToAttrs (
        map (name: {
          inherit name;
          value = f name;
        }) names
      );
    getExe = drv: "${drv}/bin/${drv.meta.mainProgram or drv.pname}";
    licenses = {
      mit.spdxId = "MIT";
      asl20.spdxId = "Apache-2.0";
    };
    platforms.unix = systems;
    fileset = {
      unions = paths: paths;
      toSource =
        { root, fileset }:
        {
          root = toString root;
          files = map (
            p:
            if builtins.pathExists p then toString p else throw "fileset: ${toString p} does not exist"
          ) fileset;
        };
    };
  };

  drv =
    attrs:
    attrs
    // {
      type = "derivation";
      outPath = "/nix/store/stub-${attrs.pname or attrs.name}";
    };

  tool =
    name:
    drv {
      pname = name;
      meta.mainProgram = name;
    };

  pkgsFor =
    system:
    let
      pkgs = {
        inherit lib system;
        stdenv = {
          buildPlatform.canExecute = _: true;
          hostPlatform.system = system;
        };
        rustPlatform.buildRustPackage = drv;
        installShellFiles = tool "installShellFiles";
        mkShell = args: drv (args // { name = "nix-shell"; });
        callPackage =
          fn: overrides:
          let
            f = if builtins.isFunction fn then fn else import fn;
          in
          f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
      }
      // lib.genAttrs [
        "cargo"
        "rustc"
        "clippy"
        "rustfmt"
        "rust-analyzer"
        "sops"
        "age"
        "openssh"
        "wireguard-tools"
        "nix"
        "git"
        "bash"
        "zsh"
        "fish"
        "man-db"
      ] tool;
    in
    pkgs;
in
{
  inherit lib systems pkgsFor;
  nixpkgs = {
    inherit lib;
    legacyPackages = lib.genAttrs systems pkgsFor;
  };
}
