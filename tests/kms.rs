//! AWS KMS master keys against the real Go sops 3.11 (AWS SDK for Go) and
//! a real KMS API: moto's server (PyPI `moto[server]`), started by each test
//! on a free loopback port and stopped at its end. Keys are made through
//! moto's API. Nothing is mocked inside nsec and nothing is skipped: a
//! missing sops or moto fails the test. No address but 127.0.0.1 is used.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use secrets_core::file::SopsFile;
use secrets_core::Format;

const PLAIN: &str = "db:\n    password: hunter2\nlist:\n    - 1\n    - two\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A command that talks to `moto` and has no age or PGP key.
fn aws(mut cmd: Command, moto: &Moto) -> Command {
    moto.apply(&mut cmd);
    cmd
}

fn decrypt(cmd: Command, file: &Path) -> String {
    let mut cmd = cmd;
    text(&ok(cmd.arg("decrypt").arg(file)))
}

fn metadata(path: &Path) -> secrets_core::metadata::Metadata {
    SopsFile::parse(Format::from_path(path), &std::fs::read(path).unwrap())
        .unwrap()
        .metadata
}

fn kms_names(path: &Path) -> Vec<Vec<String>> {
    metadata(path)
        .key_groups
        .iter()
        .map(|g| {
            g.kms_entries()
                .unwrap()
                .into_iter()
                .map(|e| e.key.name())
                .collect()
        })
        .collect()
}

/// The lines of the `kms:` section of a YAML file, with `created_at` and
/// `enc` values blanked (they differ from run to run).
fn kms_section(yaml: &str) -> String {
    let start = yaml.find("    kms:\n").expect("a kms section");
    yaml[start..]
        .lines()
        .take_while(|l| l.starts_with("    kms:") || l.starts_with("      "))
        .map(|l| match l.split_once(": ") {
            Some((k, _)) if k.trim_start_matches([' ', '-']) == "created_at" => format!("{k}: T"),
            Some((k, _)) if k.trim_start_matches([' ', '-']) == "enc" => format!("{k}: E"),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sops_kms_files_open_in_nsec_and_nsec_kms_files_in_sops() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    for context in [None, Some("app:nsec,env:test")] {
        let ctx_args: Vec<&str> = context
            .map(|c| vec!["--encryption-context", c])
            .unwrap_or_default();
        let by_sops = sb.path("by-sops.yaml");
        ok(aws(sb.sops(), &moto)
            .args(["encrypt", "--kms", &arn])
            .args(&ctx_args)
            .arg("--output")
            .arg(&by_sops)
            .arg(&plain));
        assert_eq!(
            decrypt(aws(sb.nsec(), &moto), &by_sops),
            PLAIN,
            "{context:?}"
        );

        let by_nsec = sb.path("by-nsec.yaml");
        ok(aws(sb.nsec(), &moto)
            .args(["encrypt", "--kms", &arn])
            .args(&ctx_args)
            .arg("--output")
            .arg(&by_nsec)
            .arg(&plain));
        assert_eq!(
            decrypt(aws(sb.sops(), &moto), &by_nsec),
            PLAIN,
            "{context:?}"
        );
        // The same metadata as sops writes, field by field.
        let ours = std::fs::read_to_string(&by_nsec).unwrap();
        let theirs = std::fs::read_to_string(&by_sops).unwrap();
        assert_eq!(kms_section(&ours), kms_section(&theirs), "{context:?}");
        let order = |y: &str| -> Vec<String> {
            y.lines()
                .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
                .map(|l| l.trim().split(':').next().unwrap().to_string())
                .collect()
        };
        assert_eq!(order(&ours), order(&theirs));
    }
    // The context is part of the key: a file whose context was changed does
    // not open, and the error names the key and KMS' reason.
    let by_nsec = sb.path("by-nsec.yaml");
    let yaml = std::fs::read_to_string(&by_nsec).unwrap();
    let tampered = sb.write("tampered.yaml", yaml.replace("env: test", "env: prod"));
    let out = run(aws(sb.nsec(), &moto).arg("decrypt").arg(&tampered));
    assert_eq!(code(&out), 128, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("kms {arn}|app:nsec,env:prod")),
        "{err}"
    );
    assert!(err.contains("KMS Decrypt failed"), "{err}");

    // SOPS_KMS_ARN, JSON and the legacy form.
    let plain_json = sb.write("plain.json", "{\"a\": \"b\"}");
    let json = sb.path("by-nsec.json");
    ok(aws(sb.nsec(), &moto)
        .env("SOPS_KMS_ARN", &arn)
        .args(["encrypt", "--output"])
        .arg(&json)
        .arg(&plain_json));
    assert_eq!(kms_names(&json), [vec![arn.clone()]]);
    assert_eq!(
        decrypt(aws(sb.sops(), &moto), &json),
        text(&ok(aws(sb.nsec(), &moto).arg("decrypt").arg(&json)))
    );
    let legacy = sb.write(
        "legacy.yaml",
        ok(aws(sb.nsec(), &moto)
            .args(["-e", "--kms", &arn])
            .arg(&plain)),
    );
    assert_eq!(decrypt(aws(sb.sops(), &moto), &legacy), PLAIN);
}

#[test]
fn kms_keys_by_rule_with_roles_and_rotate() {
    let moto = Moto::start();
    let a = moto.create_key();
    let b = moto.create_key();
    let role = "arn:aws:iam::123456789012:role/nsec-test";
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^flat/\n    kms: {a}+{role}\n  - path_regex: ^groups/\n    key_groups:\n      - kms:\n          - arn: {b}\n            context:\n              team: infra\n        age:\n          - {AGE_A}\n"
        ),
    );
    // The flat form, with a role assumed through STS first.
    let flat = sb.write("flat/x.yaml", PLAIN);
    ok(aws(sb.nsec(), &moto).args(["encrypt", "-i"]).arg(&flat));
    assert_eq!(kms_names(&flat), [vec![format!("{a}+{role}")]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &flat), PLAIN);
    let flat_sops = sb.write("flat/z.yaml", PLAIN);
    ok(aws(sb.sops(), &moto)
        .args(["encrypt", "-i"])
        .arg(&flat_sops));
    assert_eq!(
        kms_section(&std::fs::read_to_string(&flat).unwrap()),
        kms_section(&std::fs::read_to_string(&flat_sops).unwrap())
    );
    assert_eq!(decrypt(aws(sb.nsec(), &moto), &flat_sops), PLAIN);
    // With --encryption-context, which applies to the flat form's keys.
    let flat2 = sb.write("flat/y.yaml", PLAIN);
    ok(aws(sb.nsec(), &moto)
        .args(["encrypt", "-i", "--encryption-context", "k:v"])
        .arg(&flat2));
    assert_eq!(kms_names(&flat2), [vec![format!("{a}+{role}|k:v")]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &flat2), PLAIN);

    // The key-group form with a per-key context, as sops writes it.
    let groups = sb.write("groups/x.yaml", PLAIN);
    ok(aws(sb.nsec(), &moto).args(["encrypt", "-i"]).arg(&groups));
    let by_sops = sb.write("groups/y.yaml", PLAIN);
    ok(aws(sb.sops(), &moto).args(["encrypt", "-i"]).arg(&by_sops));
    assert_eq!(
        kms_section(&std::fs::read_to_string(&groups).unwrap()),
        kms_section(&std::fs::read_to_string(&by_sops).unwrap())
    );
    assert_eq!(decrypt(aws(sb.sops(), &moto), &groups), PLAIN);
    assert_eq!(decrypt(aws(sb.nsec(), &moto), &by_sops), PLAIN);

    // rotate: a new data key, a KMS key added and another removed.
    let before = std::fs::read_to_string(&by_sops).unwrap();
    ok(aws(sb.nsec(), &moto)
        .args(["rotate", "-i", "--add-kms", &a])
        .arg(&by_sops));
    assert_ne!(std::fs::read_to_string(&by_sops).unwrap(), before);
    assert_eq!(
        kms_names(&by_sops),
        [vec![format!("{b}|team:infra"), a.clone()]]
    );
    assert_eq!(decrypt(aws(sb.sops(), &moto), &by_sops), PLAIN);
    ok(aws(sb.nsec(), &moto)
        .args(["rotate", "-i", "--rm-kms", &b])
        .arg(&by_sops));
    assert_eq!(kms_names(&by_sops), [vec![a.clone()]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &by_sops), PLAIN);
    // The age key alone still opens it (in sops, without any AWS access).
    let mut age_only = sb.sops();
    age_only.env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(age_only, &by_sops), PLAIN);
    // sops rotates what nsec rotated.
    ok(aws(sb.sops(), &moto).args(["rotate", "-i"]).arg(&by_sops));
    assert_eq!(decrypt(aws(sb.nsec(), &moto), &by_sops), PLAIN);

    // updatekeys back to the rule.
    let out = run(aws(sb.nsec(), &moto)
        .args(["updatekeys", "-y"])
        .arg(&by_sops));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(kms_names(&by_sops), [vec![format!("{b}|team:infra")]]);
    assert_eq!(decrypt(aws(sb.sops(), &moto), &by_sops), PLAIN);
}

#[test]
fn age_pgp_and_kms_stanzas_made_by_sops_survive_set() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let gpg = GpgHome::new();
    let fp = gpg.generate("alice <alice@example.org>");
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    let mut make = aws(sb.sops(), &moto);
    gpg.apply(&mut make);
    ok(make
        .args(["encrypt", "--age", AGE_A, "--pgp", &fp, "--kms", &arn])
        .args(["--encryption-context", "app:nsec", "--output"])
        .arg(&file)
        .arg(&plain));
    let before = metadata(&file);
    // nsec set, with only the KMS key at hand.
    ok(aws(sb.nsec(), &moto)
        .env("SOPS_GPG_EXEC", sb.path("no-gpg"))
        .arg("set")
        .arg(&file)
        .args(["[\"db\"][\"password\"]", "\"changed\""]));
    let after = metadata(&file);
    assert_eq!(after.key_groups[0].age, before.key_groups[0].age);
    assert_eq!(
        after.key_groups[0].pgp_entries().unwrap(),
        before.key_groups[0].pgp_entries().unwrap()
    );
    assert_eq!(
        after.key_groups[0].kms_entries().unwrap(),
        before.key_groups[0].kms_entries().unwrap()
    );
    let want = PLAIN.replace("hunter2", "changed");
    // Each key alone opens it in sops.
    let mut age_only = sb.sops();
    age_only
        .env("SOPS_AGE_KEY_FILE", key_file("A"))
        .env("GNUPGHOME", GpgHome::new().dir.path());
    assert_eq!(decrypt(age_only, &file), want, "age alone");
    let mut pgp_only = sb.sops();
    gpg.apply(&mut pgp_only);
    assert_eq!(decrypt(pgp_only, &file), want, "pgp alone");
    let empty = GpgHome::new();
    let mut kms_only = aws(sb.sops(), &moto);
    empty.apply(&mut kms_only);
    assert_eq!(decrypt(kms_only, &file), want, "kms alone");
    // And in nsec: the KMS key alone, with gpg failing first.
    let mut kms_only = aws(sb.nsec(), &moto);
    empty.apply(&mut kms_only);
    assert_eq!(decrypt(kms_only, &file), want);
}

#[test]
fn an_unreachable_kms_never_blocks_age_and_errors_name_the_key() {
    let moto = Moto::start();
    let arn = moto.create_key();
    let sb = Sandbox::new();
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    ok(aws(sb.sops(), &moto)
        .args(["encrypt", "--age", AGE_A, "--kms", &arn, "--output"])
        .arg(&file)
        .arg(&plain));
    drop(moto);
    // KMS is gone: the age key opens the file, and no KMS call is made.
    let mut age = sb.nsec();
    age.env("SOPS_AGE_KEY_FILE", key_file("A"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    assert_eq!(decrypt(age, &file), PLAIN);
    // Without the age key: exit 128, the ARN and why.
    let mut none = sb.nsec();
    none.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "secret-must-not-show");
    let out = run(none.arg("decrypt").arg(&file));
    assert_eq!(code(&out), 128);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("kms {arn}: cannot reach")), "{err}");
    assert!(!err.contains("secret-must-not-show"), "{err}");
    // No credentials at all: named as such.
    let out = run(sb
        .nsec()
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .arg("decrypt")
        .arg(&file));
    assert_eq!(code(&out), 128);
    assert!(
        text(&out.stderr).contains("no AWS credentials"),
        "{}",
        text(&out.stderr)
    );
}
