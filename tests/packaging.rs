//! Packaging: flake.nix and package.nix parse and evaluate with the real
//! nix-instantiate against the stand-ins for nixpkgs in
//! tests/data/packaging/stubs.nix (no nixpkgs can be fetched here), the
//! postInstall script installs completions and man pages from the built
//! binary, and `nsec --version` says the version, the commit and the key
//! types.

mod common;

use std::path::Path;

use common::*;

fn nix_eval(sb: &Sandbox, expr: &str) -> serde_json::Value {
    let out = ok(sb
        .cmd(tool("nix-instantiate"))
        .args(["--eval", "--strict", "--json", "--expr", expr])
        .current_dir(repo_root()));
    serde_json::from_slice(&out).unwrap()
}

/// `version` of `[workspace.package]` in Cargo.toml.
fn cargo_version() -> String {
    let toml = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let section = toml.split("[workspace.package]").nth(1).unwrap();
    let line = section
        .lines()
        .find(|l| l.trim_start().starts_with("version"))
        .unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn nix_files_parse() {
    let sb = Sandbox::new();
    for f in ["flake.nix", "package.nix", "tests/data/packaging/stubs.nix"] {
        ok(sb
            .cmd(tool("nix-instantiate"))
            .arg("--parse")
            .arg(repo_root().join(f)));
    }
}

/// package.nix's arguments to buildRustPackage, paths as strings.
fn package_attrs(sb: &Sandbox, args: &str) -> serde_json::Value {
    nix_eval(
        sb,
        &format!(
            r#"let
              stubs = import ./tests/data/packaging/stubs.nix;
              p = (stubs.pkgsFor "x86_64-linux").callPackage ./package.nix {args};
            in {{
              inherit (p) pname version doCheck cargoBuildFlags postInstall env src meta;
              lockFile = toString p.cargoLock.lockFile;
              nativeBuildInputs = map (d: d.pname) p.nativeBuildInputs;
            }}"#
        ),
    )
}

#[test]
fn package_nix_follows_nixpkgs_conventions() {
    let sb = Sandbox::new();
    let root = repo_root();
    let p = package_attrs(&sb, "{ }");
    assert_eq!(p["pname"], "nsec");
    assert_eq!(p["version"], cargo_version().as_str());
    assert_eq!(p["lockFile"], path_str(&root.join("Cargo.lock")).as_str());
    assert_eq!(p["doCheck"], false);
    assert_eq!(
        p["cargoBuildFlags"],
        serde_json::json!(["--package", "secrets-cli"])
    );
    assert_eq!(p["env"], serde_json::json!({}));
    let meta = &p["meta"];
    assert_eq!(meta["mainProgram"], "nsec");
    assert!(meta["description"].as_str().unwrap().len() > 10);
    assert!(!meta["description"].as_str().unwrap().ends_with('.'));
    assert!(meta["homepage"].as_str().unwrap().starts_with("https://"));
    assert_eq!(
        meta["license"],
        serde_json::json!([{"spdxId": "MIT"}, {"spdxId": "Apache-2.0"}])
    );
    assert_eq!(
        p["nativeBuildInputs"],
        serde_json::json!(["installShellFiles"])
    );
    // The source is the workspace, not target/ or .git.
    assert_eq!(p["src"]["root"], path_str(&root).as_str());
    let files: Vec<&str> = p["src"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for want in ["Cargo.toml", "Cargo.lock", "crates", "templates"] {
        assert!(
            files.contains(&path_str(&root.join(want)).as_str()),
            "{files:?}"
        );
    }
    let post = p["postInstall"].as_str().unwrap();
    for want in [
        "installShellCompletion --cmd nsec",
        "nsec completion bash",
        "nsec completion zsh",
        "nsec completion fish",
        "nsec man --dir",
        "installManPage",
    ] {
        assert!(post.contains(want), "postInstall lacks {want}:\n{post}");
    }
    // The flake's commit reaches build.rs through the environment.
    let p = package_attrs(&sb, r#"{ gitCommit = "abc1234"; }"#);
    assert_eq!(p["env"], serde_json::json!({"NSEC_GIT_COMMIT": "abc1234"}));
}

/// Runs package.nix's postInstall in bash with the real nsec as $out/bin/nsec
/// and stand-ins for installShellCompletion and installManPage that copy
/// what they are given.
#[test]
fn post_install_installs_completions_and_man_pages() {
    let sb = Sandbox::new();
    let p = package_attrs(&sb, "{ }");
    let post = p["postInstall"].as_str().unwrap();
    let out = sb.path("out");
    std::fs::create_dir_all(out.join("bin")).unwrap();
    std::os::unix::fs::symlink(nsec_bin(), out.join("bin/nsec")).unwrap();
    let stubs = r#"
        set -euo pipefail
        installShellCompletion() {
            local cmd="" shell
            while [ $# -gt 0 ]; do
                case "$1" in
                    --cmd) cmd=$2; shift 2 ;;
                    --bash|--zsh|--fish) shell=${1#--}; mkdir -p "$out/completions"; cat "$2" > "$out/completions/$cmd.$shell"; shift 2 ;;
                    *) echo "unexpected argument $1" >&2; return 1 ;;
                esac
            done
        }
        installManPage() { mkdir -p "$out/man"; cp "$@" "$out/man/"; }
    "#;
    let script = format!("{stubs}\n{post}");
    ok(sb
        .cmd(tool("bash"))
        .args(["-c", &script])
        .env("out", &out)
        .current_dir(sb.work()));
    for shell in ["bash", "zsh", "fish"] {
        let installed = std::fs::read(out.join(format!("completions/nsec.{shell}"))).unwrap();
        let fresh = ok(sb.nsec().args(["completion", shell]));
        assert_eq!(installed, fresh, "{shell}");
    }
    let pages: Vec<String> = std::fs::read_dir(out.join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(pages.contains(&"nsec.1".to_string()), "{pages:?}");
    assert!(pages.contains(&"nsec-show.1".to_string()), "{pages:?}");
}

#[test]
fn flake_outputs_evaluate() {
    let sb = Sandbox::new();
    let v = nix_eval(
        &sb,
        r#"let
          stubs = import ./tests/data/packaging/stubs.nix;
          flake = import ./flake.nix;
          self = flake.outputs { inherit self; inherit (stubs) nixpkgs; } // { shortRev = "abc1234"; };
          sys = "x86_64-linux";
          pkgs = stubs.pkgsFor sys;
          shell = self.devShells.${sys}.default;
        in {
          inherit (flake) description;
          inputs = builtins.attrNames flake.inputs;
          outputs = builtins.attrNames (flake.outputs { inherit self; inherit (stubs) nixpkgs; });
          systems = builtins.attrNames self.packages;
          default = { inherit (self.packages.${sys}.default) pname version env; };
          nsec = self.packages.${sys}.nsec.pname;
          app = self.apps.${sys}.default;
          appSystems = builtins.attrNames self.apps;
          shellPackages = map (p: p.pname) shell.packages;
          shellInputsFrom = map (p: p.pname) shell.inputsFrom;
          inherit (shell) shellHook;
          overlay = { inherit ((self.overlays.default pkgs pkgs).nsec) pname env; };
        }"#,
    );
    assert!(v["description"].as_str().unwrap().contains("nsec"));
    assert_eq!(v["inputs"], serde_json::json!(["nixpkgs"]));
    assert_eq!(
        v["outputs"],
        serde_json::json!(["apps", "devShells", "overlays", "packages"])
    );
    let systems = serde_json::json!([
        "aarch64-darwin",
        "aarch64-linux",
        "x86_64-darwin",
        "x86_64-linux"
    ]);
    assert_eq!(v["systems"], systems);
    assert_eq!(v["appSystems"], systems);
    assert_eq!(v["default"]["pname"], "nsec");
    assert_eq!(v["default"]["version"], cargo_version().as_str());
    assert_eq!(v["default"]["env"]["NSEC_GIT_COMMIT"], "abc1234");
    assert_eq!(v["nsec"], "nsec");
    assert_eq!(
        v["app"],
        serde_json::json!({"type": "app", "program": "/nix/store/stub-nsec/bin/nsec"})
    );
    assert_eq!(v["overlay"]["pname"], "nsec");
    assert_eq!(v["overlay"]["env"]["NSEC_GIT_COMMIT"], "abc1234");
    assert_eq!(v["shellInputsFrom"], serde_json::json!(["nsec"]));
    let packages: Vec<&str> = v["shellPackages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for want in [
        "cargo", "rustc", "clippy", "rustfmt", "sops", "age", "zsh", "fish", "man-db",
    ] {
        assert!(packages.contains(&want), "{want} missing from {packages:?}");
    }
    // Every tool the tests look up has its NSEC_TEST_ variable.
    let hook = v["shellHook"].as_str().unwrap();
    for t in [
        "sops",
        "age",
        "age-keygen",
        "ssh-keygen",
        "wg",
        "nix-instantiate",
        "git",
        "bash",
        "zsh",
        "fish",
        "man",
    ] {
        let var = format!("export {}=/nix/store/stub-", test_tool_var(t));
        assert!(hook.contains(&var), "{var} missing:\n{hook}");
        assert!(
            hook.contains(&format!("/bin/{t}\n")),
            "{t} missing:\n{hook}"
        );
    }
}

fn test_tool_var(t: &str) -> String {
    format!("NSEC_TEST_{}", t.to_ascii_uppercase().replace('-', "_"))
}

// ----------------------------------------------------------------- version

#[test]
fn version_names_the_commit_and_the_key_types() {
    let sb = Sandbox::new();
    let long = text(&ok(sb.nsec().arg("--version")));
    assert_eq!(text(&ok(sb.nsec().arg("-V"))), long);
    // sops' legacy -v / --version too.
    assert_eq!(text(&ok(sb.nsec().arg("-v"))), long);
    let first = long.lines().next().unwrap();
    let version = cargo_version();
    let root = repo_root();
    if root.join(".git").exists() {
        let head = text(&ok(sb
            .cmd(tool("git"))
            .arg("-C")
            .arg(&root)
            .args(["rev-parse", "HEAD"])));
        let prefix = format!("nsec {version} (git ");
        assert!(first.starts_with(&prefix), "{first}");
        let commit = first[prefix.len()..].trim_end_matches(')');
        assert!(
            commit.len() >= 4 && head.trim().starts_with(commit),
            "{first} vs HEAD {head}"
        );
    } else {
        assert_eq!(first, format!("nsec {version}"));
    }
    for want in [
        "age X25519",
        "ssh-ed25519",
        "ssh-rsa",
        "age plugins",
        "PGP (through gpg",
        "AWS KMS",
        "not supported:",
        "KMS",
        "Vault",
        "age1pq1",
    ] {
        assert!(long.contains(want), "--version lacks {want}:\n{long}");
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
