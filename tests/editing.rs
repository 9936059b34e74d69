//! Integration tests (editing): edit, set/unset, rotate, updatekeys, groups,
//! exec-env/exec-file, against the real sops 3.11 and age.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// A sandbox with key A's identity for nsec and sops, and a rule for A.
fn setup() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: &laptop {AGE_A}\n"),
    );
    sb
}

fn with_key(mut c: Command, key: &str) -> Command {
    c.env("SOPS_AGE_KEY_FILE", key_file(key));
    c
}

fn nsec(sb: &Sandbox) -> Command {
    with_key(sb.nsec(), "A")
}

fn sops(sb: &Sandbox, key: &str) -> Command {
    with_key(sb.sops(), key)
}

/// Encrypts `plain` as `name` with nsec (rule: key A).
fn encrypted(sb: &Sandbox, name: &str, plain: &str) -> PathBuf {
    let p = sb.write(&format!("plain-{name}"), plain);
    let out = ok(nsec(sb)
        .args(["encrypt", "--filename-override", name])
        .arg(&p));
    sb.write(name, out)
}

fn sops_decrypt(sb: &Sandbox, key: &str, file: &Path) -> String {
    String::from_utf8(ok(sops(sb, key).arg("decrypt").arg(file))).unwrap()
}

/// The lines that differ between two files of the same line count.
fn changed_lines(a: &str, b: &str) -> Vec<(String, String)> {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(la.len(), lb.len(), "line count changed:\n{a}\n---\n{b}");
    la.iter()
        .zip(&lb)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| (x.to_string(), y.to_string()))
        .collect()
}

#[test]
fn set_and_unset_seen_by_sops() {
    let sb = setup();
    let f = encrypted(&sb, "s.yaml", "a: 1\nb:\n  - x\n  - y\nc: hello\n");
    ok(nsec(&sb).args(["set", "s.yaml", r#"["c"]"#, r#""world""#]));
    ok(nsec(&sb).args(["set", "s.yaml", r#"["new"]["deep"]"#, "5"]));
    ok(nsec(&sb).args(["set", "s.yaml", r#"["b"][1]"#, "true"]));
    ok(nsec(&sb).args(["unset", "s.yaml", r#"["a"]"#]));
    assert_eq!(
        sops_decrypt(&sb, "A", &f),
        "b:\n    - x\n    - true\nc: world\nnew:\n    deep: 5\n"
    );
    // The value can come from stdin or a file, out of argv.
    let out = run_with_stdin(
        nsec(&sb).args(["set", "--value-stdin", "s.yaml", r#"["tok"]"#]),
        br#""s3cret-from-stdin""#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vf = sb.write("value.json", r#"{"k": "from-file"}"#);
    ok(nsec(&sb)
        .args(["set", "--value-file"])
        .arg(&vf)
        .args(["s.yaml", r#"["obj"]"#]));
    let plain = sops_decrypt(&sb, "A", &f);
    assert!(plain.contains("tok: s3cret-from-stdin\n"), "{plain}");
    assert!(plain.contains("obj:\n    k: from-file\n"), "{plain}");
    // sops' errors and codes: top-level array, bad JSON, bad index, missing key.
    let before = std::fs::read(&f).unwrap();
    assert_eq!(
        code(&run(nsec(&sb).args(["set", "s.yaml", r#"["x"]"#, "[1]"]))),
        7
    );
    assert_eq!(
        code(&run(nsec(&sb).args(["set", "s.yaml", r#"["x"]"#, "nope"]))),
        7
    );
    assert_eq!(
        code(&run(nsec(&sb).args(["set", "s.yaml", r#"["x""#, "1"]))),
        7
    );
    assert_eq!(
        code(&run(nsec(&sb).args(["unset", "s.yaml", r#"["zzz"]"#]))),
        1
    );
    assert_eq!(
        code(&run(nsec(&sb).args([
            "set",
            "missing.yaml",
            r#"["x"]"#,
            "1"
        ]))),
        100
    );
    assert_eq!(
        std::fs::read(&f).unwrap(),
        before,
        "failed commands must not write"
    );
    // --idempotent: no rewrite when nothing changes.
    ok(nsec(&sb).args(["set", "--idempotent", "s.yaml", r#"["c"]"#, r#""world""#]));
    ok(nsec(&sb).args(["unset", "--idempotent", "s.yaml", r#"["zzz"]"#]));
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn sops_set_then_nsec_decrypt() {
    let sb = setup();
    let f = encrypted(&sb, "s.json", r#"{"a": "x", "n": {"m": 1}}"#);
    ok(sops(&sb, "A").args(["set", "s.json", r#"["n"]["z"]"#, r#""from sops""#]));
    let out = String::from_utf8(ok(nsec(&sb).arg("decrypt").arg(&f))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["n"]["z"], "from sops");
    assert_eq!(v["a"], "x");
}

#[test]
fn one_value_set_is_a_one_value_diff() {
    let sb = setup();
    let plain: String = (0..50).map(|i| format!("key{i:02}: value-{i}\n")).collect();
    let f = encrypted(&sb, "big.yaml", &plain);
    let before = std::fs::read_to_string(&f).unwrap();
    ok(nsec(&sb).args(["set", "big.yaml", r#"["key17"]"#, r#""changed""#]));
    let after = std::fs::read_to_string(&f).unwrap();
    let diff = changed_lines(&before, &after);
    let keys: Vec<&str> = diff
        .iter()
        .map(|(a, _)| a.trim_start().split(':').next().unwrap())
        .collect();
    assert!(keys.contains(&"key17") && keys.contains(&"mac"), "{diff:?}");
    for k in &keys {
        assert!(
            ["key17", "mac", "lastmodified"].contains(k),
            "unexpected change in {k}: {diff:?}"
        );
    }
    assert!(diff.len() <= 3);
    assert!(sops_decrypt(&sb, "A", &f).contains("key17: changed\n"));
    // unset of one value removes exactly that line (plus lastmodified, mac).
    ok(nsec(&sb).args(["unset", "big.yaml", r#"["key03"]"#]));
    let after_unset = std::fs::read_to_string(&f).unwrap();
    let removed: Vec<&str> = after
        .lines()
        .filter(|l| !after_unset.lines().any(|m| m == *l))
        .filter(|l| !l.contains("lastmodified:") && !l.contains("mac:"))
        .collect();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0].starts_with("key03: ENC["));
}

/// Writes an editor script; it gets the temp file as "$1".
fn editor_script(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    let p = sb.write(name, format!("#!/bin/sh\n{body}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A private runtime directory, so tests can check that no plaintext is left.
fn runtime_dir(sb: &Sandbox) -> PathBuf {
    let d = sb.dir.path().join("run");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn assert_empty(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

#[test]
fn edit_with_scripted_editor() {
    let sb = setup();
    let run_dir = runtime_dir(&sb);
    let f = encrypted(&sb, "e.yaml", "a: one\nb: two\nc: three\n");
    let before = std::fs::read_to_string(&f).unwrap();
    // An editor command with arguments, as in `code --wait`.
    let ed = editor_script(
        &sb,
        "ed.sh",
        "stat -c %a \"$2\" > \"$1\"\nsed -i s/two/TWO/ \"$2\"",
    );
    let mode_file = sb.path("mode");
    ok(nsec(&sb)
        .env(
            "EDITOR",
            format!("{} {}", ed.display(), mode_file.display()),
        )
        .env("XDG_RUNTIME_DIR", &run_dir)
        .args(["edit", "e.yaml"]));
    assert_eq!(std::fs::read_to_string(&mode_file).unwrap().trim(), "600");
    assert_empty(&run_dir);
    assert_eq!(sops_decrypt(&sb, "A", &f), "a: one\nb: TWO\nc: three\n");
    let diff = changed_lines(&before, &std::fs::read_to_string(&f).unwrap());
    assert!(
        diff.iter().all(|(l, _)| ["b:", "lastmodified:", "mac:"]
            .iter()
            .any(|k| l.trim_start().starts_with(k))),
        "{diff:?}"
    );
    // SOPS_EDITOR wins over EDITOR; no change exits 200 and leaves the file.
    let same = std::fs::read(&f).unwrap();
    let out = run(nsec(&sb)
        .env("SOPS_EDITOR", "true")
        .env("EDITOR", "false")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .args(["edit", "e.yaml"]));
    assert_eq!(code(&out), 200);
    assert_eq!(std::fs::read(&f).unwrap(), same);
    // A failing editor: sops' exit code 201, no write, no temp file.
    let out = run(nsec(&sb)
        .env("EDITOR", "sh -c 'echo x >> \"$1\"; exit 3' --")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .args(["edit", "e.yaml"]));
    assert_eq!(code(&out), 201);
    assert_eq!(std::fs::read(&f).unwrap(), same);
    // A parse error without a terminal: fail, say where, write nothing.
    let out = run(nsec(&sb)
        .env("EDITOR", "sh -c 'echo \"bad: [\" >> \"$1\"' --")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .args(["edit", "e.yaml"]));
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line"));
    assert_eq!(std::fs::read(&f).unwrap(), same);
    assert_empty(&run_dir);
}

#[test]
fn edit_creates_new_file_from_rules() {
    let sb = setup();
    let run_dir = runtime_dir(&sb);
    ok(nsec(&sb)
        .env("EDITOR", "sed -i s/Welcome/Hello/")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .args(["edit", "new.yaml"]));
    let plain = sops_decrypt(&sb, "A", &sb.path("new.yaml"));
    assert!(plain.contains("hello: Hello to nsec!"), "{plain}");
    // Unchanged template: nothing is created.
    let out = run(nsec(&sb)
        .env("EDITOR", "true")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .args(["edit", "other.yaml"]));
    assert_eq!(code(&out), 200);
    assert!(!sb.path("other.yaml").exists());
    assert_empty(&run_dir);
}

#[test]
fn rotate_add_and_remove_recipients() {
    let sb = setup();
    let f = encrypted(&sb, "r.yaml", "secret: v\n");
    let before = std::fs::read_to_string(&f).unwrap();
    ok(nsec(&sb).args(["rotate", "-i", "--add-age", AGE_B, "r.yaml"]));
    let after = std::fs::read_to_string(&f).unwrap();
    let enc = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("secret:"))
            .unwrap()
            .to_string()
    };
    assert_ne!(enc(&before), enc(&after), "rotate makes a new data key");
    assert_eq!(sops_decrypt(&sb, "B", &f), "secret: v\n");
    ok(nsec(&sb).args(["rotate", "-i", "--rm-age", AGE_A, "r.yaml"]));
    assert_eq!(code(&run(sops(&sb, "A").arg("decrypt").arg(&f))), 128);
    assert_eq!(sops_decrypt(&sb, "B", &f), "secret: v\n");
    // Without -i the result goes to stdout and the file is untouched.
    let same = std::fs::read(&f).unwrap();
    let out = ok(with_key(sb.nsec(), "B").args(["rotate", "r.yaml"]));
    assert!(String::from_utf8(out).unwrap().contains("secret: ENC["));
    assert_eq!(std::fs::read(&f).unwrap(), same);
}

#[test]
fn rotate_with_ssh_recipient() {
    let sb = setup();
    let key = sb.path("id_ed25519");
    ok(Command::new(tool("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key));
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let f = encrypted(&sb, "r.yaml", "secret: v\n");
    ok(nsec(&sb).args(["rotate", "-i", "--add-age", public.trim(), "r.yaml"]));
    let out = ok(sb
        .sops()
        .env("SOPS_AGE_SSH_PRIVATE_KEY_FILE", &key)
        .arg("decrypt")
        .arg(&f));
    assert_eq!(out, b"secret: v\n");
}

#[test]
fn updatekeys_follows_the_rule() {
    let sb = Sandbox::new();
    sb.write(
        ".sops.yaml",
        format!("creation_rules:\n  - age: >-\n      {AGE_A},\n      {AGE_B}\n"),
    );
    let f = encrypted(&sb, "u.yaml", "secret: v\n");
    assert_eq!(sops_decrypt(&sb, "B", &f), "secret: v\n");
    // In sync: not rewritten.
    let same = std::fs::read(&f).unwrap();
    ok(nsec(&sb).args(["updatekeys", "-y", "u.yaml"]));
    assert_eq!(std::fs::read(&f).unwrap(), same);
    // Narrow the rule to A (named by a comment) plus C.
    sb.write(
        ".sops.yaml",
        format!("keys:\n  - {AGE_A} # laptop\n  - &desktop {AGE_C}\ncreation_rules:\n  - age: {AGE_A},{AGE_C}\n"),
    );
    // Without --yes and without a terminal nothing is written.
    let out = run(nsec(&sb).args(["updatekeys", "u.yaml"]));
    assert!(out.status.success());
    assert_eq!(std::fs::read(&f).unwrap(), same);
    let out = run(nsec(&sb).args(["updatekeys", "--yes", "u.yaml"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains(&format!("+++ {AGE_C} (desktop)")), "{msg}");
    assert!(msg.contains(&format!("--- {AGE_B}")), "{msg}");
    assert!(msg.contains(&format!("    {AGE_A} (laptop)")), "{msg}");
    let after = std::fs::read_to_string(&f).unwrap();
    let field = |s: &str, k: &str| {
        s.lines()
            .find(|l| l.trim_start().starts_with(k))
            .unwrap()
            .to_string()
    };
    let before = String::from_utf8(same.clone()).unwrap();
    for k in ["secret:", "lastmodified:", "mac:"] {
        assert_eq!(field(&before, k), field(&after, k), "updatekeys keeps {k}");
    }
    assert_eq!(code(&run(sops(&sb, "B").arg("decrypt").arg(&f))), 128);
    assert_eq!(sops_decrypt(&sb, "C", &f), "secret: v\n");
    assert_eq!(sops_decrypt(&sb, "A", &f), "secret: v\n");
    // --rotate: a new data key even when the keys are in sync.
    ok(nsec(&sb).args(["updatekeys", "-y", "--rotate", "u.yaml"]));
    let rotated = std::fs::read_to_string(&f).unwrap();
    assert_ne!(field(&after, "secret:"), field(&rotated, "secret:"));
    assert_eq!(sops_decrypt(&sb, "C", &f), "secret: v\n");
}

#[test]
fn key_groups_combine_in_sops() {
    let sb = setup();
    let f = encrypted(&sb, "g.yaml", "secret: v\n");
    let out = ok(nsec(&sb).args(["groups", "add", "--file", "g.yaml", "--age", AGE_B]));
    assert!(String::from_utf8_lossy(&out).contains("key_groups:"));
    ok(nsec(&sb).args(["groups", "add", "-i", "--file", "g.yaml", "--age", AGE_B]));
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("shamir_threshold: 2"), "{text}");
    // One key alone is not enough any more; A and B together are.
    assert_eq!(code(&run(sops(&sb, "A").arg("decrypt").arg(&f))), 128);
    let both = sb.write(
        "both.txt",
        [
            std::fs::read(key_file("A")).unwrap(),
            std::fs::read(key_file("B")).unwrap(),
        ]
        .concat(),
    );
    let dec = |c: &mut Command| ok(c.env("SOPS_AGE_KEY_FILE", &both).arg("decrypt").arg(&f));
    assert_eq!(dec(&mut sb.sops()), b"secret: v\n");
    // Add a third group with threshold 2: any two groups decrypt.
    ok(sb.nsec().env("SOPS_AGE_KEY_FILE", &both).args([
        "groups",
        "add",
        "-i",
        "--file",
        "g.yaml",
        "--shamir-secret-sharing-threshold",
        "2",
        "--age",
        AGE_C,
    ]));
    let bc = sb.write(
        "bc.txt",
        [
            std::fs::read(key_file("B")).unwrap(),
            std::fs::read(key_file("C")).unwrap(),
        ]
        .concat(),
    );
    assert_eq!(
        ok(sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", &bc)
            .arg("decrypt")
            .arg(&f)),
        b"secret: v\n"
    );
    // Delete group 0 (A): B and C still combine; A is out.
    ok(sb
        .nsec()
        .env("SOPS_AGE_KEY_FILE", &bc)
        .args(["groups", "delete", "-i", "--file", "g.yaml", "0"]));
    assert_eq!(
        ok(sb
            .sops()
            .env("SOPS_AGE_KEY_FILE", &bc)
            .arg("decrypt")
            .arg(&f)),
        b"secret: v\n"
    );
    assert_eq!(code(&run(sops(&sb, "A").arg("decrypt").arg(&f))), 128);
    // sops can still set values on the nsec-made groups.
    ok(sb
        .sops()
        .env("SOPS_AGE_KEY_FILE", &bc)
        .args(["set", "g.yaml", r#"["x"]"#, r#""y""#]));
}

#[test]
fn exec_env_and_exec_file() {
    let sb = setup();
    let f = encrypted(&sb, "x.yaml", "API_KEY: abc def\nN: 5\nFLAG: true\n");
    let out = ok(nsec(&sb).args([
        "exec-env",
        "x.yaml",
        "printf '%s|%s|%s' \"$API_KEY\" \"$N\" \"$FLAG\"",
    ]));
    assert_eq!(out, b"abc def|5|true");
    // The same values as sops gives.
    let theirs = ok(sops(&sb, "A").args([
        "exec-env",
        "x.yaml",
        "printf '%s|%s|%s' \"$API_KEY\" \"$N\" \"$FLAG\"",
    ]));
    assert_eq!(out, theirs);
    let out = ok(nsec(&sb).env("OUTER", "1").args([
        "exec-env",
        "--pristine",
        "x.yaml",
        "printf '%s' \"${OUTER:-unset}\"",
    ]));
    assert_eq!(out, b"unset");
    // The child's exit code is passed on.
    assert_eq!(
        code(&run(nsec(&sb).args(["exec-env", "x.yaml", "exit 7"]))),
        7
    );
    let fifo = ok(nsec(&sb).args(["exec-file", "x.yaml", "test -p {} && cat {}"]));
    assert_eq!(fifo, sops_decrypt(&sb, "A", &f).as_bytes());
    let file = ok(nsec(&sb).args([
        "exec-file",
        "--no-fifo",
        "--filename",
        "s.yaml",
        "x.yaml",
        "stat -c %a {}; basename {}; dirname {} > where",
    ]));
    assert_eq!(file, b"600\ns.yaml\n");
    let dir = std::fs::read_to_string(sb.path("where")).unwrap();
    assert!(
        !Path::new(dir.trim()).exists(),
        "the temp dir must be removed"
    );
}

/// sops' `exec-env --same-process` and `--background`, and exec-file's
/// `--input-type`, as sops 3.11 has them.
#[test]
fn exec_launch_modes_and_input_type() {
    let sb = setup();
    encrypted(&sb, "x.yaml", "API_KEY: abc def\n");
    // --same-process: the shell is the process nsec was started as.
    let script = "printf '%s|%s' \"$API_KEY\" \"$$\"";
    let child = nsec(&sb)
        .args(["exec-env", "--same-process", "x.yaml", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("abc def|{pid}")
    );
    let theirs = ok(sops(&sb, "A").args([
        "exec-env",
        "--same-process",
        "x.yaml",
        "printf '%s' \"$API_KEY\"",
    ]));
    assert_eq!(theirs, b"abc def");
    // --background: nsec returns at once; the command's output is discarded.
    let out = run(nsec(&sb).args([
        "exec-env",
        "--background",
        "x.yaml",
        "echo visible; sleep 1; printf '%s' \"$API_KEY\" > bg.out",
    ]));
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deprecated"));
    assert!(!sb.path("bg.out").exists(), "nsec waited for the command");
    let mut waited = 0;
    while std::fs::read_to_string(sb.path("bg.out")).unwrap_or_default() != "abc def" {
        assert!(waited < 100, "the background command did not run");
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    // Both at once is a usage error, with sops' code.
    let both = [
        "exec-env",
        "--background",
        "--same-process",
        "x.yaml",
        "true",
    ];
    assert_eq!(code(&run(nsec(&sb).args(both))), 8);
    assert_eq!(code(&run(sops(&sb, "A").args(both))), 8);
    // exec-file waits for its command, always.
    let out = run(nsec(&sb).args(["exec-file", "--background", "x.yaml", "cat {}"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("background"));
    // --input-type for a file whose extension says nothing.
    std::fs::copy(sb.path("x.yaml"), sb.path("x.secret")).unwrap();
    let args = [
        "exec-file",
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        "x.secret",
        "cat {}",
    ];
    let ours = ok(nsec(&sb).args(args));
    assert_eq!(ours, b"API_KEY: abc def\n");
    assert_eq!(ours, ok(sops(&sb, "A").args(args)));
}

/// `--user` runs the command as another user (the tests run as root, as
/// CI does; the command must then read the secret as that user).
#[test]
fn exec_as_another_user() {
    let sb = setup();
    encrypted(&sb, "x.yaml", "API_KEY: abc\n");
    let out = ok(nsec(&sb).args([
        "exec-env",
        "--user",
        "nobody",
        "x.yaml",
        "printf '%s|%s' \"$(id -un)\" \"$API_KEY\"",
    ]));
    assert_eq!(out, b"nobody|abc");
    for fifo in [true, false] {
        let mut cmd = nsec(&sb);
        cmd.args(["exec-file", "--user", "nobody"]);
        if !fifo {
            cmd.arg("--no-fifo");
        }
        let out = ok(cmd.args(["x.yaml", "printf '%s|' \"$(id -un)\"; cat {}"]));
        assert_eq!(out, b"nobody|API_KEY: abc\n", "fifo: {fifo}");
    }
}

#[test]
fn failed_writes_leave_the_file_intact() {
    let sb = setup();
    let mnt = sb.dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        mounted,
        "this test mounts a small tmpfs and needs root (scripts/test.sh runs as root)"
    );
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let src = encrypted(&sb, "f.yaml", "a: 1\nb: two\n");
    let target = mnt.join("f.yaml");
    std::fs::copy(&src, &target).unwrap();
    let before = std::fs::read(&target).unwrap();
    // Full disk: fill the tmpfs, then try to write a bigger value.
    let filler = mnt.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1k", "count=1000"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let big = format!("\"{}\"", "x".repeat(8000));
    let out = run(nsec(&sb).arg("set").arg(&target).args([r#"["b"]"#, &big]));
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read(&target).unwrap(), before);
    std::fs::remove_file(&filler).unwrap();
    // Read-only file system.
    ok(Command::new("mount").args(["-o", "remount,ro"]).arg(&mnt));
    let out = run(nsec(&sb)
        .arg("set")
        .arg(&target)
        .args([r#"["b"]"#, r#""new""#]));
    assert_ne!(code(&out), 0);
    let run_dir = runtime_dir(&sb);
    let out = run(nsec(&sb)
        .env("EDITOR", "sed -i s/two/three/")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .arg("edit")
        .arg(&target));
    assert_ne!(code(&out), 0);
    assert_empty(&run_dir);
    assert_eq!(std::fs::read(&target).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(&mnt).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files may be left");
    assert_eq!(sops_decrypt(&sb, "A", &target), "a: 1\nb: two\n");
}

/// Kills `nsec set` at varying moments of an in-place write, 200 times: the
/// file is always the old or the new complete file.
#[test]
fn killed_writes_never_tear_the_file() {
    let sb = setup();
    let plain: String = (0..200).map(|i| format!("k{i}: value-{i}\n")).collect();
    let f = encrypted(&sb, "k.yaml", &plain);
    let mut last = "value-0".to_string();
    let mut completed = 0;
    for round in 0..200u64 {
        let new = format!("round-{round}");
        let mut child = nsec(&sb)
            .args(["set", "k.yaml", r#"["k0"]"#, &format!("\"{new}\"")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kill over the run: from at once to after ~30 ms.
        std::thread::sleep(std::time::Duration::from_micros((round * 7919) % 30_000));
        let _ = child.kill();
        let _ = child.wait();
        let out = ok(nsec(&sb).args(["decrypt", "--extract", r#"["k0"]"#, "k.yaml"]));
        let got = String::from_utf8(out).unwrap();
        assert!(got == last || got == new, "round {round}: k0 = {got:?}");
        if got == new {
            completed += 1;
        }
        last = got;
    }
    // The last state is a file the real sops reads in full.
    let plain_after = sops_decrypt(&sb, "A", &f);
    assert!(plain_after.contains("k199: value-199\n"));
    // How often the kill came before or after the write, for the log.
    eprintln!(
        "kills: {completed} after the write, {} before it",
        200 - completed
    );
}

#[test]
fn concurrent_sets_both_land() {
    let sb = setup();
    let f = encrypted(&sb, "c.yaml", "base: 0\n");
    for round in 0..25 {
        let spawn = |key: &str| {
            nsec(&sb)
                .args([
                    "set",
                    "c.yaml",
                    &format!("[\"{key}\"]"),
                    &format!("\"{round}\""),
                ])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("left"), spawn("right"));
        for c in [a, b] {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let plain = String::from_utf8(ok(nsec(&sb).arg("decrypt").arg(&f))).unwrap();
        assert!(
            plain.contains(&format!("left: \"{round}\"")),
            "round {round}: {plain}"
        );
        assert!(
            plain.contains(&format!("right: \"{round}\"")),
            "round {round}: {plain}"
        );
    }
    let plain = sops_decrypt(&sb, "A", &f);
    assert!(plain.contains("left: \"24\"") && plain.contains("right: \"24\""));
}

mod pty {
    use super::*;
    use expectrl::{ControlCode, Expect, Session};

    fn session(
        sb: &Sandbox,
        editor: &Path,
        run_dir: &Path,
        file: &str,
    ) -> expectrl::session::OsSession {
        let mut c = nsec(sb);
        c.env("EDITOR", editor)
            .env("XDG_RUNTIME_DIR", run_dir)
            .args(["edit", file])
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
    fn edit_succeeds() {
        let sb = setup();
        let run_dir = runtime_dir(&sb);
        let f = encrypted(&sb, "p.yaml", "a: one\n");
        let ed = editor_script(&sb, "ed.sh", "sed -i s/one/two/ \"$1\"; echo EDITED");
        let mut s = session(&sb, &ed, &run_dir, "p.yaml");
        s.expect("EDITED").unwrap();
        assert!(exit_code(&s).contains(", 0)"), "{}", exit_code(&s));
        assert_empty(&run_dir);
        assert_eq!(sops_decrypt(&sb, "A", &f), "a: two\n");
    }

    #[test]
    fn edit_parse_error_then_reopen() {
        let sb = setup();
        let run_dir = runtime_dir(&sb);
        let f = encrypted(&sb, "p.yaml", "a: one\n");
        let count = sb.path("count");
        let ed = editor_script(
            &sb,
            "ed.sh",
            &format!(
                "if [ -e {c} ]; then printf 'a: fixed\\n' > \"$1\"; else touch {c}; printf 'a: [\\n' > \"$1\"; fi",
                c = count.display()
            ),
        );
        let mut s = session(&sb, &ed, &run_dir, "p.yaml");
        s.expect("does not parse").unwrap();
        s.expect("Reopen it in the editor?").unwrap();
        s.send_line("y").unwrap();
        assert!(exit_code(&s).contains(", 0)"), "{}", exit_code(&s));
        assert_empty(&run_dir);
        assert_eq!(sops_decrypt(&sb, "A", &f), "a: fixed\n");
    }

    #[test]
    fn edit_parse_error_declined() {
        let sb = setup();
        let run_dir = runtime_dir(&sb);
        let f = encrypted(&sb, "p.yaml", "a: one\n");
        let before = std::fs::read(&f).unwrap();
        let ed = editor_script(&sb, "ed.sh", "printf 'a: [\\n' > \"$1\"");
        let mut s = session(&sb, &ed, &run_dir, "p.yaml");
        s.expect("Reopen it in the editor?").unwrap();
        s.send_line("n").unwrap();
        assert!(exit_code(&s).contains(", 2)"), "{}", exit_code(&s));
        assert_empty(&run_dir);
        assert_eq!(std::fs::read(&f).unwrap(), before);
    }

    #[test]
    fn edit_without_change() {
        let sb = setup();
        let run_dir = runtime_dir(&sb);
        let f = encrypted(&sb, "p.yaml", "a: one\n");
        let before = std::fs::read(&f).unwrap();
        let ed = editor_script(&sb, "ed.sh", "echo LOOKED");
        let mut s = session(&sb, &ed, &run_dir, "p.yaml");
        s.expect("LOOKED").unwrap();
        s.expect("has not changed").unwrap();
        assert!(exit_code(&s).contains(", 200)"), "{}", exit_code(&s));
        assert_empty(&run_dir);
        assert_eq!(std::fs::read(&f).unwrap(), before);
    }

    #[test]
    fn ctrl_c_during_edit() {
        let sb = setup();
        let run_dir = runtime_dir(&sb);
        let f = encrypted(&sb, "p.yaml", "a: one\n");
        let before = std::fs::read(&f).unwrap();
        // The editor changes the file, then waits to be interrupted.
        let ed = editor_script(
            &sb,
            "ed.sh",
            "sed -i s/one/two/ \"$1\"; echo WAITING; exec sleep 600",
        );
        let mut s = session(&sb, &ed, &run_dir, "p.yaml");
        s.expect("WAITING").unwrap();
        s.send(ControlCode::EndOfText).unwrap();
        let status = exit_code(&s);
        assert!(status.contains(", 85)"), "{status}");
        assert_empty(&run_dir);
        assert_eq!(
            std::fs::read(&f).unwrap(),
            before,
            "an interrupted edit writes nothing"
        );
    }
}

/// A running nsec allows no core dump (RLIMIT_CORE 0, seen in its
/// /proc/PID/limits while the editor runs) and is not dumpable, so a crash
/// during `edit` cannot write the plaintext or the identity to disk.
#[test]
fn no_core_dumps_while_secrets_are_in_memory() {
    let sb = setup();
    let f = encrypted(&sb, "c.yaml", "a: one\n");
    let ed = editor_script(
        &sb,
        "ed.sh",
        "grep 'Max core file size' /proc/$PPID/limits > \"$1\"\ncat /proc/$PPID/status | grep -i '^Uid' >> \"$1\"\nsed -i s/one/two/ \"$2\"",
    );
    let out = sb.path("limits");
    ok(nsec(&sb)
        .env("EDITOR", format!("{} {}", ed.display(), out.display()))
        .args(["edit"])
        .arg(&f));
    let limits = std::fs::read_to_string(&out).unwrap();
    let line = limits.lines().next().unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "Max core file size  <soft> <hard> bytes"
    assert_eq!(&fields[4..6], &["0", "0"], "{line}");
    assert_eq!(sops_decrypt(&sb, "A", &f), "a: two\n");
}

/// In-place rewrites keep the file's owner, group and mode (as root here,
/// so any owner can be kept), for every command that rewrites a file.
#[test]
fn in_place_writes_keep_owner_group_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let sb = setup();
    // nobody:nogroup exist on Debian; fall back to 65534 numerically.
    let (uid, gid) = (65534u32, 65534u32);
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("set", vec!["set", "--value-stdin", "F", "[\"a\"]"]),
        ("unset", vec!["unset", "F", "[\"b\"]"]),
        ("rotate", vec!["rotate", "-i", "F"]),
        ("updatekeys", vec!["updatekeys", "-y", "F"]),
        ("decrypt", vec!["decrypt", "-i", "F"]),
    ];
    for (name, args) in cases {
        let f = encrypted(&sb, &format!("{name}.yaml"), "a: one\nb: two\n");
        // A new recipient, so that updatekeys has something to do.
        let config = std::fs::read_to_string(sb.path(".sops.yaml")).unwrap();
        sb.write(
            ".sops.yaml",
            format!("creation_rules:\n  - age: {AGE_A},{AGE_B}\n"),
        );
        std::os::unix::fs::chown(&f, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                if *a == "F" {
                    f.display().to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let out = run_with_stdin(nsec(&sb).args(&args), b"\"new\"");
        assert_eq!(
            code(&out),
            0,
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{name} changed the owner");
        let want = if name == "decrypt" {
            0o600 & 0o640
        } else {
            0o640
        };
        assert_eq!(
            m.permissions().mode() & 0o777,
            want,
            "{name} changed the mode"
        );
        sb.write(".sops.yaml", config);
    }
}

/// `--output` through a dangling symlink writes the link's target (0600
/// plaintext) and keeps the link, as the README promises.
#[test]
fn output_through_a_dangling_symlink_keeps_the_link() {
    use std::os::unix::fs::PermissionsExt;
    let sb = setup();
    let f = encrypted(&sb, "d.yaml", "a: one\n");
    std::fs::create_dir_all(sb.path("out")).unwrap();
    std::os::unix::fs::symlink("out/plain.yaml", sb.path("link.yaml")).unwrap();
    ok(nsec(&sb).args(["decrypt", "--output", "link.yaml"]).arg(&f));
    assert!(std::fs::symlink_metadata(sb.path("link.yaml"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(sb.path("out/plain.yaml")).unwrap(),
        "a: one\n"
    );
    let mode = std::fs::metadata(sb.path("out/plain.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Deep documents and deep `set` indexes hit a documented limit (1,000
/// levels) with an error and exit code, never a stack overflow; the file is
/// left as it was.
#[test]
fn deep_documents_and_indexes_are_refused_not_crashed() {
    let sb = setup();
    let deep_yaml: String = (0..3000)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect::<String>()
        .trim_end_matches(":\n")
        .to_string()
        + ": v\n";
    let p = sb.write("deep.yaml", &deep_yaml);
    let out = run(nsec(&sb).args(["encrypt", "--age", AGE_A]).arg(&p));
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1000 levels"));
    let deep_json = "{\"a\":".repeat(3000) + "1" + &"}".repeat(3000);
    let p = sb.write("deep.json", &deep_json);
    let out = run(nsec(&sb).args(["encrypt", "--age", AGE_A]).arg(&p));
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    // 999 levels are fine, and sops reads what nsec wrote.
    let ok_yaml: String = (0..999)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect::<String>()
        .trim_end_matches(":\n")
        .to_string()
        + ": v\n";
    let p = sb.write("ok.yaml", &ok_yaml);
    let enc = ok(nsec(&sb).args(["encrypt", "--age", AGE_A]).arg(&p));
    let f = sb.write("ok.enc.yaml", &enc);
    let plain = sops_decrypt(&sb, "A", &f);
    assert!(plain.ends_with("k998: v\n") && plain.lines().count() == 999);
    // A set index of 20,000 components.
    let before = std::fs::read(&f).unwrap();
    let index = "[\"a\"]".repeat(20_000);
    let out = run_with_stdin(
        nsec(&sb).args(["set", "--value-stdin"]).arg(&f).arg(&index),
        b"\"x\"",
    );
    assert_eq!(code(&out), 7, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.len() < 2000, "the error repeats the whole index");
    assert_eq!(std::fs::read(&f).unwrap(), before);
    // Endless input is refused at the size limit, not read until memory
    // runs out.
    let out = run(nsec(&sb).args(["decrypt", "/dev/zero"]));
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 512 MiB"));
}

/// A `.sops.yaml` another user could have written is refused (it would
/// decide who can read a new secret), with a way to trust it that works
/// when pasted; a sticky shared directory with one's own config is fine.
#[test]
fn configs_others_could_write_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let shared = sb.path("shared");
    std::fs::create_dir_all(shared.join("me")).unwrap();
    let config = sb.write(
        "shared/.sops.yaml",
        format!("creation_rules:\n  - age: {AGE_B}\n"),
    );
    let plain = sb.write("shared/me/new.yaml", "token: secret-value\n");
    let encrypt = || run(nsec(&sb).arg("encrypt").arg(&plain));
    // Owned by another user (the test runs as root, as CI does).
    std::os::unix::fs::chown(&config, Some(65534), Some(65534)).unwrap();
    let out = encrypt();
    assert_ne!(code(&out), 0);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("owned by user 65534"), "{err}");
    assert!(out.stdout.is_empty());
    // The printed way to trust it works.
    let hint = err
        .lines()
        .find(|l| l.starts_with("if you trust it: "))
        .unwrap();
    let export = hint.trim_start_matches("if you trust it: ");
    let script = format!("{export}; \"$0\" encrypt \"$1\"");
    let out = run(sb
        .cmd("sh")
        .args(["-c", &script])
        .arg(nsec_bin())
        .arg(&plain)
        .env("SOPS_AGE_KEY_FILE", key_file("A")));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    // It names the config it used, since sops would not have found it.
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("encrypting by the rules of shared/.sops.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Own file in a world-writable directory: refused unless sticky.
    std::os::unix::fs::chown(&config, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = encrypt();
    assert_ne!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("world-writable"));
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(code(&encrypt()), 0);
}

/// A crash at every file-system step of every command that writes a file
/// (after writing the temporary, after its fsync, before and after its
/// rename; injected, so each step is hit exactly): the file is always the
/// old one or the complete new one, the only trace is a stale temporary
/// that `validate` reports (E080) and the next write removes, and running
/// the command again succeeds.
#[test]
fn a_crash_at_any_write_step_never_loses_or_tears_a_file() {
    require_fault_injection();
    struct Case {
        name: &'static str,
        args: Vec<&'static str>,
        stdin: &'static [u8],
        /// What the file decrypts to afterwards (or is, for decrypt -i).
        after: &'static str,
        plaintext_result: bool,
        /// Run on the file first, without a crash.
        setup: Vec<&'static str>,
        /// What else the new file's text shows (a key group added or gone:
        /// a second group for key A, which A alone can open).
        shows: fn(&str) -> bool,
    }
    let cases = vec![
        Case {
            name: "set",
            args: vec!["set", "--value-stdin", "F", "[\"a\"]"],
            stdin: b"\"new\"",
            after: "a: new\nb: two\n",
            plaintext_result: false,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "unset",
            args: vec!["unset", "F", "[\"b\"]"],
            stdin: b"",
            after: "a: one\n",
            plaintext_result: false,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "rotate",
            args: vec!["rotate", "-i", "F"],
            stdin: b"",
            after: "a: one\nb: two\n",
            plaintext_result: false,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "updatekeys",
            args: vec!["updatekeys", "-y", "F"],
            stdin: b"",
            after: "a: one\nb: two\n",
            plaintext_result: false,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "decrypt",
            args: vec!["decrypt", "-i", "F"],
            stdin: b"",
            after: "a: one\nb: two\n",
            plaintext_result: true,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "edit",
            args: vec!["edit", "F"],
            stdin: b"",
            after: "a: edited\nb: two\n",
            plaintext_result: false,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "encrypt",
            args: vec!["encrypt", "-i", "F"],
            stdin: b"",
            after: "a: one\nb: two\n",
            plaintext_result: false,
            setup: vec![],
            shows: |_| true,
        },
        Case {
            name: "groups-add",
            args: vec!["groups", "add", "--file", "F", "--age", AGE_A, "-i"],
            stdin: b"",
            after: "a: one\nb: two\n",
            plaintext_result: false,
            setup: vec![],
            shows: |text| text.matches(AGE_A).count() == 2,
        },
        Case {
            name: "groups-delete",
            args: vec!["groups", "delete", "--file", "F", "-i", "1"],
            stdin: b"",
            after: "a: one\nb: two\n",
            plaintext_result: false,
            setup: vec!["groups", "add", "--file", "F", "--age", AGE_A, "-i"],
            shows: |text| text.matches(AGE_A).count() == 1,
        },
    ];
    let sb = setup();
    let editor = editor_script(&sb, "ed.sh", "sed -i s/one/edited/ \"$1\"");
    for case in cases {
        let mut step = 1;
        loop {
            assert!(step < 50, "{}: never finished", case.name);
            let name = format!("{}-{step}.yaml", case.name);
            let f = if case.name == "encrypt" {
                sb.write(&name, "a: one\nb: two\n")
            } else {
                encrypted(&sb, &name, "a: one\nb: two\n")
            };
            let with_file = |args: &[&str]| -> Vec<String> {
                args.iter()
                    .map(|a| {
                        if *a == "F" {
                            f.display().to_string()
                        } else {
                            a.to_string()
                        }
                    })
                    .collect()
            };
            if !case.setup.is_empty() {
                ok(nsec(&sb).args(with_file(&case.setup)));
            }
            let old = std::fs::read(&f).unwrap();
            // A second recipient, so that updatekeys has work to do.
            let config = std::fs::read_to_string(sb.path(".sops.yaml")).unwrap();
            sb.write(
                ".sops.yaml",
                format!("creation_rules:\n  - age: {AGE_A},{AGE_B}\n"),
            );
            let args = with_file(&case.args);
            let out = run_with_stdin(
                nsec(&sb)
                    .args(&args)
                    .env("EDITOR", &editor)
                    .env("NSEC_TEST_FAULT_AT", step.to_string()),
                case.stdin,
            );
            let crashed = out.status.code().is_none();
            let now = std::fs::read(&f).unwrap();
            let ok_new = |bytes: &[u8]| {
                if case.plaintext_result {
                    bytes == case.after.as_bytes()
                } else {
                    let tmp = sb.write("check.yaml", bytes);
                    (case.shows)(&String::from_utf8_lossy(bytes))
                        && sops_decrypt(&sb, "A", &tmp) == case.after
                }
            };
            assert!(
                now == old || ok_new(&now),
                "{} step {step}: the file is neither the old nor the new one",
                case.name
            );
            if !crashed {
                assert_eq!(
                    code(&out),
                    0,
                    "{}: {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(ok_new(&now), "{}: finished without the new file", case.name);
                sb.write(".sops.yaml", config);
                break;
            }
            // Only a stale temporary may be left; validate finds it, and
            // running the command again succeeds and sweeps it.
            let leftovers = || -> Vec<std::path::PathBuf> {
                std::fs::read_dir(sb.work())
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| {
                        p.file_name()
                            .unwrap()
                            .to_string_lossy()
                            .starts_with(".nsec-tmp-")
                    })
                    .collect()
            };
            let left = leftovers();
            assert!(left.len() <= 1, "{} step {step}: {left:?}", case.name);
            for p in &left {
                // Stale: nobody holds it, and older than a writer's first
                // moment.
                let old_time = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
                std::fs::File::options()
                    .write(true)
                    .open(p)
                    .unwrap()
                    .set_modified(old_time)
                    .unwrap();
                let v = run(nsec(&sb)
                    .args(["validate", "--keyless", "--json", "--dir"])
                    .arg(sb.work()));
                assert!(
                    String::from_utf8_lossy(&v.stdout).contains("E080"),
                    "{} step {step}",
                    case.name
                );
            }
            let out = run_with_stdin(nsec(&sb).args(&args).env("EDITOR", &editor), case.stdin);
            if now == old {
                assert_eq!(
                    code(&out),
                    0,
                    "{} step {step}, again: {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(ok_new(&std::fs::read(&f).unwrap()));
            }
            assert!(
                leftovers().is_empty(),
                "{} step {step}: a temporary was left after the next write",
                case.name
            );
            sb.write(".sops.yaml", config);
            step += 1;
        }
        assert!(step > 2, "{}: no write step was injected", case.name);
    }
}

/// A panic in the middle of an atomic write unwinds: the temporary file
/// (plaintext, for `decrypt -i`) is dropped and so removed, the file keeps
/// its old bytes, and nsec exits 101 with the panic's message. This checks
/// the unwinder the binary is linked with (on Linux, libgcc's, linked in
/// statically by build.rs), not only the code.
#[test]
fn a_panic_during_a_write_unwinds_and_removes_the_temporary() {
    require_fault_injection();
    let sb = setup();
    let f = encrypted(&sb, "p.yaml", "a: one\nb: two\n");
    let old = std::fs::read(&f).unwrap();
    // Steps 1 and 2 are after writing the temporary and after its fsync:
    // both before the rename, while only the temporary holds the plaintext.
    for step in [1, 2] {
        let out = run(nsec(&sb)
            .args(["decrypt", "-i"])
            .arg(&f)
            .env("NSEC_TEST_PANIC_AT", step.to_string()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 101, "step {step}: {stderr}");
        assert!(
            stderr.contains("panicked") && stderr.contains("injected panic at"),
            "step {step}: {stderr}"
        );
        assert_eq!(std::fs::read(&f).unwrap(), old, "step {step}");
        let left: Vec<_> = std::fs::read_dir(sb.work())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".nsec-tmp-"))
            .collect();
        assert!(left.is_empty(), "step {step}: left behind: {left:?}");
    }
}

/// The private directory of an edit whose nsec was killed (plaintext inside)
/// is removed by the next edit; one a live nsec holds is left alone.
#[test]
fn a_killed_edit_leaves_no_plaintext_for_long() {
    let sb = setup();
    let run_dir = runtime_dir(&sb);
    // What a killed edit leaves: nsec-*/ with its lock file and the plaintext.
    let stale = run_dir.join("nsec-STALE1");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join(".lock"), "").unwrap();
    std::fs::write(stale.join("secret.yaml"), "a: plain-text-secret\n").unwrap();
    let live = run_dir.join("nsec-LIVE01");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join(".lock"), "").unwrap();
    let held = std::fs::File::open(live.join(".lock")).unwrap();
    held.lock().unwrap();
    let f = encrypted(&sb, "k.yaml", "a: one\n");
    let out = run(nsec(&sb)
        .env("EDITOR", "true")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .arg("edit")
        .arg(&f));
    assert_eq!(code(&out), 200, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stale.exists(), "the stale plaintext is still there");
    assert!(live.exists(), "a live edit's directory was removed");
    drop(held);
    std::fs::remove_dir_all(&live).unwrap();
    assert_empty(&run_dir);
}

/// `add` crashed at every file-system step: the new secret is either not
/// there or complete, never torn, and adding it again succeeds when it is
/// not there.
#[test]
fn a_crash_while_adding_never_leaves_a_torn_secret() {
    require_fault_injection();
    let sb = Sandbox::new();
    sb.write(
        "secrets/.sops.yaml",
        format!("creation_rules:\n  - path_regex: ^api-keys/\n    age: {AGE_A}\n"),
    );
    let mut step = 1;
    loop {
        assert!(step < 50, "add never finished");
        let name = format!("api-keys/k{step}");
        let file = sb.path(&format!("secrets/{name}.yaml"));
        let out = run_with_stdin(
            nsec(&sb)
                .args(["add", &name])
                .env("NSEC_TEST_FAULT_AT", step.to_string()),
            b"value-123456\n",
        );
        let crashed = out.status.code().is_none();
        if file.exists() {
            let plain = sops_decrypt(&sb, "A", &file);
            assert!(
                plain.starts_with(&format!("k{step}: value-123456\n")),
                "step {step}: {plain}"
            );
        }
        if !crashed {
            assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
            assert!(file.exists());
            break;
        }
        if !file.exists() {
            let again = run_with_stdin(nsec(&sb).args(["add", &name]), b"value-123456\n");
            assert_eq!(
                code(&again),
                0,
                "step {step}: {}",
                String::from_utf8_lossy(&again.stderr)
            );
        }
        step += 1;
    }
    assert!(step > 2, "no write step was injected");
}
