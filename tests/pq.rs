//! Post-quantum age keys (`age1pq1…` / `AGE-SECRET-KEY-PQ-1…`, the
//! MLKEM768-X25519 hybrid of age 1.3) against two independent
//! implementations: the real Go sops 3.11 and typage (npm `age-encryption`
//! 0.3.1, driven by `tests/data/typage/pq.mjs`). Nothing is mocked and
//! nothing is skipped: a missing sops, node or typage fails the test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use secrets_core::file::SopsFile;
use secrets_core::keys::age as nsec_age;
use secrets_core::Format;
use secrets_core::Identities;

const PLAIN: &str = "db:\n    password: hunter2\nlist:\n    - 1\n    - two\n";

/// `nsec keygen --pq -o NAME` in the sandbox: the key file and its recipient.
fn nsec_pq_key(sb: &Sandbox, name: &str) -> (PathBuf, String) {
    let path = sb.path(name);
    let out = run(sb.nsec().args(["keygen", "--pq", "-o"]).arg(&path));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let contents = std::fs::read_to_string(&path).unwrap();
    let recipient = public_key_comment(&contents);
    assert_eq!(
        text(&out.stderr).trim(),
        format!("Public key: {recipient}"),
        "keygen -o reports the public key on stderr"
    );
    (path, recipient)
}

fn public_key_comment(contents: &str) -> String {
    contents
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a # public key: line")
        .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A command with only `key` as identity (as SOPS_AGE_KEY_FILE).
fn with_key(mut cmd: Command, key: &Path) -> Command {
    cmd.env("SOPS_AGE_KEY_FILE", key);
    cmd
}

fn decrypt_ok(cmd: Command, file: &Path) -> String {
    let mut cmd = cmd;
    text(&ok(cmd.arg("decrypt").arg(file)))
}

/// typage through the committed Node script.
fn typage(sb: &Sandbox) -> Command {
    let mut c = sb.cmd(tool("node"));
    c.arg(repo_root().join("tests/data/typage/pq.mjs"))
        .env("NSEC_TEST_NODE_MODULES", node_modules());
    c
}

/// The age payload of one armored block, decrypted by typage.
fn typage_decrypt(sb: &Sandbox, identity_file: &Path, armored: &str) -> Vec<u8> {
    let out = run_with_stdin(
        typage(sb).arg("decrypt").arg(identity_file),
        armored.as_bytes(),
    );
    assert!(out.status.success(), "typage: {}", text(&out.stderr));
    out.stdout
}

/// The stanza lines (`-> TAG …`) of an armored age block's header.
fn stanza_tags(armored: &str) -> Vec<String> {
    let b64: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let binary = decode_base64(&b64);
    let end = binary
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("an age header");
    text(&binary[..end])
        .lines()
        .filter_map(|l| l.strip_prefix("-> "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// Standard padded base64 (the armor), without another dependency.
fn decode_base64(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let mut out = Vec::new();
    for chunk in s.trim_end_matches('=').as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Replaces the armored block `old` (as it appears, indented, in `yaml`)
/// with `new`, keeping the indentation.
fn replace_block(yaml: &str, old: &str, new: &str) -> String {
    let first = old.lines().next().unwrap();
    let at = yaml.find(first).unwrap();
    let line_start = yaml[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &yaml[line_start..at];
    let indented =
        |block: &str| -> String { block.lines().map(|l| format!("{indent}{l}\n")).collect() };
    let old_text = indented(old);
    assert!(yaml.contains(&old_text));
    yaml.replacen(&old_text, &indented(new), 1)
}

fn metadata(path: &Path) -> secrets_core::metadata::Metadata {
    SopsFile::parse(Format::Yaml, &std::fs::read(path).unwrap())
        .unwrap()
        .metadata
}

/// The data key in `armored`, opened by nsec's library with `key_file`.
fn nsec_unwrap(key_file: &Path, armored: &str) -> Vec<u8> {
    let contents = std::fs::read(key_file).unwrap();
    let ids = Identities::from_text("key", &contents, secrets_core::NoCallbacks).unwrap();
    nsec_age::unwrap(&ids, armored).unwrap().unwrap().to_vec()
}

/// sops → nsec and nsec → sops with a key from `nsec keygen --pq`, through
/// every way a recipient and an identity reach them.
#[test]
fn sops_and_nsec_read_each_others_pq_files() {
    let sb = Sandbox::new();
    let (key, recipient) = nsec_pq_key(&sb, "pq.txt");
    assert!(recipient.starts_with("age1pq1"));
    let secret_line = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .unwrap()
        .to_string();
    let plain = sb.write("plain.yaml", PLAIN);

    // sops encrypts to the nsec-made key (sops accepts `keygen --pq`).
    let by_sops = sb.write(
        "by-sops.yaml",
        ok(sb.sops().args(["encrypt", "--age", &recipient]).arg(&plain)),
    );
    assert_eq!(decrypt_ok(with_key(sb.nsec(), &key), &by_sops), PLAIN);
    assert_eq!(decrypt_ok(with_key(sb.sops(), &key), &by_sops), PLAIN);

    // nsec encrypts: --age, SOPS_AGE_RECIPIENTS, a creation rule.
    let by_age_flag = sb.write(
        "by-nsec-flag.yaml",
        ok(sb.nsec().args(["encrypt", "--age", &recipient]).arg(&plain)),
    );
    let by_env = sb.write(
        "by-nsec-env.yaml",
        ok(sb
            .nsec()
            .env("SOPS_AGE_RECIPIENTS", &recipient)
            .arg("encrypt")
            .arg(&plain)),
    );
    sb.write(
        "rules/.sops.yaml",
        format!("creation_rules:\n  - age: >-\n      {recipient}\n"),
    );
    let rule_plain = sb.write("rules/plain.yaml", PLAIN);
    let by_rule = sb.write(
        "rules/enc.yaml",
        ok(sb.nsec().arg("encrypt").arg(&rule_plain)),
    );
    for file in [&by_age_flag, &by_env, &by_rule] {
        let meta = metadata(file);
        assert_eq!(meta.key_groups.len(), 1);
        assert_eq!(meta.key_groups[0].age.len(), 1);
        assert_eq!(meta.key_groups[0].age[0].recipient, recipient);
        assert_eq!(
            stanza_tags(&meta.key_groups[0].age[0].enc),
            ["mlkem768x25519"]
        );
        assert_eq!(decrypt_ok(with_key(sb.sops(), &key), file), PLAIN);
    }

    // Every identity source nsec reads: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
    // SOPS_AGE_KEY_CMD, the default keys.txt.
    let mut cmd = sb.nsec();
    cmd.env("SOPS_AGE_KEY", &secret_line);
    assert_eq!(decrypt_ok(cmd, &by_age_flag), PLAIN);
    let mut cmd = sb.nsec();
    cmd.env("SOPS_AGE_KEY_CMD", format!("cat {}", key.display()));
    assert_eq!(decrypt_ok(cmd, &by_env), PLAIN);
    let keys_txt = sb.home().join(".config/sops/age/keys.txt");
    std::fs::create_dir_all(keys_txt.parent().unwrap()).unwrap();
    // With an X25519 key and a comment around it, as a real keys.txt.
    let a = std::fs::read_to_string(key_file("A")).unwrap();
    std::fs::write(&keys_txt, format!("{a}# pq\n{secret_line}\n")).unwrap();
    assert_eq!(decrypt_ok(sb.nsec(), &by_rule), PLAIN);
    assert_eq!(decrypt_ok(sb.sops(), &by_rule), PLAIN);
    std::fs::remove_file(&keys_txt).unwrap();

    // Another key does not open it, and says which recipient it needed.
    let out = run(with_key(sb.nsec(), &key_file("A"))
        .arg("decrypt")
        .arg(&by_age_flag));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(&recipient[..40]));
}

/// One X25519 and one post-quantum recipient in one key group: each
/// identity alone opens the file, in nsec and in sops, whoever wrote it;
/// each `enc` block is its own age header with one stanza.
#[test]
fn mixed_x25519_and_pq_group() {
    let sb = Sandbox::new();
    let (pq, recipient) = nsec_pq_key(&sb, "pq.txt");
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {AGE_A},{recipient}\n"),
    );
    let plain = sb.write("plain.yaml", PLAIN);
    let by_nsec = sb.write("by-nsec.yaml", ok(sb.nsec().arg("encrypt").arg(&plain)));
    let by_sops = sb.write("by-sops.yaml", ok(sb.sops().arg("encrypt").arg(&plain)));
    for file in [&by_nsec, &by_sops] {
        let meta = metadata(file);
        assert_eq!(meta.key_groups.len(), 1);
        let tags: Vec<Vec<String>> = meta.key_groups[0]
            .age
            .iter()
            .map(|k| stanza_tags(&k.enc))
            .collect();
        assert_eq!(tags, [["X25519"], ["mlkem768x25519"]], "{}", file.display());
        for key in [key_file("A"), pq.clone()] {
            assert_eq!(decrypt_ok(with_key(sb.nsec(), &key), file), PLAIN);
            assert_eq!(decrypt_ok(with_key(sb.sops(), &key), file), PLAIN);
        }
        let out = run(with_key(sb.nsec(), &key_file("B")).arg("decrypt").arg(file));
        assert!(!out.status.success());
    }
}

/// updatekeys adds a PQ recipient from the rules; rotate removes the X25519
/// one; `host add --age` takes a PQ recipient.
#[test]
fn updatekeys_rotate_and_host_add_with_pq() {
    let sb = Sandbox::new();
    let (pq, recipient) = nsec_pq_key(&sb, "pq.txt");
    sb.write(".sops.yaml", format!("creation_rules:\n  - age: {AGE_A}\n"));
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.write("f.yaml", ok(sb.nsec().arg("encrypt").arg(&plain)));
    assert!(!run(with_key(sb.nsec(), &pq).arg("decrypt").arg(&file))
        .status
        .success());

    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: {AGE_A},{recipient}\n"),
    );
    ok(with_key(sb.nsec(), &key_file("A"))
        .args(["updatekeys", "-y"])
        .arg(&file));
    assert_eq!(decrypt_ok(with_key(sb.nsec(), &pq), &file), PLAIN);
    assert_eq!(decrypt_ok(with_key(sb.sops(), &pq), &file), PLAIN);

    ok(with_key(sb.nsec(), &pq)
        .args(["rotate", "-i", "--rm-age", AGE_A])
        .arg(&file));
    let meta = metadata(&file);
    let recipients: Vec<&str> = meta.key_groups[0]
        .age
        .iter()
        .map(|k| k.recipient.as_str())
        .collect();
    assert_eq!(recipients, [recipient.as_str()]);
    assert_eq!(decrypt_ok(with_key(sb.sops(), &pq), &file), PLAIN);
    assert!(!run(with_key(sb.sops(), &key_file("A"))
        .arg("decrypt")
        .arg(&file))
    .status
    .success());

    // A store whose host has a post-quantum key.
    let st = sb.write(
        "secrets/.sops.yaml",
        format!(
            "keys:\n  - &alice {AGE_A}\ncreation_rules:\n  - path_regex: ^api-keys/.+\\.yaml$\n    key_groups:\n      - age:\n          - *alice\n"
        ),
    );
    let st = st.parent().unwrap();
    let out = run(with_key(sb.nsec(), &key_file("A"))
        .args([
            "host", "add", "pqhost", "--yes", "--age", &recipient, "--dir",
        ])
        .arg(st));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run_with_stdin(
        with_key(sb.nsec(), &key_file("A"))
            .args(["add", "api-keys/x", "--dir"])
            .arg(st),
        b"value-x\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let x = st.join("api-keys/x.yaml");
    let value = ok(with_key(sb.sops(), &pq)
        .args(["decrypt", "--extract", "[\"x\"]"])
        .arg(&x));
    assert_eq!(text(&value), "value-x");
}

/// typage makes a PQ identity; sops, nsec and typage each encrypt to it and
/// the others decrypt; a typage-made stanza inside a sops-made file opens in
/// nsec (and in sops).
#[test]
fn typage_and_nsec_interoperate() {
    let sb = Sandbox::new();
    let out = run(typage(&sb).arg("keygen"));
    assert!(out.status.success(), "typage: {}", text(&out.stderr));
    let lines = text(&out.stdout);
    let mut lines = lines.lines();
    let (secret, recipient) = (lines.next().unwrap(), lines.next().unwrap().to_string());
    assert!(secret.starts_with("AGE-SECRET-KEY-PQ-1") && recipient.starts_with("age1pq1"));
    let key = sb.write("typage-key.txt", format!("{secret}\n"));
    let plain = sb.write("plain.yaml", PLAIN);

    // sops-made file, typage key: nsec opens it; typage and nsec agree on
    // the data key.
    let by_sops = sb.write(
        "by-sops.yaml",
        ok(sb.sops().args(["encrypt", "--age", &recipient]).arg(&plain)),
    );
    assert_eq!(decrypt_ok(with_key(sb.nsec(), &key), &by_sops), PLAIN);
    let sops_enc = metadata(&by_sops).key_groups[0].age[0].enc.clone();
    let data_key = typage_decrypt(&sb, &key, &sops_enc);
    assert_eq!(data_key.len(), 32);
    assert_eq!(nsec_unwrap(&key, &sops_enc), data_key);

    // typage wraps that data key; its block replaces sops' in the file.
    let out = run_with_stdin(typage(&sb).arg("encrypt").arg(&recipient), &data_key);
    assert!(out.status.success(), "typage: {}", text(&out.stderr));
    let typage_enc = text(&out.stdout);
    assert_eq!(stanza_tags(&typage_enc), ["mlkem768x25519"]);
    let yaml = std::fs::read_to_string(&by_sops).unwrap();
    let patched = sb.write("patched.yaml", replace_block(&yaml, &sops_enc, &typage_enc));
    assert_eq!(decrypt_ok(with_key(sb.nsec(), &key), &patched), PLAIN);
    assert_eq!(decrypt_ok(with_key(sb.sops(), &key), &patched), PLAIN);

    // nsec encrypts to the typage key: typage opens the block and finds
    // the data key nsec's own library finds.
    let by_nsec = sb.write(
        "by-nsec.yaml",
        ok(sb.nsec().args(["encrypt", "--age", &recipient]).arg(&plain)),
    );
    let nsec_enc = metadata(&by_nsec).key_groups[0].age[0].enc.clone();
    let from_typage = typage_decrypt(&sb, &key, &nsec_enc);
    assert_eq!(from_typage.len(), 32);
    assert_eq!(nsec_unwrap(&key, &nsec_enc), from_typage);
    assert_eq!(decrypt_ok(with_key(sb.sops(), &key), &by_nsec), PLAIN);

    // A raw payload both ways, at the library level too.
    let r = nsec_age::AgeRecipient::parse(&recipient).unwrap();
    assert!(r.is_post_quantum());
    let armored = nsec_age::wrap(&r, b"payload for typage").unwrap();
    assert_eq!(typage_decrypt(&sb, &key, &armored), b"payload for typage");
}

/// A bad post-quantum line fails its source with the line number, never
/// the key text; the other sources still count.
#[test]
fn bad_pq_identity_line_is_reported_without_the_key() {
    let sb = Sandbox::new();
    let (pq, recipient) = nsec_pq_key(&sb, "pq.txt");
    let plain = sb.write("plain.yaml", PLAIN);
    let file = sb.write(
        "f.yaml",
        ok(sb.nsec().args(["encrypt", "--age", &recipient]).arg(&plain)),
    );
    let good = std::fs::read_to_string(&pq).unwrap();
    let line = good
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
        .unwrap();
    let broken = format!("{}Q", &line[..line.len() - 1]);
    let broken = if broken == line {
        format!("{}P", &line[..line.len() - 1])
    } else {
        broken
    };
    let bad = sb.write("bad.txt", format!("# c\n{broken}\n"));
    let out = run(with_key(sb.nsec(), &bad).arg("decrypt").arg(&file));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("post-quantum"),
        "{err}"
    );
    assert!(!err.contains(&broken[20..40]), "{err}");
    // The good key through another source still opens the file.
    let mut cmd = with_key(sb.nsec(), &bad);
    cmd.env("SOPS_AGE_KEY", line);
    assert_eq!(decrypt_ok(cmd, &file), PLAIN);
}
