//! Integration tests: store NAMEs wherever a FILE is taken, "did you mean"
//! for missing ones, `set NAME [FIELD]` without a value on argv, and the
//! terminal note of `rotate FILE`.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;

/// A repository with a store in `secrets/` (rule: key A) holding
/// `api-keys/postgres.yaml` (`postgres: pw1`) and `api-keys/token.json`;
/// commands run from the repository root, outside the store.
fn setup() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        "secrets/.sops.yaml",
        format!("creation_rules:\n  - path_regex: .*\n    age: {AGE_A}\n"),
    );
    for (name, plain) in [
        ("api-keys/postgres.yaml", "postgres: pw1\n"),
        ("api-keys/token.json", r#"{"token": "t0k"}"#),
    ] {
        let target = format!("secrets/{name}");
        let p = sb.write(&format!("plain-{}", name.replace('/', "-")), plain);
        std::fs::create_dir_all(sb.path("secrets/api-keys")).unwrap();
        ok(nsec(&sb)
            .args([
                "encrypt",
                "--filename-override",
                &target,
                "--output",
                &target,
            ])
            .arg(p));
    }
    sb
}

fn nsec(sb: &Sandbox) -> Command {
    let mut c = sb.nsec();
    c.env("SOPS_AGE_KEY_FILE", key_file("A"));
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn secret(sb: &Sandbox, rel: &str) -> PathBuf {
    sb.path(&format!("secrets/{rel}"))
}

fn decrypted(sb: &Sandbox, name: &str) -> String {
    text(&ok(nsec(sb).args(["decrypt", name])))
}

fn editor(sb: &Sandbox, body: &str) -> PathBuf {
    let p = sb.write("editor.sh", format!("#!/bin/sh\n{body}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn every_file_command_takes_a_name() {
    let sb = setup();
    let pg = secret(&sb, "api-keys/postgres.yaml");
    assert_eq!(decrypted(&sb, "api-keys/postgres"), "postgres: pw1\n");
    assert!(decrypted(&sb, "api-keys/token").contains("\"token\": \"t0k\""));
    assert_eq!(
        text(&ok(nsec(&sb).args(["filestatus", "api-keys/postgres"]))),
        "{\"encrypted\":true}\n"
    );
    // The legacy form too.
    assert_eq!(
        text(&ok(nsec(&sb).args(["-d", "api-keys/postgres"]))),
        "postgres: pw1\n"
    );
    ok(nsec(&sb).args(["set", "api-keys/postgres", r#"["extra"]"#, r#""e""#]));
    assert!(decrypted(&sb, "api-keys/postgres").contains("extra: e"));
    ok(nsec(&sb).args(["unset", "api-keys/postgres", r#"["extra"]"#]));
    assert_eq!(decrypted(&sb, "api-keys/postgres"), "postgres: pw1\n");
    let before = std::fs::read(&pg).unwrap();
    ok(nsec(&sb).args(["rotate", "-i", "api-keys/postgres"]));
    assert_ne!(std::fs::read(&pg).unwrap(), before);
    let rotated = ok(nsec(&sb).args(["-r", "api-keys/postgres"]));
    assert!(text(&rotated).contains("postgres: ENC["));
    let out = text(&ok(nsec(&sb).args([
        "updatekeys",
        "-y",
        "api-keys/postgres",
    ])));
    assert!(out.is_empty());
    assert_eq!(
        text(&ok(nsec(&sb).args([
            "exec-env",
            "api-keys/postgres",
            "printf %s \"$postgres\""
        ]))),
        "pw1"
    );
    assert_eq!(
        text(&ok(nsec(&sb).args([
            "exec-file",
            "api-keys/postgres",
            "cat {}"
        ]))),
        "postgres: pw1\n"
    );
    let grouped = ok(nsec(&sb).args([
        "groups",
        "add",
        "--file",
        "api-keys/postgres",
        "--age",
        AGE_B,
    ]));
    assert!(text(&grouped).contains(AGE_B));
    // encrypt: a plaintext file of the store by its name.
    sb.write("secrets/notes/plain.yaml", "note: hi\n");
    let enc = ok(nsec(&sb).args(["encrypt", "notes/plain"]));
    assert!(text(&enc).contains("note: ENC["));
    // edit: an existing secret, and a new one created in the store.
    let ed = editor(&sb, r#"printf 'postgres: pw9\n' > "$1""#);
    ok(nsec(&sb)
        .env("SOPS_EDITOR", &ed)
        .args(["edit", "api-keys/postgres"]));
    assert_eq!(decrypted(&sb, "api-keys/postgres"), "postgres: pw9\n");
    ok(nsec(&sb).env("SOPS_EDITOR", &ed).arg("api-keys/fresh"));
    assert!(secret(&sb, "api-keys/fresh.yaml").is_file());
    assert!(!sb.path("api-keys/fresh").exists());
    assert_eq!(decrypted(&sb, "api-keys/fresh"), "postgres: pw9\n");
    // $NSEC_DIR from anywhere; an existing path still wins.
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = ok(nsec(&sb)
        .env("NSEC_DIR", sb.path("secrets"))
        .current_dir(&elsewhere)
        .args(["decrypt", "api-keys/postgres"]));
    assert_eq!(text(&out), "postgres: pw9\n");
    assert_eq!(
        decrypted(&sb, "secrets/api-keys/postgres.yaml"),
        "postgres: pw9\n"
    );
}

#[test]
fn missing_names_suggest_close_ones() {
    let sb = setup();
    for args in [
        &["decrypt", "api-keys/postgrse"][..],
        &["set", "db/postgres", r#"["a"]"#, "1"],
        &["exec-env", "postgres", "true"],
        &["rotate", "-i", "api-keys/postgre"],
    ] {
        let out = run(nsec(&sb).args(args));
        assert_eq!(code(&out), 100, "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("did you mean api-keys/postgres?"),
            "{args:?}: {err}"
        );
    }
    let out = run(nsec(&sb).args(["decrypt", "zzz/unrelated-thing"]));
    assert_eq!(code(&out), 100);
    assert!(!text(&out.stderr).contains("did you mean"));
    // Outside any store: today's message, same code.
    let out = run(nsec(&sb)
        .current_dir(sb.dir.path())
        .args(["decrypt", "missing.yaml"]));
    assert_eq!(code(&out), 100);
    assert!(text(&out.stderr).contains("non-existent file missing.yaml"));
}

#[test]
fn set_without_a_value_reads_a_string_from_stdin() {
    let sb = setup();
    let out = run_with_stdin(nsec(&sb).args(["set", "api-keys/postgres"]), b"n3w-pw\n");
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        text(&ok(nsec(&sb).args(["show", "api-keys/postgres"]))),
        "n3w-pw\n"
    );
    // A plain key and a sops index; the value stays a string.
    let out = run_with_stdin(
        nsec(&sb).args(["set", "api-keys/postgres", "port"]),
        b"5432\n",
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = run_with_stdin(
        nsec(&sb).args(["set", "api-keys/postgres", r#"["db"]["user"]"#]),
        b"app",
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        decrypted(&sb, "api-keys/postgres"),
        "postgres: n3w-pw\nport: \"5432\"\ndb:\n    user: app\n"
    );
    // An empty value is refused and nothing is written.
    let before = std::fs::read(secret(&sb, "api-keys/postgres.yaml")).unwrap();
    let out = run_with_stdin(nsec(&sb).args(["set", "api-keys/postgres"]), b"\n");
    assert_eq!(code(&out), 7);
    assert_eq!(
        std::fs::read(secret(&sb, "api-keys/postgres.yaml")).unwrap(),
        before
    );
}

mod pty {
    use super::*;
    use expectrl::{Expect, Session};

    fn session(sb: &Sandbox, args: &[&str]) -> expectrl::session::OsSession {
        let mut c = nsec(sb);
        c.args(args)
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        let mut s = Session::spawn(c).unwrap();
        s.set_expect_timeout(Some(std::time::Duration::from_secs(60)));
        s
    }

    fn exit_code(s: &expectrl::session::OsSession) -> String {
        format!("{:?}", s.get_process().wait().unwrap())
    }

    #[test]
    fn set_asks_on_a_hidden_prompt_with_confirmation() {
        let sb = setup();
        let mut s = session(&sb, &["set", "api-keys/postgres"]);
        s.expect("Value of postgres in api-keys/postgres: ")
            .unwrap();
        s.send_line("typed-pw").unwrap();
        s.expect("(again): ").unwrap();
        s.send_line("typed-pw").unwrap();
        assert!(exit_code(&s).contains(", 0)"), "{}", exit_code(&s));
        assert_eq!(decrypted(&sb, "api-keys/postgres"), "postgres: typed-pw\n");
    }

    #[test]
    fn rotate_to_a_terminal_says_nothing_changed() {
        let sb = setup();
        let pg = secret(&sb, "api-keys/postgres.yaml");
        let before = std::fs::read(&pg).unwrap();
        let mut s = session(&sb, &["rotate", "secrets/api-keys/postgres.yaml"]);
        s.expect("nothing was changed on disk").unwrap();
        s.expect("nsec rotate -i secrets/api-keys/postgres.yaml")
            .unwrap();
        s.expect("postgres: ENC[").unwrap();
        assert!(exit_code(&s).contains(", 0)"), "{}", exit_code(&s));
        assert_eq!(std::fs::read(&pg).unwrap(), before);
    }
}
