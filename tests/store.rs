//! Integration tests (store): init, keygen, ssh-to-age, add (prompt, stdin,
//! file, generators, templates), show, list, rm, host add/rm. Every file nsec
//! writes is decrypted by the real sops.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A store `secrets/` whose rules encrypt for key A (named `alice`).
fn store(sb: &Sandbox) -> PathBuf {
    sb.write(
        "secrets/.sops.yaml",
        format!(
            "# test store\nkeys:\n  # people\n  - &alice {AGE_A}\n  # hosts\n\ncreation_rules:\n  # api keys\n  - path_regex: ^api-keys/.+\\.(yaml|json|env|ini)$\n    key_groups:\n      - age:\n          - *alice\n  # ssh keys\n  - path_regex: ^ssh-keys/.+\\.(yaml|json|env|ini)$\n    key_groups:\n      - age:\n          - *alice\n"
        ),
    );
    sb.path("secrets")
}

fn nsec(sb: &Sandbox) -> Command {
    let mut c = sb.nsec();
    c.env("SOPS_AGE_KEY_FILE", key_file("A"));
    c
}

/// The real sops decrypts `file` with identity `key` (only that key).
fn sops_decrypt(sb: &Sandbox, key: &Path, file: &Path, extract: Option<&str>) -> String {
    let mut c = sb.sops();
    c.env("SOPS_AGE_KEY_FILE", key).arg("decrypt");
    if let Some(e) = extract {
        c.args(["--extract", e]);
    }
    String::from_utf8(ok(c.arg(file))).unwrap()
}

fn add_stdin(sb: &Sandbox, a: &[&str], input: &str) -> std::process::Output {
    let mut c = nsec(sb);
    run_input(c.arg("add").args(a), input.as_bytes())
}

/// Like `run_with_stdin`, but nsec may exit (on bad input) before reading
/// standard input: a broken pipe is expected then, not a test failure.
fn run_input(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program could not be started");
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// Every file below `dir` (to prove nothing was written).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

// ------------------------------------------------------------------ init

#[test]
fn init_creates_identity_and_config_that_sops_uses() {
    let sb = Sandbox::new();
    let out = run(sb.nsec().args(["init", "--name", "laptop"]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let public = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(public.starts_with("age1"), "{public}");
    let key = sb.home().join(".config/sops/age/keys.txt");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // age-keygen agrees on the public key of the identity file.
    let derived = ok(Command::new(age_bin("age-keygen")).arg("-y").arg(&key));
    assert_eq!(String::from_utf8(derived).unwrap().trim(), public);
    let config = std::fs::read_to_string(sb.path("secrets/.sops.yaml")).unwrap();
    assert!(config.contains(&format!("- &laptop {public}")) && config.contains("# API keys"));

    // A secret added to the new store decrypts with the real sops and the
    // identity init created (found at its default place).
    let out = run_with_stdin(
        sb.nsec().args(["add", "api-keys/openai"]),
        b"sk-test-value\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let plain = String::from_utf8(ok(sb.sops().args([
        "decrypt",
        "--extract",
        "[\"openai\"]",
        "secrets/api-keys/openai.yaml",
    ])))
    .unwrap();
    assert_eq!(plain, "sk-test-value");
    // sops itself encrypts with the rules init wrote.
    sb.write("secrets/ssh-keys/plain.yaml", "k: v\n");
    // (sops looks for .sops.yaml from its working directory only.)
    ok(sb
        .sops()
        .current_dir(sb.path("secrets"))
        .args(["encrypt", "-i", "ssh-keys/plain.yaml"]));
    assert_eq!(
        String::from_utf8(ok(sb
            .sops()
            .args(["decrypt", "secrets/ssh-keys/plain.yaml"])))
        .unwrap(),
        "k: v\n"
    );

    // A second init overwrites nothing.
    let before_key = std::fs::read(&key).unwrap();
    let before_cfg = std::fs::read(sb.path("secrets/.sops.yaml")).unwrap();
    let again = ok(sb.nsec().args(["init", "--name", "other"]));
    assert_eq!(String::from_utf8(again).unwrap().trim(), public);
    assert_eq!(std::fs::read(&key).unwrap(), before_key);
    assert_eq!(
        std::fs::read(sb.path("secrets/.sops.yaml")).unwrap(),
        before_cfg
    );
}

#[test]
fn init_honours_sops_age_key_file_and_dir() {
    let sb = Sandbox::new();
    let key = sb.path("keys/me.txt");
    ok(sb
        .nsec()
        .env("SOPS_AGE_KEY_FILE", &key)
        .args(["init", "--dir", "store", "--name", "me"]));
    assert!(key.is_file());
    assert!(sb.path("store/.sops.yaml").is_file());
    assert!(!sb.home().join(".config/sops/age/keys.txt").exists());
}

// ------------------------------------------------------- keygen, ssh-to-age

#[test]
fn keygen_is_like_age_keygen() {
    let sb = Sandbox::new();
    let text = String::from_utf8(ok(sb.nsec().arg("keygen"))).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("# created: "));
    let public = lines[1].strip_prefix("# public key: ").unwrap();
    assert!(lines[2].starts_with("AGE-SECRET-KEY-1"));
    let f = sb.write("k.txt", &text);
    let derived = ok(Command::new(age_bin("age-keygen")).arg("-y").arg(&f));
    assert_eq!(String::from_utf8(derived).unwrap().trim(), public);

    let out = run(sb.nsec().args(["keygen", "-o", "new.txt"]));
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Public key: age1"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(sb.path("new.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // Never overwritten.
    let before = std::fs::read(sb.path("new.txt")).unwrap();
    assert_ne!(code(&run(sb.nsec().args(["keygen", "-o", "new.txt"]))), 0);
    assert_eq!(std::fs::read(sb.path("new.txt")).unwrap(), before);
}

#[test]
fn ssh_to_age_public_and_private_agree_with_age() {
    let sb = Sandbox::new();
    ok(Command::new(tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "host", "-f"])
        .arg(sb.path("id")));
    let public = String::from_utf8(ok(sb.nsec().args(["ssh-to-age", "-i", "id.pub"]))).unwrap();
    assert!(public.starts_with("age1") && public.ends_with('\n') && public.lines().count() == 1);
    let private = ok(sb.nsec().args(["ssh-to-age", "--private-key", "-i", "id"]));
    assert!(private.starts_with(b"AGE-SECRET-KEY-1"));
    let f = sb.write("age.txt", &private);
    let derived = ok(Command::new(age_bin("age-keygen")).arg("-y").arg(&f));
    assert_eq!(String::from_utf8(derived).unwrap(), public);
    // stdin works too.
    let piped = run_with_stdin(
        sb.nsec().arg("ssh-to-age"),
        &std::fs::read(sb.path("id.pub")).unwrap(),
    );
    assert_eq!(String::from_utf8(piped.stdout).unwrap(), public);
}

// -------------------------------------------------------------- add: input

#[test]
fn add_from_stdin_writes_sops_file_and_prints_snippet() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let out = add_stdin(&sb, &["api-keys/openai"], "sk-very-secret-123\n");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "sops.secrets.openai = { sopsFile = ./secrets/api-keys/openai.yaml; };\n"
    );
    // The secret is never echoed.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("very-secret"));
    let file = st.join("api-keys/openai.yaml");
    let raw = std::fs::read_to_string(&file).unwrap();
    assert!(raw.starts_with("openai: ENC[AES256_GCM,"), "{raw}");
    assert!(!raw.contains("very-secret"));
    assert_eq!(
        sops_decrypt(&sb, &key_file("A"), &file, Some("[\"openai\"]")),
        "sk-very-secret-123"
    );
    // show prints it back.
    assert_eq!(
        ok(nsec(&sb).args(["show", "api-keys/openai"])),
        b"sk-very-secret-123\n"
    );
}

#[test]
fn add_from_file_keeps_the_content() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let pem = "-----BEGIN KEY-----\nline1\nline2\n-----END KEY-----\n";
    sb.write("key.pem", pem);
    ok(nsec(&sb).args(["add", "ssh-keys/deploy", "--from-file", "key.pem"]));
    let file = st.join("ssh-keys/deploy.yaml");
    assert_eq!(
        sops_decrypt(&sb, &key_file("A"), &file, Some("[\"deploy\"]")),
        pem
    );
}

#[test]
fn add_json_name_uses_json_store() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let out = add_stdin(&sb, &["api-keys/github.json"], "ghp_abcdefgh\n");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("format = \"json\";"));
    let file = st.join("api-keys/github.json");
    let plain = sops_decrypt(&sb, &key_file("A"), &file, None);
    let v: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(v["github"], "ghp_abcdefgh");
}

#[test]
fn add_with_template_checks_and_metadata() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let out = add_stdin(
        &sb,
        &[
            "api-keys/stripe",
            "--template",
            "api-key",
            "--field",
            "owner=bob",
        ],
        "sk_live_1234567890\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let file = st.join("api-keys/stripe.yaml");
    let raw = std::fs::read_to_string(&file).unwrap();
    // Metadata stays readable without a key.
    assert!(raw.contains("owner_unencrypted: bob"), "{raw}");
    assert!(raw.contains("description_unencrypted: API key"));
    assert!(raw.contains("created_unencrypted: \"20"));
    let plain = sops_decrypt(&sb, &key_file("A"), &file, None);
    assert!(plain.starts_with("stripe: sk_live_1234567890\n"), "{plain}");
    // The template's length check.
    let out = add_stdin(&sb, &["api-keys/short", "--template", "api-key"], "abc\n");
    assert_ne!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    assert!(!st.join("api-keys/short.yaml").exists());
}

#[test]
fn database_template_generates_password_and_takes_plain_fields() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let out = run(nsec(&sb).args([
        "add",
        "api-keys/db",
        "--template",
        "database",
        "--field",
        "user=app",
        "--field",
        "host=db.lan",
    ]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("sops.secrets.\"db/password\" = { sopsFile = ./secrets/api-keys/db.yaml; key = \"password\"; };"), "{stdout}");
    let file = st.join("api-keys/db.yaml");
    assert_eq!(
        sops_decrypt(&sb, &key_file("A"), &file, Some("[\"user\"]")),
        "app"
    );
    assert_eq!(
        sops_decrypt(&sb, &key_file("A"), &file, Some("[\"host\"]")),
        "db.lan"
    );
    let pw = sops_decrypt(&sb, &key_file("A"), &file, Some("[\"password\"]"));
    assert_eq!(pw.len(), 32);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    // A secret field is never taken from argv.
    let out = run(nsec(&sb).args([
        "add",
        "api-keys/db2",
        "--template",
        "database",
        "--field",
        "password=x",
    ]));
    assert_ne!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("never taken from the command line"));
    assert!(!st.join("api-keys/db2.yaml").exists());
}

#[test]
fn store_templates_override_and_extend() {
    let sb = Sandbox::new();
    let st = store(&sb);
    sb.write(
        "secrets/.nsec/templates/openai.yaml",
        "description: OpenAI key\nfields:\n  - key: $name\n    prompt: OpenAI key\n    checks:\n      prefix: sk-\n",
    );
    let out = add_stdin(&sb, &["api-keys/a", "--template", "openai"], "nope-123\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with `sk-`"));
    assert!(!st.join("api-keys/a.yaml").exists());
    let out = add_stdin(&sb, &["api-keys/a", "--template", "openai"], "sk-123\n");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}

// -------------------------------------------------------------- generators

#[test]
fn generate_password_length_and_charset() {
    let sb = Sandbox::new();
    let st = store(&sb);
    ok(nsec(&sb).args([
        "add",
        "api-keys/p1",
        "--generate",
        "password",
        "--length",
        "57",
        "--charset",
        "digits",
    ]));
    let v = sops_decrypt(
        &sb,
        &key_file("A"),
        &st.join("api-keys/p1.yaml"),
        Some("[\"p1\"]"),
    );
    assert_eq!(v.len(), 57);
    assert!(v.chars().all(|c| c.is_ascii_digit()), "{v}");
    ok(nsec(&sb).args([
        "add",
        "api-keys/p2",
        "--generate",
        "password",
        "--length",
        "40",
        "--charset",
        "xyz",
    ]));
    let v = sops_decrypt(
        &sb,
        &key_file("A"),
        &st.join("api-keys/p2.yaml"),
        Some("[\"p2\"]"),
    );
    assert_eq!(v.len(), 40);
    assert!(v.chars().all(|c| "xyz".contains(c)), "{v}");
    ok(nsec(&sb).args(["add", "api-keys/p3", "--generate", "password"]));
    let v = sops_decrypt(
        &sb,
        &key_file("A"),
        &st.join("api-keys/p3.yaml"),
        Some("[\"p3\"]"),
    );
    assert_eq!(v.len(), 32);
    assert!(v.chars().all(|c| c.is_ascii_alphanumeric()));
}

#[test]
fn generate_hex_and_base64() {
    let sb = Sandbox::new();
    let st = store(&sb);
    ok(nsec(&sb).args(["add", "api-keys/h", "--generate", "hex", "--length", "16"]));
    let v = sops_decrypt(
        &sb,
        &key_file("A"),
        &st.join("api-keys/h.yaml"),
        Some("[\"h\"]"),
    );
    assert_eq!(v.len(), 32);
    assert!(v
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    ok(nsec(&sb).args([
        "add",
        "api-keys/b",
        "--generate",
        "base64",
        "--length",
        "30",
    ]));
    let v = sops_decrypt(
        &sb,
        &key_file("A"),
        &st.join("api-keys/b.yaml"),
        Some("[\"b\"]"),
    );
    use base64_check::decode;
    assert_eq!(decode(&v).unwrap().len(), 30);
}

/// A tiny standard-base64 decoder, so the test checks the encoding itself.
mod base64_check {
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        if !s.len().is_multiple_of(4) {
            return None;
        }
        let mut out = Vec::new();
        for chunk in s.as_bytes().chunks(4) {
            let mut n = 0u32;
            let mut pad = 0;
            for &c in chunk {
                n <<= 6;
                if c == b'=' {
                    pad += 1;
                } else {
                    n |= A.iter().position(|&a| a == c)? as u32;
                }
            }
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..4 - pad]);
        }
        Some(out)
    }
}

#[test]
fn generate_ssh_ed25519_accepted_by_ssh_keygen() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let out = run(nsec(&sb).args(["add", "ssh-keys/github", "--template", "ssh-key"]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let file = st.join("ssh-keys/github.yaml");
    let raw = std::fs::read_to_string(&file).unwrap();
    let stored_pub = raw
        .lines()
        .find_map(|l| l.strip_prefix("github_pub_unencrypted: "))
        .expect("public key stored in plaintext")
        .to_string();
    let private = sops_decrypt(&sb, &key_file("A"), &file, Some("[\"github\"]"));
    let key = sb.write("github_key", &private);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let derived = String::from_utf8(ok(Command::new(tool("ssh-keygen"))
        .arg("-y")
        .arg("-f")
        .arg(&key)))
    .unwrap();
    let first2 = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    assert_eq!(first2(&derived), first2(&stored_pub));
    assert!(stored_pub.starts_with("ssh-ed25519 "));
}

#[test]
fn generate_wireguard_accepted_by_wg() {
    let sb = Sandbox::new();
    let st = store(&sb);
    ok(nsec(&sb).args(["add", "ssh-keys/wg0", "--template", "wireguard"]));
    let file = st.join("ssh-keys/wg0.yaml");
    let raw = std::fs::read_to_string(&file).unwrap();
    let stored_pub = raw
        .lines()
        .find_map(|l| l.strip_prefix("wg0_pub_unencrypted: "))
        .expect("public key stored in plaintext")
        .to_string();
    let private = sops_decrypt(&sb, &key_file("A"), &file, Some("[\"wg0\"]"));
    assert_eq!(private.len(), 44);
    let out = run_with_stdin(Command::new(tool("wg")).arg("pubkey"), private.as_bytes());
    assert!(
        out.status.success(),
        "wg is missing or failed (apt-get install wireguard-tools; scripts/test.sh does)"
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), stored_pub);
}

// ------------------------------------------------------------- bad input

#[test]
fn bad_input_gives_clear_errors_and_writes_nothing() {
    let sb = Sandbox::new();
    let st = store(&sb);
    ok(&mut add_stdin_cmd(&sb, "api-keys/existing"));
    sb.write("secrets/api-keys/blocker", "not a directory\n");
    let before = files(&sb.work());
    let cases: &[(&[&str], &str, &str)] = &[
        (&["../x"], "v\n", "`..` would leave the store"),
        (&["api-keys/../../x"], "v\n", "would leave the store"),
        (&["/etc/passwd"], "v\n", "absolute paths are not allowed"),
        (
            &["api-keys/existing"],
            "v\n",
            "already exists\nto replace it, add --force",
        ),
        (&["api-keys/existing.json"], "v\n", "collides with"),
        (
            &["api-keys/blocker/deeper"],
            "v\n",
            "is a file, not a directory",
        ),
        (
            &["api-keys/t", "--template", "nope"],
            "v\n",
            "unknown template",
        ),
        (&["other/x"], "v\n", "no matching creation rule"),
        (&["api-keys/empty"], "", "the value is empty"),
        (&["api-keys/empty2"], "\n", "the value is empty"),
        (&["api-keys/nl"], "abc\n\n", "stray newline"),
        (&["api-keys/ph"], "CHANGEME\n", "placeholder"),
        (
            &["api-keys/g", "--generate", "dice"],
            "",
            "unknown generator",
        ),
    ];
    for (a, input, needle) in cases {
        let out = add_stdin(&sb, a, input);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(code(&out), 0, "{a:?} succeeded");
        assert!(err.contains(needle), "{a:?}: expected `{needle}` in: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(files(&sb.work()), before, "{a:?} wrote something");
    }
    // --force replaces.
    let out = add_stdin(&sb, &["api-keys/existing", "--force"], "new-value\n");
    assert_eq!(code(&out), 0);
    assert_eq!(
        sops_decrypt(
            &sb,
            &key_file("A"),
            &st.join("api-keys/existing.yaml"),
            Some("[\"existing\"]")
        ),
        "new-value"
    );
}

fn add_stdin_cmd(sb: &Sandbox, name: &str) -> Command {
    // A helper for one successful add with piped input, via a shell-free
    // file redirect.
    let input = sb.write(
        &format!("input-{}", name.replace('/', "-")),
        "first-value\n",
    );
    let mut c = nsec(sb);
    c.args(["add", name, "--from-file"]).arg(&input);
    c
}

// -------------------------------------------------------- show, list, rm

#[test]
fn list_shows_names_status_without_a_key() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    add_stdin(&sb, &["ssh-keys/b"], "value-b\n");
    sb.write("secrets/api-keys/plain.yaml", "x: 1\n");
    // A file encrypted for B only: out of date against the rule.
    sb.write("secrets/api-keys/stale.yaml", "stale: v\n");
    ok(sb.sops().args([
        "encrypt",
        "-i",
        "--age",
        AGE_B,
        "secrets/api-keys/stale.yaml",
    ]));
    // A file no rule covers.
    sb.write("secrets/misc/n.yaml", "n: v\n");
    ok(sb
        .sops()
        .args(["encrypt", "-i", "--age", AGE_A, "secrets/misc/n.yaml"]));
    // A file that is not a well-formed sops file, and a plaintext one the
    // store allows (validate does not read it; list reads it itself).
    sb.write(
        "secrets/api-keys/broken.yaml",
        "x: ENC[AES256_GCM,data:nope]\nsops:\n  version: 3.11.0\n",
    );
    sb.write(
        "secrets/api-keys/readme.yaml",
        "note: plaintext on purpose\n",
    );
    let config = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    sb.write(
        "secrets/.sops.yaml",
        format!("nsec:\n  ignore:\n    - api-keys/readme.yaml\n{config}"),
    );
    // No key at all in the environment.
    let out = ok(sb.nsec().args(["list", "--json", "--dir"]).arg(&st));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let status: std::collections::BTreeMap<String, String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(status["api-keys/a"], "ok");
    assert_eq!(status["ssh-keys/b"], "ok");
    assert_eq!(status["api-keys/plain"], "not-encrypted");
    assert_eq!(status["api-keys/stale"], "recipients-out-of-date");
    assert_eq!(status["misc/n"], "no-matching-rule");
    assert_eq!(status["api-keys/broken"], "unreadable");
    assert_eq!(status["api-keys/readme"], "ignored");
    let a = v
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "api-keys/a")
        .unwrap();
    assert_eq!(a["recipients"][0]["name"], "alice");
    assert_eq!(a["recipients"][0]["recipient"], AGE_A);
    assert_eq!(a["format"], "yaml");
    assert!(a["lastmodified"].as_str().unwrap().starts_with("20"));
    // The table, found through NSEC_DIR.
    let table = String::from_utf8(ok(sb.nsec().env("NSEC_DIR", &st).arg("list"))).unwrap();
    assert!(table.lines().next().unwrap().starts_with("NAME"));
    assert!(table
        .lines()
        .any(|l| l.starts_with("api-keys/a ") && l.contains("alice") && l.ends_with("ok")));
    assert!(
        table.contains("recipients out of date")
            && table.contains("not encrypted")
            && table.contains("no matching rule")
    );
}

#[test]
fn store_is_found_upward_from_the_working_directory() {
    let sb = Sandbox::new();
    store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    std::fs::create_dir_all(sb.path("deep/er")).unwrap();
    let out = ok(nsec(&sb)
        .current_dir(sb.path("secrets/api-keys"))
        .args(["show", "api-keys/a"]));
    assert_eq!(out, b"value-a\n");
    let out = run(sb.nsec().current_dir(sb.dir.path()).arg("list"));
    assert_ne!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secrets store found"));
}

#[test]
fn show_field_and_rm() {
    let sb = Sandbox::new();
    let st = store(&sb);
    ok(nsec(&sb).args([
        "add",
        "api-keys/db",
        "--template",
        "database",
        "--field",
        "user=app",
    ]));
    assert_eq!(
        ok(nsec(&sb).args(["show", "api-keys/db", "--field", "user"])),
        b"app\n"
    );
    assert_eq!(
        ok(nsec(&sb).args(["show", "api-keys/db", "--field", "host"])),
        b"localhost\n"
    );
    let out = run(nsec(&sb).args(["show", "api-keys/db", "--field", "nope"]));
    assert_ne!(code(&out), 0);
    // rm without a terminal needs --yes.
    assert_ne!(code(&run(nsec(&sb).args(["rm", "api-keys/db"]))), 0);
    assert!(st.join("api-keys/db.yaml").exists());
    ok(nsec(&sb).args(["rm", "api-keys/db", "--yes"]));
    assert!(!st.join("api-keys/db.yaml").exists());
    let out = run(nsec(&sb).args(["rm", "api-keys/db", "--yes"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secret `api-keys/db`"));
    assert_ne!(code(&run(nsec(&sb).args(["rm", "../x", "--yes"]))), 0);
}

// ----------------------------------------------------------------- hosts

#[test]
fn host_add_ssh_key_then_update_lets_the_host_decrypt() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    add_stdin(&sb, &["ssh-keys/b"], "value-b\n");
    ok(Command::new(tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "root@desktop", "-f"])
        .arg(sb.path("desktop_host_key")));
    let before = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();

    let out = run(nsec(&sb).args([
        "host",
        "add",
        "desktop",
        "--ssh-key",
        "desktop_host_key.pub",
        "--yes",
    ]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{err}");
    assert!(
        err.contains("out of date") && err.contains("api-keys/a") && err.contains("updated"),
        "{err}"
    );
    let after = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    // Comments and layout kept: the only change is three added lines.
    let desktop = String::from_utf8(ok(sb.nsec().args([
        "ssh-to-age",
        "-i",
        "desktop_host_key.pub",
    ])))
    .unwrap();
    let desktop = desktop.trim();
    let removed: Vec<&str> = before
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .collect();
    assert!(removed.is_empty(), "{removed:?}");
    let added: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert_eq!(
        added,
        [
            format!("  - &desktop {desktop}").as_str(),
            "          - *desktop",
            "          - *desktop"
        ]
    );
    assert_eq!(after.lines().count(), before.lines().count() + 3);

    // The desktop's identity, derived from its SSH key, decrypts with sops.
    let id = ok(sb
        .nsec()
        .args(["ssh-to-age", "--private-key", "-i", "desktop_host_key"]));
    let id_file = sb.write("desktop.age", id);
    assert_eq!(
        sops_decrypt(&sb, &id_file, &st.join("api-keys/a.yaml"), Some("[\"a\"]")),
        "value-a"
    );
    assert_eq!(
        sops_decrypt(&sb, &id_file, &st.join("ssh-keys/b.yaml"), Some("[\"b\"]")),
        "value-b"
    );
    // The old key still works, and list names both.
    assert_eq!(
        sops_decrypt(
            &sb,
            &key_file("A"),
            &st.join("api-keys/a.yaml"),
            Some("[\"a\"]")
        ),
        "value-a"
    );
    let table = String::from_utf8(ok(sb.nsec().arg("list").arg("--dir").arg(&st))).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.contains("alice,desktop") && l.ends_with("ok")),
        "{table}"
    );

    // host rm restores the file byte for byte.
    let out = run(nsec(&sb).args(["host", "rm", "desktop", "--yes"]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(st.join(".sops.yaml")).unwrap(),
        before
    );
    let table = String::from_utf8(ok(sb.nsec().arg("list").arg("--dir").arg(&st))).unwrap();
    assert!(
        !table.contains("desktop") && !table.contains("out of date"),
        "{table}"
    );
}

#[test]
fn host_add_age_only_some_rules_and_without_update() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    add_stdin(&sb, &["ssh-keys/b"], "value-b\n");
    // Without a terminal and without --yes nothing is re-keyed, and this
    // needs no private key at all.
    let out = run(sb
        .nsec()
        .args([
            "host", "add", "laptop", "--age", AGE_B, "--only", "ssh-keys", "--dir",
        ])
        .arg(&st));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ssh-keys/b") && !err.contains("api-keys/a"),
        "{err}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&ok(sb.nsec().args(["list", "--json", "--dir"]).arg(&st))).unwrap();
    let st_of = |n: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == n)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(st_of("ssh-keys/b"), "recipients-out-of-date");
    assert_eq!(st_of("api-keys/a"), "ok");
    // A new secret under ssh-keys is encrypted for both, from public keys only.
    let out = run_with_stdin(
        sb.nsec().args(["add", "ssh-keys/c", "--dir"]).arg(&st),
        b"value-c\n",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("encrypted for alice, laptop"));
    assert_eq!(
        sops_decrypt(
            &sb,
            &key_file("B"),
            &st.join("ssh-keys/c.yaml"),
            Some("[\"c\"]")
        ),
        "value-c"
    );
    // Bad host input.
    for a in [
        &["host", "add", "laptop", "--age", AGE_C][..],
        &["host", "add", "other", "--age", AGE_A],
        &["host", "add", "bad name", "--age", AGE_C],
        &["host", "add", "x", "--age", "age1notakey"],
        &["host", "rm", "nobody"],
        &["host", "rm", "alice"],
    ] {
        let before = std::fs::read(st.join(".sops.yaml")).unwrap();
        let out = run(nsec(&sb).args(a));
        assert_ne!(code(&out), 0, "{a:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
        assert_eq!(
            std::fs::read(st.join(".sops.yaml")).unwrap(),
            before,
            "{a:?}"
        );
    }
}

/// The bytes of every file below `dir`, by path (to prove nothing changed).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    files(dir)
        .into_iter()
        // nsec's own store lock (`.nsec/lock`, ignored by git), which every
        // store-wide change takes, is not part of the store.
        .filter(|p| !p.starts_with(dir.join(".nsec")))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// The folded `age: >-` form sops' documentation shows, without `keys:`.
fn folded_store(sb: &Sandbox) -> PathBuf {
    sb.write(
        "secrets/.sops.yaml",
        format!(
            "# written as in the sops docs\ncreation_rules:\n  - path_regex: ^api-keys/.*\n    age: >-\n      {AGE_A},\n      {AGE_C}\n  - path_regex: ^ssh-keys/.*\n    age: {AGE_A} # only me\n"
        ),
    );
    sb.path("secrets")
}

#[test]
fn host_add_to_a_folded_age_string_then_sops_encrypts_for_the_host() {
    let sb = Sandbox::new();
    let st = folded_store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    let before = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    let out = run(nsec(&sb).args(["host", "add", "desktop", "--age", AGE_B, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 0, "{err}");
    assert!(err.contains("updated secrets/api-keys/a.yaml"), "{err}");
    let after = std::fs::read_to_string(st.join(".sops.yaml")).unwrap();
    assert_eq!(
        after,
        format!(
            "# written as in the sops docs\nkeys:\n  - &desktop {AGE_B}\ncreation_rules:\n  - path_regex: ^api-keys/.*\n    age: >-\n      {AGE_A},\n      {AGE_C},\n      {AGE_B}\n  - path_regex: ^ssh-keys/.*\n    age: {AGE_A},{AGE_B} # only me\n"
        )
    );
    // The real sops, encrypting a new file by these rules, includes the host.
    sb.write("secrets/api-keys/new.yaml", "new: value-new\n");
    let mut c = sb.sops();
    c.current_dir(&st)
        .args(["encrypt", "--in-place", "api-keys/new.yaml"]);
    ok(&mut c);
    assert_eq!(
        sops_decrypt(
            &sb,
            &key_file("B"),
            &st.join("api-keys/new.yaml"),
            Some("[\"new\"]")
        ),
        "value-new"
    );
    // The re-keyed secret opens for the host too, and list names it.
    assert_eq!(
        sops_decrypt(
            &sb,
            &key_file("B"),
            &st.join("api-keys/a.yaml"),
            Some("[\"a\"]")
        ),
        "value-a"
    );
    let table = String::from_utf8(ok(sb.nsec().args(["list", "--dir"]).arg(&st))).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("api-keys/a ") && l.contains("desktop") && l.ends_with("ok")),
        "{table}"
    );
    // rm gives back the file as it was, and re-keys.
    let out = run(nsec(&sb).args(["host", "rm", "desktop", "--yes"]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(st.join(".sops.yaml")).unwrap(),
        before
    );
    let table = String::from_utf8(ok(sb.nsec().args(["list", "--dir"]).arg(&st))).unwrap();
    assert!(!table.contains("out of date"), "{table}");
}

#[test]
fn failed_host_add_yes_changes_no_byte() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    add_stdin(&sb, &["ssh-keys/b"], "value-b\n");
    // A secret the current identity (key A) cannot open: encrypted for B only.
    sb.write("plain.yaml", "other: value-o\n");
    let enc = ok(sb.sops().args(["encrypt", "--age", AGE_B, "plain.yaml"]));
    sb.write("secrets/api-keys/other.yaml", enc);
    let before = snapshot(&st);
    let out = run(nsec(&sb).args(["host", "add", "desktop", "--age", AGE_C, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 128, "{err}");
    assert!(
        err.contains("other.yaml") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(snapshot(&st), before, "{err}");

    // A secret sops cannot parse (broken metadata) fails it the same way.
    std::fs::remove_file(st.join("api-keys/other.yaml")).unwrap();
    sb.write(
        "secrets/ssh-keys/broken.yaml",
        "broken: ENC[AES256_GCM,data:AAAA]\nsops:\n    version: 3.11.0\n",
    );
    let before = snapshot(&st);
    let out = run(nsec(&sb).args(["host", "add", "desktop", "--age", AGE_C, "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(code(&out), 0, "{err}");
    assert!(
        err.contains("broken.yaml") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(snapshot(&st), before, "{err}");
    // So does `host rm` of a host whose removal re-keys the broken file.
    std::fs::remove_file(st.join("ssh-keys/broken.yaml")).unwrap();
    let out = run(nsec(&sb).args(["host", "add", "desktop", "--age", AGE_C, "--yes"]));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    sb.write(
        "secrets/ssh-keys/broken.yaml",
        "broken: ENC[AES256_GCM,data:AAAA]\nsops:\n    version: 3.11.0\n",
    );
    let before = snapshot(&st);
    let out = run(nsec(&sb).args(["host", "rm", "desktop", "--yes"]));
    assert_ne!(code(&out), 0);
    assert_eq!(snapshot(&st), before);
}

#[test]
fn declined_update_prints_a_command_that_works_when_pasted() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    add_stdin(&sb, &["ssh-keys/b c"], "value-b\n");
    // No terminal and no --yes: .sops.yaml changes, the secrets do not.
    let out = run(nsec(&sb).args(["host", "add", "laptop", "--age", AGE_B]));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(code(&out), 0, "{err}");
    let hint = err
        .lines()
        .skip_while(|l| !l.starts_with("Not updated."))
        .nth(1)
        .unwrap_or_else(|| panic!("{err}"))
        .trim()
        .to_string();
    assert_eq!(
        hint,
        "nsec updatekeys -y secrets/api-keys/a.yaml 'secrets/ssh-keys/b c.yaml'"
    );
    // `host list` shows what the host cannot read yet, and the same command.
    let out = run(nsec(&sb).args(["host", "list"]));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("laptop  ") && listed.contains("not yet:  api-keys/a, ssh-keys/b c"),
        "{listed}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&hint));
    // Pasted into a shell, the command re-keys them.
    let path = format!(
        "{}:{}",
        nsec_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = sb.cmd("sh");
    c.env("PATH", path)
        .env("SOPS_AGE_KEY_FILE", key_file("A"))
        .args(["-c", &hint]);
    ok(&mut c);
    assert_eq!(
        sops_decrypt(
            &sb,
            &key_file("B"),
            &st.join("ssh-keys/b c.yaml"),
            Some("[\"b c\"]")
        ),
        "value-b"
    );
    let table = String::from_utf8(ok(sb.nsec().arg("list"))).unwrap();
    assert!(!table.contains("out of date"), "{table}");
}

#[test]
fn host_list_shows_names_and_what_each_can_read() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    add_stdin(&sb, &["ssh-keys/b"], "value-b\n");
    ok(sb
        .nsec()
        .args([
            "host", "add", "laptop", "--age", AGE_B, "--only", "ssh-keys", "--dir",
        ])
        .arg(&st));
    let text = String::from_utf8(ok(sb.nsec().args(["host", "list", "--dir"]).arg(&st))).unwrap();
    assert_eq!(
        text,
        format!(
            "alice   {AGE_A}\n          can read: api-keys/a, ssh-keys/b\nlaptop  {AGE_B}\n          can read: -\n          not yet:  ssh-keys/b\n"
        )
    );
    let v: serde_json::Value = serde_json::from_slice(&ok(sb
        .nsec()
        .args(["host", "list", "--json", "--dir"])
        .arg(&st)))
    .unwrap();
    assert_eq!(
        v,
        serde_json::json!([
            {"name": "alice", "recipient": AGE_A, "can_read": ["api-keys/a", "ssh-keys/b"], "not_yet": []},
            {"name": "laptop", "recipient": AGE_B, "can_read": [], "not_yet": ["ssh-keys/b"]},
        ])
    );
    // Re-keyed, the host reads it.
    ok(nsec(&sb)
        .args(["updatekeys", "-y"])
        .arg(st.join("ssh-keys/b.yaml")));
    let v: serde_json::Value = serde_json::from_slice(&ok(sb
        .nsec()
        .args(["host", "list", "--json", "--dir"])
        .arg(&st)))
    .unwrap();
    assert_eq!(v[1]["can_read"], serde_json::json!(["ssh-keys/b"]));
    assert_eq!(v[1]["not_yet"], serde_json::json!([]));
}

// ------------------------------------------------------------------- PTY

mod pty {
    use super::*;
    use expectrl::session::OsSession as Session;
    use expectrl::{ControlCode, Eof, Expect};
    use std::time::Duration;

    fn spawn(sb: &Sandbox, a: &[&str]) -> Session {
        // ptyprocess turns echo off; a real terminal has it on, and the
        // no-echo checks must mean something. `stty echo` runs before nsec
        // (setting it from here would race with nsec's own prompt).
        let mut c = sb.cmd("sh");
        c.env("SOPS_AGE_KEY_FILE", key_file("A"))
            .args(["-c", "stty echo && exec \"$0\" \"$@\""])
            .arg(nsec_bin())
            .args(a)
            // The pty becomes stdin only if the command does not redirect it.
            .stdin(std::process::Stdio::inherit());
        let mut s = Session::spawn(c).expect("spawn in a pty");
        // Generous: this bounds a hung test, it is not a timing assertion.
        s.set_expect_timeout(Some(Duration::from_secs(60)));
        s
    }

    /// Reads up to the sops-nix snippet's end (the last thing nsec prints),
    /// then waits for the exit.
    fn rest(s: &mut Session) -> String {
        let cap = s.expect("; };").unwrap();
        let out = String::from_utf8_lossy(cap.as_bytes()).into_owned();
        let _ = s.expect(Eof);
        out
    }

    /// Types a line at a hidden prompt: first waits until nsec has turned
    /// the terminal's echo off (which is itself part of what is tested; the
    /// bound only keeps a broken build from hanging).
    fn type_hidden(s: &mut Session, line: &str) {
        let start = std::time::Instant::now();
        while s.get_process().get_echo().unwrap() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the prompt never turned echo off"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        s.send_line(line).unwrap();
    }

    /// Waits for `needle`, appending everything read to `log`.
    fn exp(s: &mut Session, needle: &str, log: &mut String) {
        let cap = s
            .expect(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}; so far: {log}"));
        log.push_str(&String::from_utf8_lossy(cap.as_bytes()));
    }

    #[test]
    fn hidden_prompt_does_not_echo_and_prints_snippet() {
        let sb = Sandbox::new();
        let st = store(&sb);
        sb.write(
            "secrets/.nsec/templates/login.yaml",
            "fields:\n  - key: user\n    secret: false\n    prompt: User\n  - key: $name\n    prompt: Secret value\n",
        );
        let mut s = spawn(&sb, &["add", "api-keys/openai", "--template", "login"]);
        let mut log = String::new();
        exp(
            &mut s,
            "Secret value (openai) for api-keys/openai: ",
            &mut log,
        );
        type_hidden(&mut s, "hunter2-secret");
        exp(&mut s, "(again): ", &mut log);
        type_hidden(&mut s, "hunter2-secret");
        exp(&mut s, "User: ", &mut log);
        s.send_line("visible-user").unwrap();
        // A visible answer is echoed by the terminal...
        exp(&mut s, "visible-user", &mut log);
        exp(&mut s, "key = \"openai\"; };", &mut log);
        let _ = s.expect(Eof);
        // ... the hidden one is not.
        assert!(!log.contains("hunter2"), "the secret was echoed: {log}");
        assert!(
            log.contains("sops.secrets.\"openai/openai\" = { sopsFile = ./secrets/api-keys/openai.yaml; key = \"openai\"; };"),
            "{log}"
        );
        let file = st.join("api-keys/openai.yaml");
        assert_eq!(
            sops_decrypt(&sb, &key_file("A"), &file, Some("[\"openai\"]")),
            "hunter2-secret"
        );
        assert_eq!(
            sops_decrypt(&sb, &key_file("A"), &file, Some("[\"user\"]")),
            "visible-user"
        );
    }

    #[test]
    fn default_template_prompt_prints_plain_snippet() {
        let sb = Sandbox::new();
        let st = store(&sb);
        let mut s = spawn(&sb, &["add", "api-keys/openai"]);
        let mut log = String::new();
        exp(&mut s, "Secret value for api-keys/openai: ", &mut log);
        type_hidden(&mut s, "sk-from-the-terminal");
        exp(&mut s, "(again): ", &mut log);
        type_hidden(&mut s, "sk-from-the-terminal");
        log.push_str(&rest(&mut s));
        assert!(
            !log.contains("from-the-terminal"),
            "the secret was echoed: {log}"
        );
        assert!(
            log.contains("sops.secrets.openai = { sopsFile = ./secrets/api-keys/openai.yaml; };"),
            "{log}"
        );
        let file = st.join("api-keys/openai.yaml");
        assert_eq!(
            sops_decrypt(&sb, &key_file("A"), &file, Some("[\"openai\"]")),
            "sk-from-the-terminal"
        );
    }

    #[test]
    fn mismatch_asks_again() {
        let sb = Sandbox::new();
        let st = store(&sb);
        let mut s = spawn(&sb, &["add", "api-keys/x"]);
        let mut log = String::new();
        exp(&mut s, "Secret value for api-keys/x: ", &mut log);
        type_hidden(&mut s, "first-try");
        exp(&mut s, "(again): ", &mut log);
        type_hidden(&mut s, "different");
        exp(&mut s, "do not match", &mut log);
        exp(&mut s, "Secret value for api-keys/x: ", &mut log);
        type_hidden(&mut s, "second-try");
        exp(&mut s, "(again): ", &mut log);
        type_hidden(&mut s, "second-try");
        log.push_str(&rest(&mut s));
        assert!(
            !log.contains("first-try") && !log.contains("second-try") && !log.contains("different"),
            "{log}"
        );
        assert_eq!(
            sops_decrypt(
                &sb,
                &key_file("A"),
                &st.join("api-keys/x.yaml"),
                Some("[\"x\"]")
            ),
            "second-try"
        );
    }

    #[test]
    fn ctrl_c_leaves_no_file() {
        let sb = Sandbox::new();
        let st = store(&sb);
        let before = files(&st);
        let mut s = spawn(&sb, &["add", "api-keys/x"]);
        s.expect("Secret value for api-keys/x: ").unwrap();
        while s.get_process().get_echo().unwrap() {
            std::thread::sleep(Duration::from_millis(5));
        }
        s.send("half-typed").unwrap();
        s.send(ControlCode::EndOfText).unwrap();
        let _ = s.expect(Eof);
        let status = s.get_process().wait().unwrap();
        assert!(format!("{status:?}").contains(", 85)"), "{status:?}");
        // The terminal gets its echo back: an interrupted prompt must not
        // leave the user's shell without echo.
        assert!(s.get_process().get_echo().unwrap(), "echo was not restored");
        assert!(!st.join("api-keys/x.yaml").exists());
        assert_eq!(files(&st), before);
    }
}

// --------------------------------------------------------------- example

/// `examples/nixos-repo`: listed without a key; every file decrypts with the
/// real sops and the THROWAWAY identities published in its README.
#[test]
fn example_repo_lists_and_decrypts_with_readme_keys() {
    let sb = Sandbox::new();
    let example = repo_root().join("examples/nixos-repo");
    let readme = std::fs::read_to_string(example.join("README.md")).unwrap();
    assert!(readme.contains("THROWAWAY"));
    let ids: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .collect();
    assert_eq!(ids.len(), 2, "laptop and desktop identities in the README");
    let v: serde_json::Value = serde_json::from_slice(&ok(sb
        .nsec()
        .args(["list", "--json", "--dir"])
        .arg(example.join("secrets"))))
    .unwrap();
    let items = v.as_array().unwrap();
    assert!(items.len() >= 4);
    for item in items {
        assert_eq!(item["status"], "ok", "{item}");
        let names: Vec<&str> = item["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["laptop", "desktop"]);
        let file = example.join("secrets").join(item["file"].as_str().unwrap());
        for id in &ids {
            let key = sb.write("id.txt", format!("{id}\n"));
            let plain = sops_decrypt(&sb, &key, &file, None);
            assert!(!plain.contains("ENC["), "{plain}");
        }
    }
    // show works from a scratch copy with the README's key.
    let key = sb.write("laptop.txt", format!("{}\n", ids[0]));
    let out = ok(sb
        .nsec()
        .env("SOPS_AGE_KEY_FILE", &key)
        .args(["show", "api-keys/openai", "--dir"])
        .arg(example.join("secrets")));
    assert!(String::from_utf8(out).unwrap().starts_with("sk-THROWAWAY"));
}

/// `nsec ssh-to-age` against an independent implementation of Mic92's
/// ssh-to-age algorithm (Python, no libraries): public key = Montgomery u of
/// the ed25519 point, private key = first 32 bytes of SHA-512(seed), both
/// Bech32 (HRPs `age` and `AGE-SECRET-KEY-`, the latter upper-cased).
#[test]
fn ssh_to_age_matches_an_independent_implementation() {
    const PY: &str = r#"
import base64, hashlib, sys
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def polymod(values):
    gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1ffffff) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk
def bech32(hrp, data):
    acc, bits, out = 0, 0, []
    for b in data:
        acc = (acc << 8) | b; bits += 8
        while bits >= 5:
            bits -= 5; out.append((acc >> bits) & 31)
    if bits: out.append((acc << (5 - bits)) & 31)
    h = hrp.lower()
    exp = [ord(c) >> 5 for c in h] + [0] + [ord(c) & 31 for c in h]
    pm = polymod(exp + out + [0] * 6) ^ 1
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return h + "1" + "".join(CHARSET[d] for d in out + checksum)
def field(buf, at):
    n = int.from_bytes(buf[at:at + 4], "big"); return buf[at + 4:at + 4 + n], at + 4 + n
pub_line, priv_path = sys.argv[1], sys.argv[2]
blob = base64.b64decode(pub_line.split()[1])
_, at = field(blob, 0); key, _ = field(blob, at)
p = 2**255 - 19
y = int.from_bytes(key, "little") & ((1 << 255) - 1)
u = (1 + y) * pow(1 - y, p - 2, p) % p
print(bech32("age", u.to_bytes(32, "little")))
body = "".join(l for l in open(priv_path).read().splitlines() if not l.startswith("-----"))
raw = base64.b64decode(body)
at = len(b"openssh-key-v1\0")
for _ in range(3): _, at = field(raw, at)            # cipher, kdf, kdf options
at += 4; _, at = field(raw, at)                       # key count, public key
private, _ = field(raw, at)
at = 8; _, at = field(private, at); _, at = field(private, at)   # check ints, type, pub
secret, _ = field(private, at)
print(bech32("AGE-SECRET-KEY-", hashlib.sha512(secret[:32]).digest()[:32]).upper())
"#;
    let sb = Sandbox::new();
    let pub_line = std::fs::read_to_string(vectors().join("keys/ssh_ed25519.pub")).unwrap();
    let expected = ok(sb
        .cmd("python3")
        .arg("-c")
        .arg(PY)
        .arg(pub_line.trim())
        .arg(vectors().join("keys/ssh_ed25519")));
    let expected = String::from_utf8(expected).unwrap();
    let mut lines = expected.lines();
    let (want_pub, want_priv) = (lines.next().unwrap(), lines.next().unwrap());
    let ours_pub = ok(sb
        .nsec()
        .args(["ssh-to-age", "-i"])
        .arg(vectors().join("keys/ssh_ed25519.pub")));
    assert_eq!(String::from_utf8_lossy(&ours_pub).trim(), want_pub);
    let ours_priv = ok(sb
        .nsec()
        .args(["ssh-to-age", "--private-key", "-i"])
        .arg(vectors().join("keys/ssh_ed25519")));
    assert_eq!(String::from_utf8_lossy(&ours_priv).trim(), want_priv);
    // And the pair belongs together, for the real age tools.
    let identity = sb.write("id.txt", &ours_priv);
    let derived = ok(sb.cmd(age_bin("age-keygen")).arg("-y").arg(&identity));
    assert_eq!(String::from_utf8_lossy(&derived).trim(), want_pub);
}

/// A store name never leads outside the store through a symlink: not a
/// linked directory on the way, not a linked or dangling file, for the
/// commands that create (add, add --force, edit by NAME) and the ones that
/// read or remove (show, rm).
#[test]
fn names_never_leave_the_store_through_symlinks() {
    let sb = Sandbox::new();
    let st = store(&sb);
    let outside = sb.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(st.join("api-keys")).unwrap();
    std::os::unix::fs::symlink(&outside, st.join("api-keys/linkdir")).unwrap();
    std::os::unix::fs::symlink(outside.join("f.yaml"), st.join("api-keys/dangling.yaml")).unwrap();
    std::fs::write(outside.join("real.yaml"), "x: 1\n").unwrap();
    std::os::unix::fs::symlink(outside.join("real.yaml"), st.join("api-keys/linked.yaml")).unwrap();
    for (args, name) in [
        (vec!["add"], "api-keys/linkdir/x"),
        (vec!["add", "--force"], "api-keys/linked"),
        (vec!["add", "--force"], "api-keys/dangling"),
        (vec!["show"], "api-keys/linkdir/x"),
        (vec!["rm"], "api-keys/linked"),
    ] {
        let out = run_input(nsec(&sb).args(&args).arg(name), b"value-123456\n");
        assert_ne!(code(&out), 0, "{args:?} {name} was allowed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("symlink"), "{args:?} {name}: {err}");
    }
    let mut left: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["real.yaml"]);
    assert_eq!(
        std::fs::read_to_string(outside.join("real.yaml")).unwrap(),
        "x: 1\n"
    );
    // A link inside the store is fine.
    std::fs::create_dir_all(st.join("ssh-keys")).unwrap();
    std::os::unix::fs::symlink(st.join("ssh-keys"), st.join("api-keys/inner")).unwrap();
    let out = add_stdin(&sb, &["api-keys/inner/ok"], "value-123456\n");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}

/// `host rm --yes` re-wraps the data keys and says how to cut the removed
/// host off for good; that command, pasted, gives the files new data keys.
#[test]
fn host_rm_prints_a_rotate_command_that_works_when_pasted() {
    let sb = Sandbox::new();
    let st = store(&sb);
    add_stdin(&sb, &["api-keys/a"], "value-a\n");
    ok(nsec(&sb).args(["host", "add", "laptop", "--age", AGE_B, "--yes"]));
    let before = std::fs::read_to_string(st.join("api-keys/a.yaml")).unwrap();
    let out = run(nsec(&sb).args(["host", "rm", "laptop", "--yes"]));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(code(&out), 0, "{err}");
    let at = err.find("nsec rotate").unwrap_or_else(|| panic!("{err}"));
    let cmd = err[at..].lines().next().unwrap();
    assert_eq!(cmd, "nsec rotate --yes api-keys/a");
    let value_of = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("a: ENC["))
            .unwrap()
            .to_string()
    };
    let path = format!(
        "{}:{}",
        nsec_bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let rewrapped = std::fs::read_to_string(st.join("api-keys/a.yaml")).unwrap();
    assert_eq!(
        value_of(&rewrapped),
        value_of(&before),
        "host rm already rotated"
    );
    ok(sb
        .cmd("sh")
        .current_dir(sb.work())
        .env("PATH", path)
        .env("SOPS_AGE_KEY_FILE", key_file("A"))
        .args(["-c", cmd]));
    let rotated = std::fs::read_to_string(st.join("api-keys/a.yaml")).unwrap();
    assert_ne!(value_of(&rotated), value_of(&before), "no new data key");
}
