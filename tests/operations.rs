//! Integration tests (operations): validate and its broken-store corpus,
//! store-wide rotate with failure injection, revoke, sops-nix output, git
//! integration, runbooks.
//!
//! Every store here has the layout of `examples/nixos-repo`:
//! `secrets/.sops.yaml` with a laptop (key A) and a desktop (key B), and
//! secrets under `secrets/api-keys/` and `secrets/ssh-keys/`. The real sops
//! proves who can decrypt what.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The `.sops.yaml` of the test store: named keys, aliases in the rules.
fn config(extra_keys: &str, recipients: &[&str]) -> String {
    let mut s = format!(
        "keys:\n  - &laptop {AGE_A}\n  - &desktop {AGE_B}\n{extra_keys}creation_rules:\n  - path_regex: ^(api-keys|ssh-keys)/.*\\.(yaml|json|env)$\n    key_groups:\n      - age:\n"
    );
    for r in recipients {
        s.push_str(&format!("          - *{r}\n"));
    }
    s
}

/// A store in the sandbox: `secrets/` with three secrets, encrypted by
/// nsec for laptop and desktop. The identity is a private copy of key A.
struct Store {
    sb: Sandbox,
}

const SECRETS: [(&str, &str); 3] = [
    ("api-keys/openai.yaml", "api_key: sk-openai-123\n"),
    (
        "api-keys/github.yaml",
        "token: ghp-456\nuser_unencrypted: me\n",
    ),
    (
        "ssh-keys/deploy.yaml",
        "private_key: |\n  -----BEGIN KEY-----\n  abc\n  -----END KEY-----\n",
    ),
];

impl Store {
    fn new() -> Store {
        let sb = Sandbox::new();
        for k in ["A", "B", "C"] {
            let dst = sb.path(&format!("keys/{k}.txt"));
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(key_file(k), &dst).unwrap();
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        sb.write("secrets/.sops.yaml", config("", &["laptop", "desktop"]));
        let s = Store { sb };
        for (rel, plain) in SECRETS {
            s.encrypt_new(rel, plain);
        }
        s
    }

    fn encrypt_new(&self, rel: &str, plain: &str) {
        let tmp = self.sb.write("plain.tmp", plain);
        let out = ok(self
            .nsec()
            .args(["encrypt", "--filename-override"])
            .arg(self.file(rel))
            .arg(&tmp));
        std::fs::create_dir_all(self.file(rel).parent().unwrap()).unwrap();
        std::fs::write(self.file(rel), out).unwrap();
        std::fs::remove_file(tmp).unwrap();
    }

    fn root(&self) -> PathBuf {
        self.sb.path("secrets")
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn key(&self, k: &str) -> PathBuf {
        self.sb.path(&format!("keys/{k}.txt"))
    }

    /// nsec with key A and the store.
    fn nsec(&self) -> Command {
        let mut c = self.sb.nsec();
        c.env("SOPS_AGE_KEY_FILE", self.key("A"))
            .env("NSEC_DIR", self.root());
        c
    }

    /// Does the real sops decrypt `rel` with key `k`?
    fn sops_decrypts(&self, rel: &str, k: &str) -> bool {
        let out = run(self
            .sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", self.key(k))
            .args(["decrypt"])
            .arg(self.file(rel)));
        out.status.success()
    }

    fn sops_plain(&self, rel: &str, k: &str) -> String {
        String::from_utf8(ok(self
            .sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", self.key(k))
            .args(["decrypt"])
            .arg(self.file(rel))))
        .unwrap()
    }

    fn validate_codes(&self, extra: &[&str]) -> (i32, Vec<String>) {
        let out = run(self.nsec().args(["validate", "--json"]).args(extra));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        let codes = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap().to_string())
            .collect();
        (code(&out), codes)
    }
}

// ------------------------------------------------------------ validate

#[test]
fn clean_store_validates() {
    let s = Store::new();
    let out = run(s.nsec().arg("validate"));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 problems"));
    assert_eq!(s.validate_codes(&[]), (0, vec![]));
    assert_eq!(s.validate_codes(&["--keyless"]), (0, vec![]));
    assert_eq!(s.validate_codes(&["--host", "desktop"]), (0, vec![]));
}

/// One defect per store; validate reports exactly that code.
#[test]
fn broken_store_corpus() {
    type Breaker = fn(&Store);
    let cases: Vec<(&str, Breaker, &[&str])> = vec![
        (
            "E001",
            |s| {
                std::fs::write(s.file(".sops.yaml"), "creation_rules: {oops\n").unwrap();
            },
            &[],
        ),
        (
            "E002",
            |s| {
                std::fs::write(
                    s.file(".sops.yaml"),
                    format!("creation_rules:\n  - path_regex: '(unclosed'\n    age: {AGE_A}\n"),
                )
                .unwrap();
            },
            &[],
        ),
        (
            "E003",
            |s| {
                std::fs::write(
                    s.file(".sops.yaml"),
                    "creation_rules:\n  - age: age1notakey\n",
                )
                .unwrap();
            },
            &[],
        ),
        (
            "E004",
            |s| {
                let mut c = config("", &["laptop", "desktop"]);
                c = c.replace(
                    "creation_rules:\n",
                    &format!("creation_rules:\n  - age: {AGE_A},{AGE_B}\n"),
                );
                std::fs::write(s.file(".sops.yaml"), c).unwrap();
            },
            &[],
        ),
        (
            "E010",
            |s| {
                std::fs::write(s.file("api-keys/new.yaml"), "api_key: plain-text-secret\n")
                    .unwrap();
            },
            &[],
        ),
        (
            "E011",
            |s| {
                std::fs::write(
                    s.file("api-keys/openai.yaml"),
                    "sops:\n  version: [broken\n",
                )
                .unwrap();
            },
            &[],
        ),
        (
            "E012",
            |s| {
                std::fs::create_dir_all(s.file("other")).unwrap();
                std::fs::copy(s.file("api-keys/openai.yaml"), s.file("other/x.yaml")).unwrap();
            },
            &[],
        ),
        (
            "E020",
            |s| {
                // A key added with a plain editor.
                let t = std::fs::read_to_string(s.file("api-keys/openai.yaml")).unwrap();
                std::fs::write(
                    s.file("api-keys/openai.yaml"),
                    format!("added: plain-text-secret\n{t}"),
                )
                .unwrap();
            },
            &["--keyless"],
        ),
        (
            "E030",
            |s| {
                std::fs::write(
                    s.file(".sops.yaml"),
                    config(&format!("  - &ci {AGE_C}\n"), &["laptop", "desktop", "ci"]),
                )
                .unwrap();
            },
            &["--keyless"],
        ),
        (
            "E031",
            |s| {
                let c = config("", &["laptop"]).replace(
                    "          - *laptop\n",
                    "          - *laptop\n      - age:\n          - *desktop\n",
                );
                std::fs::write(s.file(".sops.yaml"), c).unwrap();
            },
            &["--keyless"],
        ),
        (
            "E040",
            |s| {
                // Encrypted for C only, but the rule says C too: only the key check fails.
                std::fs::write(
                    s.file(".sops.yaml"),
                    config(&format!("  - &ci {AGE_C}\n"), &["ci"]),
                )
                .unwrap();
                for (rel, _) in SECRETS {
                    std::fs::remove_file(s.file(rel)).unwrap();
                }
                s.encrypt_new("api-keys/openai.yaml", "api_key: x\n");
            },
            &[],
        ),
        (
            "E041",
            |s| {
                let t = std::fs::read_to_string(s.file("api-keys/github.yaml")).unwrap();
                std::fs::write(
                    s.file("api-keys/github.yaml"),
                    t.replace("user_unencrypted: me", "user_unencrypted: someone-else"),
                )
                .unwrap();
            },
            &[],
        ),
        ("E050", |_| {}, &["--keyless", "--host", "nas"]),
        (
            "E051",
            |s| {
                // The desktop joins the rules, but the file was made for the laptop only.
                std::fs::write(s.file(".sops.yaml"), config("", &["laptop"])).unwrap();
                s.encrypt_new("api-keys/solo.yaml", "api_key: y\n");
                std::fs::write(s.file(".sops.yaml"), config("", &["laptop", "desktop"])).unwrap();
            },
            &["--keyless", "--host", "desktop"],
        ),
        (
            "E052",
            |s| {
                s.encrypt_new("api-keys/port.yaml", "port: 8080\n");
            },
            &["--keyless", "--host", "laptop"],
        ),
        (
            "W060",
            |s| {
                let mut c = config("", &["laptop", "desktop"]);
                c.push_str("nsec:\n  rotation_days: 30\n");
                std::fs::write(s.file(".sops.yaml"), c).unwrap();
                let t = std::fs::read_to_string(s.file("api-keys/github.yaml")).unwrap();
                let re = regex_lastmodified(&t);
                let old = t.replace(&re, "lastmodified: \"2020-01-01T00:00:00Z\"");
                std::fs::write(s.file("api-keys/github.yaml"), old).unwrap();
            },
            &["--keyless"],
        ),
        (
            "E070",
            |s| {
                std::fs::set_permissions(s.key("A"), std::fs::Permissions::from_mode(0o644))
                    .unwrap();
            },
            &["--keyless"],
        ),
    ];
    for (want, brk, args) in cases {
        let s = Store::new();
        brk(&s);
        let (rc, mut codes) = s.validate_codes(args);
        // Every file with the defect reports it; the defect is one.
        codes.dedup();
        // A file missing a host is also recipient drift: both are reported.
        let expected: Vec<String> = match want {
            "E051" => vec!["E030".into(), "E051".into()],
            w => vec![w.to_string()],
        };
        assert_eq!(codes, expected, "case {want}");
        assert_eq!(
            rc,
            if want.starts_with('W') { 0 } else { 1 },
            "exit code of case {want}"
        );
        // The text report never shows a secret value.
        let out = run(s.nsec().arg("validate").args(args));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(want), "{want}: {text}");
        for secret in ["plain-text-secret", "sk-openai-123", "ghp-456"] {
            assert!(!text.contains(secret), "{want} printed a secret: {text}");
        }
    }
}

fn regex_lastmodified(t: &str) -> String {
    t.lines()
        .find(|l| l.trim_start().starts_with("lastmodified:"))
        .unwrap()
        .trim_start()
        .to_string()
}

/// An ignore list lets a plaintext file stay (check 2).
#[test]
fn ignore_list_allows_plaintext_files() {
    let s = Store::new();
    std::fs::write(s.file("README.md"), "how this store works\n").unwrap();
    assert_eq!(s.validate_codes(&["--keyless"]).1, vec!["E012", "E010"]);
    let mut c = config("", &["laptop", "desktop"]);
    c.push_str("nsec:\n  ignore:\n    - README.md\n");
    std::fs::write(s.file(".sops.yaml"), &c).unwrap();
    assert_eq!(s.validate_codes(&["--keyless"]), (0, vec![]));
    // The real sops still reads the config with the nsec section.
    assert!(s.sops_decrypts("api-keys/openai.yaml", "A"));
}

// ------------------------------------------------------------ rotate

fn recipients(path: &Path) -> Vec<String> {
    let t = std::fs::read_to_string(path).unwrap();
    let mut r: Vec<String> = t
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- recipient: ").map(str::to_string))
        .collect();
    r.sort();
    r
}

#[test]
fn rotate_plans_and_touches_only_drifted_files() {
    let s = Store::new();
    let before: Vec<String> = SECRETS
        .iter()
        .map(|(rel, _)| std::fs::read_to_string(s.file(rel)).unwrap())
        .collect();
    let out = run(s.nsec().args(["rotate", "--dry-run"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Nothing to rotate"));
    // The desktop leaves the openai rule only.
    let mut c = config("", &["laptop", "desktop"]);
    c = c.replace(
        "creation_rules:\n",
        &format!("creation_rules:\n  - path_regex: ^api-keys/openai\\.yaml$\n    age: {AGE_A}\n"),
    );
    std::fs::write(s.file(".sops.yaml"), c).unwrap();
    let out = run(s.nsec().args(["rotate", "--dry-run"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("api-keys/openai (remove desktop)"), "{err}");
    assert!(!err.contains("github"), "{err}");
    // Without --yes and without a terminal nothing happens.
    let out = run(s.nsec().arg("rotate"));
    assert_ne!(code(&out), 0);
    ok(s.nsec().args(["rotate", "--yes"]));
    assert!(!s.sops_decrypts("api-keys/openai.yaml", "B"));
    assert!(s
        .sops_plain("api-keys/openai.yaml", "A")
        .contains("sk-openai-123"));
    for (i, (rel, _)) in SECRETS.iter().enumerate().skip(1) {
        assert_eq!(
            std::fs::read_to_string(s.file(rel)).unwrap(),
            before[i],
            "{rel} was touched"
        );
    }
    // --all rotates every file: new data keys, same plaintext.
    ok(s.nsec().args(["rotate", "--all", "--yes"]));
    for (i, (rel, plain)) in SECRETS.iter().enumerate().skip(1) {
        assert_ne!(std::fs::read_to_string(s.file(rel)).unwrap(), before[i]);
        let first = plain.lines().next().unwrap();
        assert!(s
            .sops_plain(rel, "B")
            .contains(first.split(": ").nth(1).unwrap_or(first)));
    }
    assert!(!s.file(".nsec/rotate-journal").exists());
}

/// A failure at every step: the store always decrypts completely (old or
/// new keys, file by file), and the next run completes the rotation.
#[test]
fn rotate_survives_failure_at_every_step() {
    let steps = 1 + SECRETS.len() + 1 + SECRETS.len(); // journal, prepare, commit, renames
    for fail_at in 1..=steps {
        let s = Store::new();
        let old = recipients(&s.file("api-keys/openai.yaml"));
        std::fs::write(
            s.file(".sops.yaml"),
            config(&format!("  - &ci {AGE_C}\n"), &["laptop", "ci"]),
        )
        .unwrap();
        let out = run(s
            .nsec()
            .args(["rotate", "--yes"])
            .env("NSEC_TEST_FAIL_AFTER", fail_at.to_string()));
        assert!(!out.status.success(), "step {fail_at} did not fail");
        let mut want_new = vec![AGE_A.to_string(), AGE_C.to_string()];
        want_new.sort();
        for (rel, plain) in SECRETS {
            let r = recipients(&s.file(rel));
            let is_new = r == want_new;
            assert!(is_new || r == old, "step {fail_at}: {rel} has {r:?}");
            let k = if is_new { "C" } else { "B" };
            let first = plain
                .lines()
                .next()
                .unwrap()
                .split(": ")
                .nth(1)
                .unwrap()
                .to_string();
            assert!(
                s.sops_plain(rel, k).contains(first.trim_start_matches('|')),
                "step {fail_at}: {rel}"
            );
            assert!(s.sops_decrypts(rel, "A"));
        }
        // The next run recovers and completes.
        let out = run(s.nsec().args(["rotate", "--yes"]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (rel, _) in SECRETS {
            assert_eq!(
                recipients(&s.file(rel)),
                want_new,
                "after step {fail_at}: {rel}"
            );
            assert!(s.sops_decrypts(rel, "C"));
            assert!(!s.sops_decrypts(rel, "B"));
        }
        assert!(!s.file(".nsec/rotate-journal").exists());
        let leftovers: Vec<_> = walk(&s.root())
            .into_iter()
            .filter(|p| {
                p.to_string_lossy().contains("nsec-rotate")
                    || p.to_string_lossy().contains("nsec-tmp")
            })
            .collect();
        assert!(leftovers.is_empty(), "step {fail_at}: {leftovers:?}");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ------------------------------------------------------------ revoke

#[test]
fn revoke_removes_and_rekeys() {
    let s = Store::new();
    let before = std::fs::read_to_string(s.file("api-keys/openai.yaml")).unwrap();
    let out = ok(s.nsec().args(["revoke", "desktop", "--yes"]));
    let out = String::from_utf8(out).unwrap();
    for (rel, _) in SECRETS {
        let name = rel.trim_end_matches(".yaml");
        assert!(out.contains(name), "{out}");
        assert!(
            !s.sops_decrypts(rel, "B"),
            "{rel} still opens for the desktop"
        );
        assert!(s.sops_decrypts(rel, "A"));
    }
    let c = std::fs::read_to_string(s.file(".sops.yaml")).unwrap();
    assert!(!c.contains(AGE_B) && !c.contains("*desktop"), "{c}");
    assert!(c.contains("&laptop"));
    assert_ne!(
        std::fs::read_to_string(s.file("api-keys/openai.yaml")).unwrap(),
        before
    );
    assert_eq!(s.validate_codes(&[]), (0, vec![]));
    // Unknown names are refused.
    assert_ne!(code(&run(s.nsec().args(["revoke", "nobody", "--yes"]))), 0);
}

// ------------------------------------------------------------ nix

#[test]
fn nix_declarations_parse_and_match_golden() {
    let s = Store::new();
    s.encrypt_new("ssh-keys/app.env", "DB_PASSWORD=x\nAPI=y\n");
    let out = String::from_utf8(ok(s.nsec().arg("nix"))).unwrap();
    let golden = repo_root().join("tests/data/nix/store.nix");
    if std::env::var_os("NSEC_BLESS").is_some() {
        std::fs::write(&golden, &out).unwrap();
    }
    assert_eq!(out, std::fs::read_to_string(&golden).unwrap());
    let nix = s.sb.write("secrets.nix", &out);
    let parsed = run(Command::new("nix-instantiate").arg("--parse").arg(&nix));
    assert!(
        parsed.status.success(),
        "nix-instantiate --parse failed (apt-get install nix-bin): {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let golden_parsed = repo_root().join("tests/data/nix/store.parsed");
    // nix-instantiate resolves path literals: compare with the sandbox as /WORK.
    let parsed_text = String::from_utf8_lossy(&parsed.stdout)
        .replace(&s.sb.work().display().to_string(), "/WORK");
    if std::env::var_os("NSEC_BLESS").is_some() {
        std::fs::write(&golden_parsed, &parsed_text).unwrap();
    }
    assert_eq!(
        parsed_text,
        std::fs::read_to_string(&golden_parsed).unwrap()
    );
}

// ------------------------------------------------------------ git

fn git(s: &Store, args: &[&str]) -> std::process::Output {
    let path = format!(
        "{}:{}",
        nsec_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(s
        .sb
        .cmd("git")
        .args(args)
        .env("PATH", path)
        .env("SOPS_AGE_KEY_FILE", s.key("A"))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org"))
}

fn git_ok(s: &Store, args: &[&str]) -> String {
    let out = git(s, args);
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git_store() -> Store {
    let s = Store::new();
    git_ok(&s, &["init", "-q", "-b", "main"]);
    let out = String::from_utf8(ok(s.nsec().args(["git", "install"]))).unwrap();
    assert!(out.contains("pre-commit"), "{out}");
    // Idempotent.
    let again = String::from_utf8(ok(s.nsec().args(["git", "install"]))).unwrap();
    assert!(again.contains("nothing changed"), "{again}");
    git_ok(&s, &["add", "secrets"]);
    git_ok(&s, &["commit", "-q", "-m", "store"]);
    s
}

#[test]
fn pre_commit_hook_refuses_plaintext_secrets() {
    let s = git_store();
    s.sb.write("secrets/api-keys/leak.yaml", "api_key: plain-text-secret\n");
    git_ok(&s, &["add", "secrets/api-keys/leak.yaml"]);
    let out = git(&s, &["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "the plaintext commit went through");
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(msg.contains("E010"), "{msg}");
    assert!(!msg.contains("plain-text-secret"));
    // Encrypted, it goes through.
    std::fs::remove_file(s.file("api-keys/leak.yaml")).unwrap();
    s.encrypt_new("api-keys/leak.yaml", "api_key: now-encrypted\n");
    git_ok(&s, &["add", "secrets/api-keys/leak.yaml"]);
    git_ok(&s, &["commit", "-q", "-m", "encrypted"]);
}

#[test]
fn diff_driver_shows_decrypted_changes() {
    let s = git_store();
    std::fs::remove_file(s.file("api-keys/openai.yaml")).unwrap();
    s.encrypt_new("api-keys/openai.yaml", "api_key: sk-openai-NEW\n");
    let diff = git_ok(&s, &["diff", "secrets/api-keys/openai.yaml"]);
    assert!(
        diff.contains("-api_key: sk-openai-123") && diff.contains("+api_key: sk-openai-NEW"),
        "{diff}"
    );
}

#[test]
fn merge_driver_merges_decrypted_trees() {
    let s = git_store();
    let f = "secrets/api-keys/github.yaml";
    let set = |plain: &str| {
        std::fs::remove_file(s.sb.path(f)).unwrap();
        s.encrypt_new("api-keys/github.yaml", plain);
    };
    git_ok(&s, &["checkout", "-q", "-b", "other"]);
    set("token: ghp-456\nuser_unencrypted: me\nextra: theirs\n");
    git_ok(&s, &["commit", "-qam", "theirs"]);
    git_ok(&s, &["checkout", "-q", "main"]);
    set("token: ghp-789\nuser_unencrypted: me\n");
    git_ok(&s, &["commit", "-qam", "ours"]);
    let out = git(&s, &["merge", "-q", "--no-edit", "other"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = s.sops_plain("api-keys/github.yaml", "B");
    assert_eq!(
        plain,
        "token: ghp-789\nuser_unencrypted: me\nextra: theirs\n"
    );

    // A conflict: markers in a private file, the merge fails.
    git_ok(&s, &["checkout", "-q", "-b", "c1"]);
    set("token: one\n");
    git_ok(&s, &["commit", "-qam", "one"]);
    git_ok(&s, &["checkout", "-q", "main"]);
    set("token: two\n");
    git_ok(&s, &["commit", "-qam", "two"]);
    let out = git(&s, &["merge", "-q", "--no-edit", "c1"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let path = err
        .split_whitespace()
        .find(|w| w.contains("nsec-merge-"))
        .unwrap_or_else(|| panic!("no marker file in {err}"))
        .trim_end_matches(';');
    let markers = std::fs::read_to_string(path).unwrap();
    assert!(
        markers.contains("<<<<<<< ours\ntwo\n=======\none\n>>>>>>> theirs"),
        "{markers}"
    );
    assert_eq!(
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::remove_dir_all(Path::new(path).parent().unwrap()).unwrap();
}

// ------------------------------------------------------------ runbooks

/// The ```sh blocks of a runbook, in order.
fn runbook_script(name: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("docs/runbooks").join(name)).unwrap();
    let mut script = String::new();
    let mut inside = false;
    for line in text.lines() {
        if inside {
            if line.trim_start().starts_with("```") {
                inside = false;
            } else {
                script.push_str(line);
                script.push('\n');
            }
        } else if line.trim() == "```sh" {
            inside = true;
        }
    }
    assert!(!script.is_empty(), "{name} has no sh blocks");
    script
}

/// Runs a runbook end to end on a store like `examples/nixos-repo`,
/// committed in git, with key `admin` as the operator's identity.
fn run_runbook(s: &Store, name: &str, admin: &str, env: &[(&str, String)]) {
    git_ok(s, &["init", "-q", "-b", "main"]);
    git_ok(s, &["add", "secrets"]);
    git_ok(s, &["commit", "-q", "-m", "store"]);
    let script = s.sb.write("runbook.sh", runbook_script(name));
    let path = format!(
        "{}:{}",
        nsec_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = s.sb.cmd("sh");
    c.arg("-eu")
        .arg(&script)
        .env("PATH", path)
        .env("SOPS_AGE_KEY_FILE", s.key(admin))
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run(&mut c);
    assert!(
        out.status.success(),
        "runbook {name} failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every runbook ends committed and clean.
    assert_eq!(git_ok(s, &["status", "--porcelain", "secrets"]), "");
}

#[test]
fn runbook_rotate_leaked_api_key() {
    let s = Store::new();
    let before = std::fs::read_to_string(s.file("api-keys/openai.yaml")).unwrap();
    run_runbook(
        &s,
        "rotate-leaked-api-key.md",
        "A",
        &[("NEW_API_KEY", "sk-new-999".into())],
    );
    assert_ne!(
        std::fs::read_to_string(s.file("api-keys/openai.yaml")).unwrap(),
        before
    );
    for k in ["A", "B"] {
        assert_eq!(
            s.sops_plain("api-keys/openai.yaml", k),
            "api_key: sk-new-999\n"
        );
    }
    assert!(!s.sops_decrypts("api-keys/openai.yaml", "C"));
}

#[test]
fn runbook_remove_person_or_host() {
    let s = Store::new();
    run_runbook(&s, "remove-person-or-host.md", "A", &[]);
    let listed = std::fs::read_to_string(s.sb.path("revoked.txt")).unwrap();
    for (rel, _) in SECRETS {
        assert!(listed.contains(rel.trim_end_matches(".yaml")), "{listed}");
        assert!(s.sops_decrypts(rel, "A"));
        assert!(
            !s.sops_decrypts(rel, "B"),
            "{rel} still opens for the desktop"
        );
    }
}

#[test]
fn runbook_host_cannot_decrypt_at_boot() {
    let s = Store::new();
    // A secret made before the desktop was in the rules.
    std::fs::write(s.file(".sops.yaml"), config("", &["laptop"])).unwrap();
    s.encrypt_new("api-keys/late.yaml", "token: t-1\n");
    std::fs::write(s.file(".sops.yaml"), config("", &["laptop", "desktop"])).unwrap();
    assert!(!s.sops_decrypts("api-keys/late.yaml", "B"));
    run_runbook(&s, "host-cannot-decrypt-at-boot.md", "A", &[]);
    assert_eq!(s.sops_plain("api-keys/late.yaml", "B"), "token: t-1\n");
    for (rel, _) in SECRETS {
        assert!(s.sops_decrypts(rel, "B") && s.sops_decrypts(rel, "A"));
        assert!(!s.sops_decrypts(rel, "C"));
    }
}

/// sops-nix turns the host's SSH key into an age identity with ssh-to-age;
/// sops 3.11 itself does not, so the check uses that derived identity.
#[test]
fn runbook_add_host_from_ssh_key() {
    let s = Store::new();
    let pub_key = vectors().join("keys/ssh_ed25519.pub");
    run_runbook(
        &s,
        "add-host-from-ssh-key.md",
        "A",
        &[("HOST_KEY_PUB", pub_key.display().to_string())],
    );
    let derived = ok(s
        .sb
        .nsec()
        .args(["ssh-to-age", "--private-key", "-i"])
        .arg(vectors().join("keys/ssh_ed25519")));
    let host_identity = s.sb.write("host-identity.txt", &derived);
    for (rel, _) in SECRETS {
        let out = run(s
            .sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", &host_identity)
            .arg("decrypt")
            .arg(s.file(rel)));
        assert!(
            out.status.success(),
            "{rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn runbook_restore_after_lost_laptop() {
    let s = Store::new();
    run_runbook(&s, "restore-after-lost-laptop.md", "B", &[]);
    // Move the new laptop's identity out of the default location: sops reads
    // the default keys.txt besides SOPS_AGE_KEY_FILE, which would make every
    // check below succeed with the new key.
    let default_key = s.sb.home().join(".config/sops/age/keys.txt");
    let new_key = s.sb.path("new-laptop.txt");
    std::fs::rename(&default_key, &new_key).unwrap();
    for (rel, _) in SECRETS {
        assert!(
            !s.sops_decrypts(rel, "A"),
            "{rel} still opens for the lost laptop"
        );
        assert!(s.sops_decrypts(rel, "B"));
        let out = run(s
            .sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", &new_key)
            .arg("decrypt")
            .arg(s.file(rel)));
        assert!(
            out.status.success(),
            "{rel}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
