//! Integration tests (operations): validate and its broken-store corpus,
//! store-wide rotate with failure injection, revoke, sops-nix output, git
//! integration, runbooks.
//!
//! The runbook tests run each `docs/runbooks/*.md` on a fresh copy of
//! `examples/nixos-repo` itself (see `Example`). The other tests build a store
//! with the same layout (`Store`): `secrets/.sops.yaml` with a laptop (key A)
//! and a desktop (key B), and secrets under `secrets/api-keys/` and
//! `secrets/ssh-keys/`. The real sops proves who can decrypt what.

mod common;

use std::collections::BTreeMap;
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

/// A secret whose own `rotate-after` date (template metadata) has passed is
/// a warning; one still in the future is not.
#[test]
fn rotate_after_metadata_is_a_rotation_warning() {
    let s = Store::new();
    s.encrypt_new(
        "api-keys/old.yaml",
        "old: v\nrotate-after_unencrypted: \"2020-01-01\"\n",
    );
    s.encrypt_new(
        "api-keys/new.yaml",
        "new: v\nrotate-after_unencrypted: \"2999-01-01\"\n",
    );
    let (exit, codes) = s.validate_codes(&["--keyless"]);
    assert_eq!(
        codes,
        vec!["W060".to_string()],
        "only the passed date warns"
    );
    assert_eq!(exit, 0, "a warning alone is not a failure");
    let out = run(s.nsec().args(["validate", "--keyless"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("api-keys/old.yaml"));
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
            "E051" => vec!["E051".into(), "E030".into()],
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
        // `nsec list` says `ok` exactly for the files `validate --keyless`
        // finds nothing wrong with.
        let listed = run(s.nsec().args(["list", "--json"]));
        if listed.status.success() {
            let keyless = run(s.nsec().args(["validate", "--keyless", "--json"]));
            let v: serde_json::Value = serde_json::from_slice(&keyless.stdout).unwrap();
            let flagged: Vec<String> = v["problems"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["file"].as_str().map(str::to_string))
                .collect();
            let items: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
            for item in items.as_array().unwrap() {
                let file = item["file"].as_str().unwrap();
                let ok_status = item["status"] == "ok";
                assert_eq!(
                    ok_status,
                    !flagged.iter().any(|f| f == file),
                    "case {want}: list says {} for {file}, validate --keyless flags {flagged:?}",
                    item["status"]
                );
            }
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

/// A re-key is not a change of value: `rotate --all` keeps every file's
/// `lastmodified` (the rotation clock of W060 and `rotation_days`), while
/// `set` restarts it. sops reads the re-keyed file (the MAC is sealed with
/// the kept date).
#[test]
fn rekeying_keeps_the_rotation_clock_and_set_restarts_it() {
    let s = Store::new();
    let lastmodified = |rel: &str| {
        let t = std::fs::read_to_string(s.file(rel)).unwrap();
        t.lines()
            .find(|l| l.trim_start().starts_with("lastmodified:"))
            .unwrap()
            .to_string()
    };
    let rel = "api-keys/openai.yaml";
    let before_text = std::fs::read_to_string(s.file(rel)).unwrap();
    let before = lastmodified(rel);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(s.nsec().args(["rotate", "--all", "--yes"]));
    assert_ne!(
        std::fs::read_to_string(s.file(rel)).unwrap(),
        before_text,
        "not re-keyed"
    );
    assert_eq!(lastmodified(rel), before);
    assert!(s.sops_plain(rel, "A").contains("sk-openai-123"));
    let out = run_with_stdin(
        s.nsec()
            .args(["set", "--value-stdin"])
            .arg(s.file(rel))
            .arg("[\"api_key\"]"),
        b"\"sk-openai-456\"",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(lastmodified(rel), before);
    assert!(s.sops_plain(rel, "A").contains("sk-openai-456"));
}

/// A failure at every step: the store always decrypts completely (old or
/// new keys, file by file), and the next run completes the rotation.
#[test]
fn rotate_survives_failure_at_every_step() {
    require_fault_injection();
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

/// A store-wide command that edits `.sops.yaml` and re-keys secrets
/// (`host add/rm --yes`, `revoke`), killed at each file-system step in turn
/// (every temporary's write and fsync, every rename; injected, so each step
/// is hit exactly), then run again.
struct CrashCase {
    args: &'static [&'static str],
    /// What the command says when it is done (also when a rerun finds its
    /// interrupted run completed by recovery).
    says: &'static str,
    /// Whether it lists the secrets on stdout (`revoke`: to change at
    /// their source).
    lists_secrets: bool,
    /// The key that must open every secret when the command is done.
    added: Option<&'static str>,
    /// The key that must not open any secret once `.sops.yaml` says so.
    removed: Option<&'static str>,
}

/// Asserts that `s` is the store `case` leaves when it is done: the
/// config and recipients of a clean run, every secret the same for the
/// real sops, no journal and no temporary left, and `validate` clean.
fn assert_crash_case_done(
    s: &Store,
    case: &CrashCase,
    done: &(String, Vec<String>, Vec<String>),
    what: &str,
) {
    let (config, recipients_after, plain) = done;
    assert_eq!(
        &std::fs::read_to_string(s.file(".sops.yaml")).unwrap(),
        config,
        "{what}"
    );
    for ((rel, _), plain) in SECRETS.iter().zip(plain) {
        assert_eq!(&recipients(&s.file(rel)), recipients_after, "{what}: {rel}");
        assert_eq!(&s.sops_plain(rel, "A"), plain, "{what}: {rel}");
        if let Some(k) = case.added {
            assert!(
                s.sops_decrypts(rel, k),
                "{what}: {rel} does not open with {k}"
            );
        }
        if let Some(k) = case.removed {
            assert!(
                !s.sops_decrypts(rel, k),
                "{what}: {rel} still opens with {k}"
            );
        }
    }
    assert!(!s.file(".nsec/rotate-journal").exists(), "{what}");
    let leftovers: Vec<_> = walk(&s.root())
        .into_iter()
        .filter(|p| {
            let p = p.to_string_lossy();
            p.contains("nsec-rotate") || p.contains("nsec-tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{what}: {leftovers:?}");
    assert_eq!(s.validate_codes(&[]), (0, vec![]), "{what}");
}

fn assert_says_done(case: &CrashCase, out: &std::process::Output, what: &str) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(case.says), "{what}: {text}");
    if case.lists_secrets {
        for (rel, _) in SECRETS {
            let name = rel.trim_end_matches(".yaml");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(name),
                "{what}: {name} not listed: {text}"
            );
        }
    }
}

/// See [`CrashCase`]. After each crash: `.sops.yaml` is the old or the new
/// one, every secret has the old or the new recipients and opens for the
/// real sops with key A to the same content (nothing torn); once
/// `.sops.yaml` no longer names a removed key, no secret opens with it;
/// a secret whose recipients differ from what `.sops.yaml` says is
/// reported by `validate` (E030). Running the command again succeeds and
/// leaves the store of a clean run, without temporaries.
fn crash_at_every_step(case: CrashCase) {
    require_fault_injection();
    let what = case.args.join(" ");
    // A clean run shows what the store looks like when the command is done.
    let reference = Store::new();
    let old_config = std::fs::read_to_string(reference.file(".sops.yaml")).unwrap();
    let old_recipients = recipients(&reference.file(SECRETS[0].0));
    let plain: Vec<String> = SECRETS
        .iter()
        .map(|(rel, _)| reference.sops_plain(rel, "A"))
        .collect();
    ok(reference.nsec().args(case.args));
    let done = (
        std::fs::read_to_string(reference.file(".sops.yaml")).unwrap(),
        recipients(&reference.file(SECRETS[0].0)),
        plain.clone(),
    );
    assert_crash_case_done(&reference, &case, &done, &what);
    assert_ne!(done.0, old_config);
    assert_ne!(done.1, old_recipients);
    let mut step = 1;
    loop {
        assert!(step < 200, "{what}: never finished");
        let s = Store::new();
        let out = run(s
            .nsec()
            .args(case.args)
            .env("NSEC_TEST_FAULT_AT", step.to_string()));
        let at = format!("{what}, crash at step {step}");
        if out.status.code().is_some() {
            assert_eq!(
                code(&out),
                0,
                "{at}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_crash_case_done(&s, &case, &done, &format!("{what}, no crash"));
            break;
        }
        let config_now = std::fs::read_to_string(s.file(".sops.yaml")).unwrap();
        let config_is_new = config_now == done.0;
        assert!(
            config_is_new || config_now == old_config,
            "{at}: torn .sops.yaml"
        );
        let mut drift = false;
        for ((rel, _), plain) in SECRETS.iter().zip(&plain) {
            let r = recipients(&s.file(rel));
            assert!(r == old_recipients || r == done.1, "{at}: {rel} has {r:?}");
            assert_eq!(&s.sops_plain(rel, "A"), plain, "{at}: {rel}");
            let expected = if config_is_new {
                &done.1
            } else {
                &old_recipients
            };
            drift |= &r != expected;
            if let (Some(k), true) = (case.removed, config_is_new) {
                assert!(
                    !s.sops_decrypts(rel, k),
                    "{at}: .sops.yaml says {k} is gone but {rel} opens with it"
                );
            }
        }
        // validate says what is out of step, and how to finish the change.
        let journal = s.file(".nsec/rotate-journal").exists();
        let v = run(s.nsec().args(["validate", "--json"]));
        let v: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        let problems = v["problems"].as_array().unwrap();
        let fix_of = |code: &str| {
            problems
                .iter()
                .find(|p| p["code"] == code)
                .map(|p| p["fix"].as_str().unwrap().to_string())
        };
        assert_eq!(drift, fix_of("E030").is_some(), "{at}: {v}");
        let finish = fix_of("E081");
        assert_eq!(journal, finish.is_some(), "{at}: {v}");
        // `list` reads recipients from the files, half old and half new:
        // it says so, and where to look.
        let listed = run(s.nsec().args(["list"]));
        let warned =
            String::from_utf8_lossy(&listed.stderr).contains("was interrupted and is not finished");
        assert_eq!(
            journal,
            warned,
            "{at}: {}",
            String::from_utf8_lossy(&listed.stderr)
        );
        if let (Some(e030), Some(finish)) = (fix_of("E030"), &finish) {
            assert!(
                e030.starts_with("finish the interrupted change first: ")
                    && finish.ends_with(
                        e030.trim_start_matches("finish the interrupted change first: ")
                    ),
                "{at}: {v}"
            );
        }
        // A temporary of the killed write is stale once its writer is gone
        // and it is older than a writer's first moment.
        for p in walk(&s.root()) {
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".nsec-tmp-")
            {
                std::fs::File::options()
                    .write(true)
                    .open(&p)
                    .unwrap()
                    .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
                    .unwrap();
            }
        }
        let committed = std::fs::read_to_string(s.file(".nsec/rotate-journal"))
            .is_ok_and(|j| j.contains("\"commit\""));
        // Run again: pasted from validate's E081 fix when it gave one (the
        // same command with the store's --dir), else as typed.
        let again = match &finish {
            Some(fix) => {
                let cmd = &fix[fix.find("nsec ").unwrap()..];
                assert!(
                    cmd.starts_with(&format!("nsec {}", case.args[..2].join(" "))),
                    "{at}: {cmd}"
                );
                let path = format!(
                    "{}:{}",
                    nsec_bin().parent().unwrap().display(),
                    std::env::var("PATH").unwrap_or_default()
                );
                run(s
                    .sb
                    .cmd("sh")
                    .env("PATH", path)
                    .env("SOPS_AGE_KEY_FILE", s.key("A"))
                    .args(["-c", cmd]))
            }
            None => run(s.nsec().args(case.args)),
        };
        let err = String::from_utf8_lossy(&again.stderr);
        assert_eq!(code(&again), 0, "{at}, run again: {err}");
        if committed {
            assert!(err.contains("was completed"), "{at}, run again: {err}");
        }
        assert_says_done(&case, &again, &at);
        assert_crash_case_done(&s, &case, &done, &format!("{at}, run again"));
        step += 1;
    }
    eprintln!("{what}: killed at each of {} steps", step - 1);
    assert!(step > 20, "{what}: only {step} steps were injected");
}

#[test]
fn host_add_survives_a_crash_at_every_step() {
    crash_at_every_step(CrashCase {
        args: &["host", "add", "ci", "--age", AGE_C, "--yes"],
        says: "Added host ci",
        lists_secrets: false,
        added: Some("C"),
        removed: None,
    });
}

#[test]
fn host_rm_survives_a_crash_at_every_step() {
    crash_at_every_step(CrashCase {
        args: &["host", "rm", "desktop", "--yes"],
        says: "Removed host desktop",
        lists_secrets: false,
        added: None,
        removed: Some("B"),
    });
}

#[test]
fn revoke_survives_a_crash_at_every_step() {
    crash_at_every_step(CrashCase {
        args: &["revoke", "desktop", "--yes"],
        says: "Revoked desktop",
        lists_secrets: true,
        added: None,
        removed: Some("B"),
    });
}

/// `host rm` killed during its commit, after the secrets were renamed but
/// before `.sops.yaml` was; then `.sops.yaml` is edited by hand. Running
/// `host rm` again keeps the edit (recovery does not put the prepared
/// config over it, and says so), removes the host from the edited config,
/// and leaves every secret closed to it.
#[test]
fn host_rm_rerun_keeps_a_config_edited_after_the_crash() {
    require_fault_injection();
    let mut step = 1;
    let s = loop {
        assert!(
            step < 100,
            "no step left the secrets renamed and the config old"
        );
        let s = Store::new();
        let out = run(s
            .nsec()
            .args(["host", "rm", "desktop", "--yes"])
            .env("NSEC_TEST_FAULT_AT", step.to_string()));
        assert!(
            out.status.code().is_none(),
            "finished before the config rename"
        );
        let config_old = std::fs::read_to_string(s.file(".sops.yaml"))
            .unwrap()
            .contains("&desktop");
        let rekeyed = SECRETS.iter().all(|(rel, _)| !s.sops_decrypts(rel, "B"));
        if config_old && rekeyed {
            break s;
        }
        step += 1;
    };
    let edited = format!(
        "# edited after the crash\n{}",
        config("", &["laptop", "desktop"])
    );
    std::fs::write(s.file(".sops.yaml"), &edited).unwrap();
    let out = run(s.nsec().args(["host", "rm", "desktop", "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains("except for files changed since") && err.contains(".sops.yaml"),
        "{err}"
    );
    let now = std::fs::read_to_string(s.file(".sops.yaml")).unwrap();
    assert!(
        now.starts_with("# edited after the crash\n") && !now.contains("desktop"),
        "{now}"
    );
    for (rel, _) in SECRETS {
        assert!(s.sops_decrypts(rel, "A"), "{rel}");
        assert!(
            !s.sops_decrypts(rel, "B"),
            "{rel} opens for the removed host"
        );
    }
    assert_eq!(s.validate_codes(&[]), (0, vec![]));
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
    let parsed = run(Command::new(tool("nix-instantiate"))
        .arg("--parse")
        .arg(&nix));
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
    run(s.sb.git(&s.key("A")).args(args))
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
//
// Each runbook runs end to end on a fresh copy of `examples/nixos-repo`
// (laptop and desktop in `secrets/.sops.yaml`, their THROWAWAY identities in
// `throwaway-keys/`), committed in git. Afterwards the real sops proves, for
// every file under `secrets/` (except `.sops.yaml`), which identities decrypt
// it and which do not, with one identity at a time: the laptop, the desktop,
// a stranger (test key C, never a recipient) and any identity the runbook
// adds. The sandbox HOME has no `~/.config/sops/age/keys.txt` during the
// proofs, so sops sees only the identity under test.

/// The laptop's recipient in `examples/nixos-repo` (THROWAWAY).
const EX_LAPTOP: &str = "age1un8ktsqc8x3gx02598cw3x0tthahgf2dp4ljtszhx3ly0xn2ra8sdrjlls";
/// The desktop's recipient in `examples/nixos-repo` (THROWAWAY).
const EX_DESKTOP: &str = "age1tmwxq0jzh03xzl80dz2r7mycyemgnxz5fw9e4ujzfnmx2fa74p0qtfxz86";

/// The files of the example's `secrets/`, except `.sops.yaml`.
const EX_FILES: [&str; 5] = [
    "api-keys/github.yaml",
    "api-keys/openai.yaml",
    "api-keys/postgres.yaml",
    "ssh-keys/backup-ed25519.yaml",
    "ssh-keys/wg-desktop.yaml",
];

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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A fresh copy of `examples/nixos-repo` as the sandbox's working directory
/// (the root of a git repository), with the identities kept apart in
/// `<sandbox>/identities/NAME.txt`: neither in the copy's tree that the
/// runbook touches nor in the sandbox HOME.
struct Example {
    sb: Sandbox,
}

impl Example {
    fn new() -> Example {
        let sb = Sandbox::new();
        copy_dir(&repo_root().join("examples/nixos-repo"), &sb.work());
        let ex = Example { sb };
        for who in ["laptop", "desktop"] {
            let key = std::fs::read(ex.sb.path(&format!("throwaway-keys/{who}.txt"))).unwrap();
            ex.add_identity(who, &key);
        }
        ex.add_identity("stranger", &std::fs::read(key_file("C")).unwrap());
        ex.git_ok(&["init", "-q", "-b", "main"]);
        ex.git_ok(&["add", "."]);
        ex.git_ok(&["commit", "-q", "-m", "nixos-repo"]);
        assert_eq!(ex.files(), EX_FILES);
        ex
    }

    fn identity(&self, who: &str) -> PathBuf {
        self.sb.dir.path().join(format!("identities/{who}.txt"))
    }

    fn add_identity(&self, who: &str, key: &[u8]) {
        let p = self.identity(who);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, key).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.sb.path("secrets").join(rel)
    }

    /// `secrets/.sops.yaml` without its comment lines.
    fn sops_yaml(&self) -> String {
        std::fs::read_to_string(self.file(".sops.yaml"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// Every file under `secrets/` except `.sops.yaml`, sorted.
    fn files(&self) -> Vec<String> {
        let root = self.sb.path("secrets");
        let mut v: Vec<String> = walk(&root)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            // nsec's own state (lock, journal) lives in .nsec/ and is ignored by git.
            .filter(|r| r != ".sops.yaml" && !r.starts_with(".nsec/"))
            .collect();
        v.sort();
        v
    }

    fn git(&self, args: &[&str]) -> std::process::Output {
        run(self
            .sb
            .cmd(tool("git"))
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org"))
    }

    fn git_ok(&self, args: &[&str]) -> String {
        let out = self.git(args);
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The real sops decrypts `rel` with identity `who` only: Some(plaintext),
    /// or None when sops cannot get the data key (exit 128). Any other failure
    /// fails the test.
    fn sops_decrypt(&self, rel: &str, who: &str) -> Option<String> {
        let default_keys = self.sb.home().join(".config/sops/age/keys.txt");
        assert!(
            !default_keys.exists(),
            "{} would give sops a second identity",
            default_keys.display()
        );
        let out = run(self
            .sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", self.identity(who))
            .arg("decrypt")
            .arg(self.file(rel)));
        match code(&out) {
            0 => Some(String::from_utf8(out.stdout).unwrap()),
            128 => None,
            c => panic!(
                "sops decrypt {rel} as {who}: exit {c}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Proves that every file of the copy opens for each of `can` (all with the
    /// same plaintext) and for none of `cannot`. Returns the plaintexts.
    fn prove_access(&self, can: &[&str], cannot: &[&str]) -> BTreeMap<String, String> {
        assert_eq!(
            self.files(),
            EX_FILES,
            "the runbook changed the set of files"
        );
        let mut plain = BTreeMap::new();
        for rel in self.files() {
            let mut seen: Option<String> = None;
            for who in can {
                let p = self
                    .sops_decrypt(&rel, who)
                    .unwrap_or_else(|| panic!("{rel} does not open for {who}"));
                if let Some(s) = &seen {
                    assert_eq!(&p, s, "{rel}: {who} sees another plaintext");
                }
                seen = Some(p);
            }
            for who in cannot {
                assert!(
                    self.sops_decrypt(&rel, who).is_none(),
                    "{rel} opens for {who}"
                );
            }
            plain.insert(rel, seen.expect("no identity can decrypt"));
        }
        plain
    }

    /// Runs a runbook end to end from the repository root, with identity
    /// `admin` as the operator's `SOPS_AGE_KEY_FILE` and nsec on the PATH.
    fn run_runbook(&self, name: &str, admin: &str, env: &[(&str, String)]) {
        let script = self.sb.dir.path().join(format!("{name}.sh"));
        std::fs::write(&script, runbook_script(name)).unwrap();
        let path = format!(
            "{}:{}",
            nsec_bin().parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = self.sb.cmd("sh");
        c.arg("-eu")
            .arg(&script)
            .env("PATH", path)
            .env("SOPS_AGE_KEY_FILE", self.identity(admin))
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
        assert_eq!(self.git_ok(&["status", "--porcelain", "secrets"]), "");
    }
}

#[test]
fn runbook_rotate_leaked_api_key() {
    let ex = Example::new();
    let before = ex.prove_access(&["laptop", "desktop"], &["stranger"]);
    let old_file = std::fs::read_to_string(ex.file("api-keys/openai.yaml")).unwrap();
    // The data key, encrypted to each recipient: the age blocks of the file.
    let age_blocks = |t: &str| -> Vec<String> {
        t.split("-----BEGIN AGE ENCRYPTED FILE-----")
            .skip(1)
            .map(|b| {
                b.split("-----END AGE ENCRYPTED FILE-----")
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    ex.run_runbook(
        "rotate-leaked-api-key.md",
        "laptop",
        &[("NEW_API_KEY", "sk-new-999".into())],
    );
    let after = ex.prove_access(&["laptop", "desktop"], &["stranger"]);
    // The value changed, the metadata stayed; nothing else changed.
    let want = before["api-keys/openai.yaml"].replace(
        "openai: sk-THROWAWAY-example-not-a-real-key\n",
        "openai: sk-new-999\n",
    );
    assert_ne!(want, before["api-keys/openai.yaml"]);
    assert_eq!(after["api-keys/openai.yaml"], want);
    for rel in EX_FILES.iter().filter(|r| **r != "api-keys/openai.yaml") {
        assert_eq!(after[*rel], before[*rel], "{rel}");
    }
    // Fresh data key, still for the laptop and the desktop: new age blocks.
    let new_file = std::fs::read_to_string(ex.file("api-keys/openai.yaml")).unwrap();
    let (old_blocks, new_blocks) = (age_blocks(&old_file), age_blocks(&new_file));
    assert_eq!((old_blocks.len(), new_blocks.len()), (2, 2));
    assert!(new_blocks.iter().all(|b| !old_blocks.contains(b)));
    let log = ex.git_ok(&["log", "--oneline", "-1"]);
    assert!(log.contains("Rotate leaked OpenAI API key"), "{log}");
}

#[test]
fn runbook_remove_person_or_host() {
    let ex = Example::new();
    let before = ex.prove_access(&["laptop", "desktop"], &["stranger"]);
    ex.run_runbook("remove-person-or-host.md", "laptop", &[]);
    // The desktop is gone from .sops.yaml and from every file.
    let c = ex.sops_yaml();
    assert!(!c.contains(EX_DESKTOP) && !c.contains("*desktop"), "{c}");
    assert!(c.contains(EX_LAPTOP));
    let after = ex.prove_access(&["laptop"], &["desktop", "stranger"]);
    assert_eq!(after, before, "revoking changed a value");
    // The runbook's list of secrets to change at their source names them all.
    let listed = std::fs::read_to_string(ex.sb.path("revoked.txt")).unwrap();
    for rel in EX_FILES {
        assert!(listed.contains(rel.trim_end_matches(".yaml")), "{listed}");
    }
}

#[test]
fn runbook_host_cannot_decrypt_at_boot() {
    let ex = Example::new();
    // Break the copy the way the runbook describes: github.yaml was made
    // before the desktop was a recipient (here: the real sops takes the
    // desktop out of it).
    ok(ex
        .sb
        .sops()
        .env("SOPS_AGE_KEY_FILE", ex.identity("laptop"))
        .args(["rotate", "-i", "--rm-age", EX_DESKTOP])
        .arg(ex.file("api-keys/github.yaml")));
    ex.git_ok(&["commit", "-qam", "github.yaml without the desktop"]);
    assert!(ex.sops_decrypt("api-keys/github.yaml", "desktop").is_none());
    let before = ex.sops_decrypt("api-keys/github.yaml", "laptop").unwrap();
    let out = run(ex
        .sb
        .nsec()
        .args(["validate", "--keyless", "--host", "desktop"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("E051"));

    ex.run_runbook("host-cannot-decrypt-at-boot.md", "laptop", &[]);
    let after = ex.prove_access(&["laptop", "desktop"], &["stranger"]);
    assert_eq!(after["api-keys/github.yaml"], before);
    assert_eq!(
        after["api-keys/github.yaml"],
        "github: ghp_THROWAWAYexample0000000000000000\ncreated_unencrypted: \"2026-11-26\"\n"
    );
}

/// sops-nix turns the host's SSH key into an age identity with ssh-to-age;
/// sops 3.11 itself does not, so the proof uses that derived identity.
#[test]
fn runbook_add_host_from_ssh_key() {
    let ex = Example::new();
    let before = ex.prove_access(&["laptop", "desktop"], &["stranger"]);
    let derived = ok(ex
        .sb
        .nsec()
        .args(["ssh-to-age", "--private-key", "-i"])
        .arg(vectors().join("keys/ssh_ed25519")));
    ex.add_identity("nas", &derived);
    for rel in EX_FILES {
        assert!(ex.sops_decrypt(rel, "nas").is_none(), "{rel} opens for nas");
    }
    let pub_key = vectors().join("keys/ssh_ed25519.pub");
    ex.run_runbook(
        "add-host-from-ssh-key.md",
        "laptop",
        &[("HOST_KEY_PUB", pub_key.display().to_string())],
    );
    let nas_recipient =
        String::from_utf8(ok(ex.sb.nsec().args(["ssh-to-age", "-i"]).arg(&pub_key))).unwrap();
    let c = ex.sops_yaml();
    assert!(c.contains(&format!("&nas {}", nas_recipient.trim())), "{c}");
    let after = ex.prove_access(&["laptop", "desktop", "nas"], &["stranger"]);
    assert_eq!(after, before, "adding a host changed a value");
    let nix = std::fs::read_to_string(ex.sb.path("secrets.nix")).unwrap();
    assert!(nix.contains("./secrets/api-keys/openai.yaml"), "{nix}");
}

#[test]
fn runbook_restore_after_lost_laptop() {
    let ex = Example::new();
    let before = ex.prove_access(&["laptop", "desktop"], &["stranger"]);
    ex.run_runbook("restore-after-lost-laptop.md", "desktop", &[]);
    // The runbook put the new laptop's identity at the default location of
    // the sandbox HOME; move it with the others, so that sops reads only the
    // identity under test.
    let default_keys = ex.sb.home().join(".config/sops/age/keys.txt");
    let new_key = std::fs::read(&default_keys).unwrap();
    std::fs::remove_file(&default_keys).unwrap();
    ex.add_identity("new-laptop", &new_key);
    let new_recipient = String::from_utf8(ok(Command::new(age_bin("age-keygen"))
        .arg("-y")
        .arg(ex.identity("new-laptop"))))
    .unwrap();
    let c = ex.sops_yaml();
    assert!(!c.contains(EX_LAPTOP), "{c}");
    assert!(
        c.contains(&format!("&laptop {}", new_recipient.trim())),
        "{c}"
    );
    let after = ex.prove_access(&["desktop", "new-laptop"], &["laptop", "stranger"]);
    assert_eq!(after, before, "restoring changed a value");
    let listed = std::fs::read_to_string(ex.sb.path("revoked.txt")).unwrap();
    for rel in EX_FILES {
        assert!(listed.contains(rel.trim_end_matches(".yaml")), "{listed}");
    }
}

// ------------------------------------------------ rotate: NaN and locking

/// A `.nan` value is not equal to itself; the verification of the rotated
/// file must still accept it.
#[test]
fn rotate_all_keeps_a_nan_value() {
    let s = Store::new();
    s.encrypt_new("api-keys/nan.yaml", "ratio: .nan\nscale: 1.5\n");
    let before = std::fs::read_to_string(s.file("api-keys/nan.yaml")).unwrap();
    let out = run(s.nsec().args(["rotate", "--all", "--yes"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(
        std::fs::read_to_string(s.file("api-keys/nan.yaml")).unwrap(),
        before,
        "not rotated"
    );
    let plain = s.sops_plain("api-keys/nan.yaml", "B");
    assert!(plain.contains("ratio: .nan"), "{plain}");
    assert!(plain.contains("scale: 1.5"), "{plain}");
    assert!(!s.file(".nsec/rotate-journal").exists());
}

/// `nsec rotate --all` and `nsec set` at the same time: the rotation locks
/// the files, so the set is never lost and every file always decrypts.
#[test]
fn rotate_all_and_concurrent_set_never_lose_the_set() {
    let s = Store::new();
    let rel = "api-keys/openai.yaml";
    for round in 0..20 {
        let spawn_set = || {
            s.nsec()
                .arg("set")
                .arg(s.file(rel))
                .arg(format!("[\"k{round}\"]"))
                .arg(format!("\"v{round}\""))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let spawn_rotate = || {
            s.nsec()
                .args(["rotate", "--yes", "--all"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let pause = std::time::Duration::from_millis((round % 5) as u64 * 3);
        let (set, rotate) = if round % 2 == 0 {
            let set = spawn_set();
            std::thread::sleep(pause);
            (set, spawn_rotate())
        } else {
            let rotate = spawn_rotate();
            std::thread::sleep(pause);
            (spawn_set(), rotate)
        };
        let set = set.wait_with_output().unwrap();
        let rotate = rotate.wait_with_output().unwrap();
        assert!(
            set.status.success(),
            "round {round}: set: {}",
            String::from_utf8_lossy(&set.stderr)
        );
        assert!(
            rotate.status.success(),
            "round {round}: rotate: {}",
            String::from_utf8_lossy(&rotate.stderr)
        );
        // Every set so far is there (the real sops decrypts the file).
        let plain = s.sops_plain(rel, "A");
        assert!(
            plain.contains("api_key: sk-openai-123"),
            "round {round}: {plain}"
        );
        for k in 0..=round {
            assert!(
                plain.contains(&format!("k{k}: v{k}")),
                "round {round}: the set of k{k} was lost:\n{plain}"
            );
        }
        for (other, _) in SECRETS {
            assert!(s.sops_decrypts(other, "B"), "round {round}: {other}");
        }
        assert!(!s.file(".nsec/rotate-journal").exists());
    }
    let leftovers: Vec<_> = walk(&s.root())
        .into_iter()
        .filter(|p| {
            p.to_string_lossy().contains("nsec-rotate") || p.to_string_lossy().contains("nsec-tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A rotation killed after its commit journal is written, then an `nsec set`
/// before the next run: recovery must not put back the prepared copy over
/// the set (the journal records what each file was), and the next run still
/// gives every file its new recipients.
#[test]
fn recovery_keeps_a_change_made_after_an_interrupted_rotation() {
    require_fault_injection();
    let s = Store::new();
    std::fs::write(
        s.file(".sops.yaml"),
        config(&format!("  - &ci {AGE_C}\n"), &["laptop", "ci"]),
    )
    .unwrap();
    // journal, one prepare step per file, then the commit journal.
    let commit_journal_written = 1 + SECRETS.len() + 1;
    let out = run(s
        .nsec()
        .args(["rotate", "--yes"])
        .env("NSEC_TEST_FAIL_AFTER", commit_journal_written.to_string()));
    assert!(!out.status.success());
    let journal = std::fs::read_to_string(s.file(".nsec/rotate-journal")).unwrap();
    assert!(journal.contains("\"commit\""), "{journal}");
    // (the value in argv is fine for a throwaway test value)
    ok(s.nsec().args([
        "set",
        "secrets/api-keys/openai.yaml",
        r#"["api_key"]"#,
        r#""sk-after-crash""#,
    ]));
    let out = run(s.nsec().args(["rotate", "--yes"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("changed since"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s
        .sops_plain("api-keys/openai.yaml", "C")
        .contains("sk-after-crash"));
    for (rel, _) in SECRETS {
        assert!(s.sops_decrypts(rel, "C"), "{rel} was not rotated");
        assert!(
            !s.sops_decrypts(rel, "B"),
            "{rel} still opens for the desktop"
        );
    }
}

/// Every `fix:` validate prints that is a command works when pasted: run
/// in a shell from the working directory, it removes the problem.
#[test]
fn validate_fixes_work_when_pasted() {
    type Breaker = fn(&Store);
    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "E010",
            |s| {
                std::fs::write(
                    s.file("api-keys/new file.yaml"),
                    "api_key: plain-text-secret\n",
                )
                .unwrap();
            },
            "",
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
            "",
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
            "",
        ),
        (
            "W060",
            |s| {
                std::fs::remove_file(s.file("api-keys/github.yaml")).unwrap();
                s.encrypt_new(
                    "api-keys/github.yaml",
                    "token: t\nrotate-after_unencrypted: \"2020-01-01\"\n",
                );
            },
            "2999-01-01\n",
        ),
        (
            "E070",
            |s| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(s.key("A"), std::fs::Permissions::from_mode(0o644))
                    .unwrap();
            },
            "",
        ),
    ];
    for (want, brk, stdin) in cases {
        let s = Store::new();
        brk(&s);
        let out = run(s.nsec().args(["validate", "--json"]));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let fixes: Vec<String> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["code"] == want)
            .map(|p| p["fix"].as_str().unwrap().to_string())
            .collect();
        assert!(!fixes.is_empty(), "{want} not reported: {v}");
        for fix in fixes {
            // The command is the last `nsec …`/`chmod …` in the text, up to
            // a parenthesised remark.
            let at = fix
                .rfind("nsec ")
                .or_else(|| fix.rfind("chmod "))
                .unwrap_or_else(|| panic!("{want}: no command in {fix:?}"));
            let cmd = fix[at..].split("   (").next().unwrap();
            eprintln!("{want}: running {cmd}");
            let path = format!(
                "{}:{}",
                nsec_bin().parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            );
            let ran = run_with_stdin(
                s.sb.cmd("sh")
                    .args(["-c", cmd])
                    .env("PATH", path)
                    .env("SOPS_AGE_KEY_FILE", s.key("A")),
                stdin.as_bytes(),
            );
            assert_eq!(
                code(&ran),
                0,
                "{want}: `{cmd}` failed: {}",
                String::from_utf8_lossy(&ran.stderr)
            );
        }
        let (_, codes) = s.validate_codes(&[]);
        assert!(
            !codes.iter().any(|c| c == want),
            "{want} after its fix: {codes:?}"
        );
    }
}

/// The store-wide rotation keeps each file's owner, group and mode.
#[test]
fn store_rotation_keeps_owner_group_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let s = Store::new();
    let f = s.file("api-keys/openai.yaml");
    std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::read(&f).unwrap();
    ok(s.nsec().args(["rotate", "--all", "--yes"]));
    assert_ne!(std::fs::read(&f).unwrap(), before, "not rotated");
    let m = std::fs::metadata(&f).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.permissions().mode() & 0o777),
        (65534, 65534, 0o640)
    );
}

/// A write killed between writing and renaming leaves a `.nsec-tmp-*`
/// file (plaintext after `decrypt --in-place`): validate reports it (E080)
/// with a fix that works, the next write in its directory removes it, a
/// temporary a live writer holds is left alone, and git ignores and the
/// pre-commit hook refuses them.
#[test]
fn leftover_temp_files_are_found_swept_and_never_committed() {
    let s = git_store();
    let dir = s.file("api-keys");
    let leftover = |name: &str| {
        let p = dir.join(name);
        std::fs::write(&p, "api_key: plain-text-secret\n").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(old)
            .unwrap();
        p
    };
    let a = leftover(".nsec-tmp-AAAAAA");
    // A live writer's temporary: locked, so neither reported nor swept.
    let live = leftover(".nsec-tmp-LIVE00");
    let held = std::fs::File::open(&live).unwrap();
    held.lock().unwrap();
    let out = run(s.nsec().args(["validate", "--keyless", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e080: Vec<&serde_json::Value> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "E080")
        .collect();
    assert_eq!(e080.len(), 1, "{v}");
    assert!(e080[0]["file"]
        .as_str()
        .unwrap()
        .ends_with(".nsec-tmp-AAAAAA"));
    assert!(!out.stdout.windows(17).any(|w| w == b"plain-text-secret"));
    // The fix works when pasted.
    let fix = e080[0]["fix"].as_str().unwrap();
    ok(s.sb.cmd("sh").args(["-c", fix]));
    assert!(!a.exists());
    // The next write in the directory sweeps stale ones.
    let b = leftover(".nsec-tmp-BBBBBB");
    let out = run_with_stdin(
        s.nsec()
            .args(["set"])
            .arg(s.file("api-keys/openai.yaml"))
            .arg("api_key"),
        b"sk-new-value-123\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!b.exists(), "not swept");
    assert!(live.exists(), "a live writer's temporary was removed");
    drop(held);
    std::fs::remove_file(&live).unwrap();
    // git ignores them; forced into the index, the hook refuses the commit.
    let ignore = std::fs::read_to_string(s.file(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == ".nsec-tmp-*"), "{ignore}");
    let c = leftover(".nsec-tmp-CCCCCC");
    git_ok(&s, &["add", "-A"]);
    let status = git_ok(&s, &["status", "--porcelain"]);
    assert!(!status.contains("nsec-tmp"), "{status}");
    git_ok(&s, &["add", "-f", c.to_str().unwrap()]);
    let out = git(&s, &["commit", "-q", "-m", "leak"]);
    assert!(!out.status.success(), "a leftover temporary was committed");
    let msg =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("E080") && !msg.contains("plain-text-secret"),
        "{msg}"
    );
}

/// Runs `cmd`, killing it after 20 s: a FIFO or a device must never block
/// or exhaust nsec.
fn run_bounded(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{cmd:?} did not finish in 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Every file nsec reads must be a regular file: a `.sops.yaml` linked to
/// /dev/zero, a FIFO named like a secret or like an identity file, and a
/// directory named like a secret give errors or problems, never a hang or
/// unbounded reading; store scans report what they cannot read (E013).
#[test]
fn non_regular_files_are_refused_or_reported() {
    let s = Store::new();
    let fifo = |p: &Path| {
        ok(Command::new("mkfifo").arg(p));
    };
    fifo(&s.file("api-keys/pipe.yaml"));
    std::fs::create_dir_all(s.file("api-keys/dir.yaml")).unwrap();
    std::os::unix::fs::symlink(s.file("api-keys/openai.yaml"), s.file("api-keys/link.yaml"))
        .unwrap();
    let out = run_bounded(s.nsec().args(["validate", "--keyless", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut e013: Vec<String> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "E013")
        .map(|p| p["file"].as_str().unwrap().to_string() + " " + p["message"].as_str().unwrap())
        .collect();
    e013.sort();
    assert_eq!(e013.len(), 3, "{e013:?}");
    assert!(
        e013[0].starts_with("api-keys/dir.yaml is a directory"),
        "{e013:?}"
    );
    assert!(
        e013[1].starts_with("api-keys/link.yaml is a symlink"),
        "{e013:?}"
    );
    assert!(
        e013[2].starts_with("api-keys/pipe.yaml is a FIFO"),
        "{e013:?}"
    );
    for args in [&["list"][..], &["nix"], &["rotate", "--all", "--yes"]] {
        let out = run_bounded(s.nsec().args(args));
        assert_eq!(
            code(&out),
            0,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An identity file that is a FIFO: an error naming it, at once.
    let key_fifo = s.sb.path("key.fifo");
    fifo(&key_fifo);
    let out = run_bounded(
        s.nsec()
            .env("SOPS_AGE_KEY_FILE", &key_fifo)
            .args(["decrypt"])
            .arg(s.file("api-keys/openai.yaml")),
    );
    assert_ne!(code(&out), 0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a regular file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A .sops.yaml linked to /dev/zero.
    std::fs::remove_file(s.file(".sops.yaml")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", s.file(".sops.yaml")).unwrap();
    let out = run_bounded(s.nsec().args(["validate", "--keyless"]));
    assert_ne!(code(&out), 0);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("a device, not a regular file"), "{text}");
}
