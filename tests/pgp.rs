//! PGP master keys against the real Go sops 3.11 and the real GnuPG, with a
//! throwaway GNUPGHOME made by each test. Nothing is mocked and nothing is
//! skipped: a missing sops or gpg fails the test.

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

fn with(mut cmd: Command, gpg: &GpgHome) -> Command {
    gpg.apply(&mut cmd);
    cmd
}

/// A command that sees only `gpg`'s keyring (no age identity).
fn pgp_only(cmd: Command, gpg: &GpgHome) -> Command {
    with(cmd, gpg)
}

fn metadata(path: &Path) -> secrets_core::metadata::Metadata {
    SopsFile::parse(Format::from_path(path), &std::fs::read(path).unwrap())
        .unwrap()
        .metadata
}

fn pgp_fps(path: &Path) -> Vec<Vec<String>> {
    metadata(path)
        .key_groups
        .iter()
        .map(|g| {
            g.pgp_entries()
                .unwrap()
                .into_iter()
                .map(|e| e.fingerprint)
                .collect()
        })
        .collect()
}

/// The names of the fields of the first `pgp` entry, in file order.
fn pgp_entry_fields(yaml: &str) -> Vec<String> {
    let start = yaml.find("    pgp:\n").expect("a pgp section");
    yaml[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("        "))
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches("- ");
            let (k, _) = l.split_once(':')?;
            (!k.contains(' ') && !k.is_empty() && !k.starts_with("-----")).then(|| k.to_string())
        })
        .collect()
}

fn decrypt(cmd: Command, file: &Path) -> String {
    let mut cmd = cmd;
    text(&ok(cmd.arg("decrypt").arg(file)))
}

#[test]
fn sops_pgp_files_open_in_nsec() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let fp = gpg.generate("alice <alice@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    for ext in ["yaml", "json", "env"] {
        let input = if ext == "env" {
            sb.write("plain.env", "A=1\nB=two\n")
        } else {
            plain.clone()
        };
        let enc = sb.path(&format!("by-sops.{ext}"));
        ok(with(sb.sops(), &gpg)
            .args(["encrypt", "--pgp", &fp, "--output-type", ext, "--output"])
            .arg(&enc)
            .arg(&input));
        let want = decrypt(pgp_only(sb.sops(), &gpg), &enc);
        assert_eq!(decrypt(pgp_only(sb.nsec(), &gpg), &enc), want, "{ext}");
    }
}

#[test]
fn nsec_pgp_files_open_in_sops_with_sops_metadata() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let fp = gpg.generate("alice <alice@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    let by_nsec = sb.path("by-nsec.yaml");
    ok(with(sb.nsec(), &gpg)
        .args(["encrypt", "--pgp", &fp, "--output"])
        .arg(&by_nsec)
        .arg(&plain));
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &by_nsec), PLAIN);
    // The metadata is what sops writes: created_at, enc (armored, trimmed),
    // fp, in that order, after mac.
    let by_sops = sb.path("by-sops.yaml");
    ok(with(sb.sops(), &gpg)
        .args(["encrypt", "--pgp", &fp, "--output"])
        .arg(&by_sops)
        .arg(&plain));
    let nsec_yaml = std::fs::read_to_string(&by_nsec).unwrap();
    let sops_yaml = std::fs::read_to_string(&by_sops).unwrap();
    assert_eq!(pgp_entry_fields(&nsec_yaml), ["created_at", "enc", "fp"]);
    assert_eq!(pgp_entry_fields(&nsec_yaml), pgp_entry_fields(&sops_yaml));
    let meta = metadata(&by_nsec);
    let entry = &meta.key_groups[0].pgp_entries().unwrap()[0];
    assert_eq!(entry.fingerprint, fp);
    assert!(entry.enc.starts_with("-----BEGIN PGP MESSAGE-----\n"));
    assert!(entry.enc.ends_with("-----END PGP MESSAGE-----"));
    assert!(secrets_core::Timestamp::parse_rfc3339(&entry.created_at).is_some());
    assert!(entry.created_at.ends_with('Z'));
    let order = |y: &str| -> Vec<String> {
        y.lines()
            .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
            .map(|l| l.trim().split(':').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(order(&nsec_yaml), order(&sops_yaml));

    // SOPS_PGP_FP, with spaces as gpg prints fingerprints, and JSON.
    let spaced: String = fp
        .chars()
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ");
    let json = sb.path("by-nsec.json");
    let plain_json = sb.write("plain.json", "{\"a\": \"b\"}");
    ok(with(sb.nsec(), &gpg)
        .env("SOPS_PGP_FP", &spaced)
        .args(["encrypt", "--output"])
        .arg(&json)
        .arg(&plain_json));
    assert_eq!(pgp_fps(&json), [vec![fp.clone()]]);
    assert_eq!(
        decrypt(pgp_only(sb.sops(), &gpg), &json),
        text(&ok(pgp_only(sb.nsec(), &gpg).arg("decrypt").arg(&json)))
    );
    // The legacy form too.
    let legacy = text(&ok(with(sb.nsec(), &gpg)
        .args(["-e", "--pgp", &fp])
        .arg(&plain)));
    let legacy_file = sb.write("legacy.yaml", legacy);
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &legacy_file), PLAIN);
}

#[test]
fn creation_rules_with_pgp_keys() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let alice = gpg.generate("alice <alice@example.org>");
    let bob = gpg.generate("bob <bob@example.org>");
    sb.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: ^flat/\n    pgp: {alice},{bob}\n    age: {AGE_A}\n  - path_regex: ^groups/\n    shamir_threshold: 2\n    key_groups:\n      - pgp:\n          - {alice}\n      - pgp:\n          - {bob}\n        age:\n          - {AGE_B}\n"
        ),
    );
    let flat = sb.write("flat/x.yaml", PLAIN);
    ok(with(sb.nsec(), &gpg).args(["encrypt", "-i"]).arg(&flat));
    assert_eq!(pgp_fps(&flat), [vec![alice.clone(), bob.clone()]]);
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &flat), PLAIN);
    // The age key alone opens it too (in sops, with no GnuPG key).
    let empty = GpgHome::new();
    let mut age_only = with(sb.sops(), &empty);
    age_only.env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(age_only, &flat), PLAIN);

    let groups = sb.write("groups/x.yaml", PLAIN);
    ok(with(sb.nsec(), &gpg).args(["encrypt", "-i"]).arg(&groups));
    assert_eq!(pgp_fps(&groups), [vec![alice.clone()], vec![bob.clone()]]);
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &groups), PLAIN);
    // A Shamir share from a PGP key and one from an age key, in nsec.
    let only_bob = GpgHome::new();
    only_bob.import(&ok(gpg.gpg().args([
        "--export-secret-keys",
        "--armor",
        &alice,
    ])));
    let mut mixed = with(sb.nsec(), &only_bob);
    mixed.env("SOPS_AGE_KEY_FILE", key_file("B"));
    assert_eq!(decrypt(mixed, &groups), PLAIN);

    // sops encrypts by the same rule; nsec opens it.
    let by_sops = sb.write("groups/y.yaml", PLAIN);
    ok(with(sb.sops(), &gpg).args(["encrypt", "-i"]).arg(&by_sops));
    assert_eq!(decrypt(pgp_only(sb.nsec(), &gpg), &by_sops), PLAIN);
}

#[test]
fn rotate_and_updatekeys_with_pgp_keys() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let alice = gpg.generate("alice <alice@example.org>");
    let bob = gpg.generate("bob <bob@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    ok(with(sb.sops(), &gpg)
        .args(["encrypt", "--pgp", &alice, "--age", AGE_A, "--output"])
        .arg(&file)
        .arg(&plain));
    let before = std::fs::read_to_string(&file).unwrap();
    ok(with(sb.nsec(), &gpg)
        .args(["rotate", "-i", "--add-pgp", &bob])
        .arg(&file));
    let after = std::fs::read_to_string(&file).unwrap();
    assert_ne!(before, after);
    assert_eq!(pgp_fps(&file), [vec![alice.clone(), bob.clone()]]);
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &file), PLAIN);
    // Each PGP key alone opens it in sops.
    for fp in [&alice, &bob] {
        let home = GpgHome::new();
        home.import(&ok(gpg.gpg().args(["--export-secret-keys", "--armor", fp])));
        assert_eq!(decrypt(pgp_only(sb.sops(), &home), &file), PLAIN, "{fp}");
    }
    // The data key changed: the old alice stanza does not open the new file.
    let old_enc = SopsFile::parse(Format::Yaml, before.as_bytes())
        .unwrap()
        .metadata
        .key_groups[0]
        .pgp_entries()
        .unwrap()[0]
        .enc
        .clone();
    let new_enc = metadata(&file).key_groups[0].pgp_entries().unwrap()[0]
        .enc
        .clone();
    assert_ne!(old_enc, new_enc);

    ok(with(sb.nsec(), &gpg)
        .args(["rotate", "-i", "--rm-pgp", &alice])
        .arg(&file));
    assert_eq!(pgp_fps(&file), [vec![bob.clone()]]);
    let mut age_only = with(sb.sops(), &GpgHome::new());
    age_only.env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(age_only, &file), PLAIN);

    // sops rotates the file nsec rotated, nsec reads it.
    ok(with(sb.sops(), &gpg).args(["rotate", "-i"]).arg(&file));
    assert_eq!(decrypt(pgp_only(sb.nsec(), &gpg), &file), PLAIN);

    // updatekeys: the rule swaps bob for alice and keeps the age key.
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - pgp: {alice}\n    age: {AGE_A}\n"),
    );
    let out = run(with(sb.nsec(), &gpg).args(["updatekeys", "-y"]).arg(&file));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("+++ {alice}")), "{err}");
    assert!(err.contains(&format!("--- {bob}")), "{err}");
    assert_eq!(pgp_fps(&file), [vec![alice.clone()]]);
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &file), PLAIN);

    // groups add --pgp, then sops reads the two groups.
    ok(with(sb.nsec(), &gpg)
        .args(["groups", "add", "-i", "--pgp", &bob, "--file"])
        .arg(&file));
    assert_eq!(pgp_fps(&file), [vec![alice.clone()], vec![bob.clone()]]);
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &file), PLAIN);
}

#[test]
fn age_and_pgp_stanzas_survive_set_and_each_key_opens_the_file() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let fp = gpg.generate("alice <alice@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    ok(with(sb.sops(), &gpg)
        .args(["encrypt", "--pgp", &fp, "--age", AGE_A, "--output"])
        .arg(&file)
        .arg(&plain));
    let pgp_before = metadata(&file).key_groups[0].pgp_entries().unwrap();
    // nsec set, opening the file with the PGP key only.
    ok(pgp_only(sb.nsec(), &gpg)
        .args(["set"])
        .arg(&file)
        .args(["[\"db\"][\"password\"]", "\"changed\""]));
    let meta = metadata(&file);
    assert_eq!(meta.key_groups[0].age[0].recipient, AGE_A);
    assert_eq!(meta.key_groups[0].pgp_entries().unwrap(), pgp_before);
    let want = PLAIN.replace("hunter2", "changed");
    // In sops: the PGP key alone, then the age key alone.
    assert_eq!(decrypt(pgp_only(sb.sops(), &gpg), &file), want);
    let mut age_only = with(sb.sops(), &GpgHome::new());
    age_only.env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(age_only, &file), want);
    // And nsec set with the age key alone keeps the PGP stanza too.
    let mut set = with(sb.nsec(), &GpgHome::new());
    set.env("SOPS_AGE_KEY_FILE", key_file("A"));
    ok(set
        .arg("set")
        .arg(&file)
        .args(["[\"db\"][\"password\"]", "\"again\""]));
    assert_eq!(
        decrypt(pgp_only(sb.sops(), &gpg), &file),
        PLAIN.replace("hunter2", "again")
    );
}

#[test]
fn a_failing_key_never_blocks_another_and_errors_name_it() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let fp = gpg.generate("alice <alice@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    ok(with(sb.sops(), &gpg)
        .args(["encrypt", "--pgp", &fp, "--age", AGE_A, "--output"])
        .arg(&file)
        .arg(&plain));
    // No GnuPG secret key here: the age key opens the file.
    let empty = GpgHome::new();
    let mut age = with(sb.nsec(), &empty);
    age.env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(age, &file), PLAIN);
    // A wrong age key and no PGP key: exit 128, every key named with why.
    let mut none = with(sb.nsec(), &empty);
    none.env("SOPS_AGE_KEY_FILE", key_file("B"));
    let out = run(none.arg("decrypt").arg(&file));
    assert_eq!(code(&out), 128);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("pgp {fp}: gpg failed")), "{err}");
    assert!(err.contains("No secret key"), "{err}");
    assert!(err.contains(AGE_A), "{err}");
    // A gpg that cannot be run is named too, and the age key still works.
    let mut missing = sb.nsec();
    missing
        .env("SOPS_GPG_EXEC", sb.path("no-such-gpg"))
        .env("SOPS_AGE_KEY_FILE", key_file("A"));
    assert_eq!(decrypt(missing, &file), PLAIN);
    let mut missing = sb.nsec();
    missing.env("SOPS_GPG_EXEC", sb.path("no-such-gpg"));
    let out = run(missing.arg("decrypt").arg(&file));
    assert_eq!(code(&out), 128);
    assert!(
        text(&out.stderr).contains("cannot run"),
        "{}",
        text(&out.stderr)
    );
    // Encrypting to a key that is not in the keyring fails with gpg's
    // reason and the fingerprint, exit 1, and writes nothing.
    let out = run(with(sb.nsec(), &empty)
        .args(["encrypt", "--pgp", &fp, "--output"])
        .arg(sb.path("never.yaml"))
        .arg(&plain));
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&fp), "{}", text(&out.stderr));
    assert!(!sb.path("never.yaml").exists());
}

#[test]
fn gcp_azure_vault_keys_are_still_refused_for_a_new_data_key() {
    let sb = Sandbox::new();
    let gpg = GpgHome::new();
    let fp = gpg.generate("alice <alice@example.org>");
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.path("x.yaml");
    ok(with(sb.sops(), &gpg)
        .args(["encrypt", "--pgp", &fp, "--output"])
        .arg(&file)
        .arg(&plain));
    // Add a GCP KMS entry by hand (its enc cannot be checked here).
    let yaml = std::fs::read_to_string(&file).unwrap().replace(
        "    lastmodified:",
        "    gcp_kms:\n        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k\n          created_at: \"2024-01-01T00:00:00Z\"\n          enc: CiQA\n    lastmodified:",
    );
    std::fs::write(&file, yaml).unwrap();
    let out = run(with(sb.nsec(), &gpg).args(["rotate", "-i"]).arg(&file));
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stderr).contains("gcp_kms"),
        "{}",
        text(&out.stderr)
    );
    // set keeps every entry.
    ok(pgp_only(sb.nsec(), &gpg)
        .arg("set")
        .arg(&file)
        .args(["[\"a\"]", "\"b\""]));
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(yaml.contains("resource_id: projects/p/"), "{yaml}");
    assert_eq!(pgp_fps(&file), [vec![fp]]);
}
