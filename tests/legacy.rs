//! Integration tests: sops' legacy flag form (`sops -d FILE`, `sops FILE`,
//! `sops --set '["a"] "v"' FILE`, …) run by the real sops 3.11 and by nsec
//! on identical copies of the same files: same output, same exit code, same
//! resulting files. Encrypted output differs by its randomness, so it is
//! compared by decrypting each tool's output with the other tool.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const PLAIN: &str = "a: 1\nb:\n    c: hello\n    d:\n        - x\n        - z\ntoken: s3cret\n";

/// A sandbox with a rule for key A, and identical directories `sops/` and
/// `nsec/` holding `plain.yaml` and its encryption `enc.yaml`.
fn setup() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(".sops.yaml", format!("creation_rules:\n  - age: {AGE_A}\n"));
    let plain = sb.write("sops/plain.yaml", PLAIN);
    let enc = ok(tool(&sb, "sops").args(["encrypt"]).arg(&plain));
    sb.write("sops/enc.yaml", &enc);
    sb.write("nsec/plain.yaml", PLAIN);
    sb.write("nsec/enc.yaml", &enc);
    sb.write("sops/plain.json", r#"{"k": "v", "n": 2}"#);
    sb.write("nsec/plain.json", r#"{"k": "v", "n": 2}"#);
    sb
}

/// `sops` or `nsec` with key A, working in its own directory.
fn tool(sb: &Sandbox, which: &str) -> Command {
    let mut c = match which {
        "sops" => sb.sops(),
        _ => sb.nsec(),
    };
    let dir = sb.path(which);
    std::fs::create_dir_all(&dir).unwrap();
    c.env("SOPS_AGE_KEY_FILE", key_file("A")).current_dir(dir);
    c
}

/// Runs the same arguments with both tools: (sops, nsec).
fn both(sb: &Sandbox, args: &[&str]) -> (Output, Output) {
    (
        run(tool(sb, "sops").args(args)),
        run(tool(sb, "nsec").args(args)),
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Both succeed (or both fail) with the same code and standard output.
fn assert_same(args: &[&str], (s, n): &(Output, Output)) {
    assert_eq!(
        code(s),
        code(n),
        "{args:?}: exit codes differ\nsops stderr: {}\nnsec stderr: {}",
        text(&s.stderr),
        text(&n.stderr)
    );
    assert_eq!(
        text(&s.stdout),
        text(&n.stdout),
        "{args:?}: outputs differ\nnsec stderr: {}",
        text(&n.stderr)
    );
}

/// Decrypts `file` (in `dir`) with the other tool.
fn decrypt_with(sb: &Sandbox, which: &str, file: &Path) -> String {
    text(&ok(tool(sb, which).arg("decrypt").arg(file)))
}

fn path_in(sb: &Sandbox, which: &str, name: &str) -> PathBuf {
    sb.path(&format!("{which}/{name}"))
}

#[test]
fn decrypt_forms_match_sops() {
    let sb = setup();
    for args in [
        &["-d", "enc.yaml"][..],
        &["--decrypt", "enc.yaml"],
        &["-d", "--extract", r#"["b"]["c"]"#, "enc.yaml"],
        &["-d", "--extract", r#"["b"]"#, "enc.yaml"],
        &["--decrypt", "--output-type", "json", "enc.yaml"],
        &[
            "-d",
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
            "enc.yaml",
        ],
        &["-d", "--ignore-mac", "enc.yaml"],
        &["-d", "--", "enc.yaml"],
        &["--indent", "2", "-d", "enc.yaml"],
    ] {
        assert_same(args, &both(&sb, args));
    }
    // --output and --in-place: same files.
    let args = ["-d", "--output", "out.yaml", "enc.yaml"];
    assert_same(&args, &both(&sb, &args));
    assert_eq!(
        std::fs::read_to_string(path_in(&sb, "sops", "out.yaml")).unwrap(),
        std::fs::read_to_string(path_in(&sb, "nsec", "out.yaml")).unwrap()
    );
    for which in ["sops", "nsec"] {
        std::fs::copy(
            path_in(&sb, which, "enc.yaml"),
            path_in(&sb, which, "inplace.yaml"),
        )
        .unwrap();
    }
    let args = ["-d", "-i", "inplace.yaml"];
    assert_same(&args, &both(&sb, &args));
    let s = std::fs::read_to_string(path_in(&sb, "sops", "inplace.yaml")).unwrap();
    assert_eq!(s, PLAIN);
    assert_eq!(
        std::fs::read_to_string(path_in(&sb, "nsec", "inplace.yaml")).unwrap(),
        s
    );
}

#[test]
fn encrypt_forms_match_sops() {
    let sb = setup();
    // To stdout: each tool reads the other's output.
    for (args, input) in [
        (&["-e", "plain.yaml"][..], "plain.yaml"),
        (&["--encrypt", "plain.json"], "plain.json"),
        (
            &[
                "-e",
                "--input-type",
                "json",
                "--output-type",
                "yaml",
                "plain.json",
            ],
            "plain.json",
        ),
    ] {
        let (s, n) = both(&sb, args);
        assert_eq!(
            (code(&s), code(&n)),
            (0, 0),
            "{args:?}: {}",
            text(&n.stderr)
        );
        let out_name = if args.contains(&"yaml") {
            "out.yaml"
        } else {
            input
        };
        let s_file = sb.write(&format!("nsec/from-sops-{out_name}"), &s.stdout);
        let n_file = sb.write(&format!("sops/from-nsec-{out_name}"), &n.stdout);
        let by_nsec = decrypt_with(&sb, "nsec", &s_file);
        let by_sops = decrypt_with(&sb, "sops", &n_file);
        assert_eq!(by_nsec, by_sops, "{args:?}");
    }
    // --age R: only that recipient.
    let args = ["-e", "--age", AGE_B, "plain.yaml"];
    let (s, n) = both(&sb, &args);
    assert_eq!((code(&s), code(&n)), (0, 0), "{}", text(&n.stderr));
    for out in [&s.stdout, &n.stdout] {
        let t = text(out);
        assert!(t.contains(AGE_B) && !t.contains(AGE_A), "{t}");
    }
    // -i and --output: the files.
    for which in ["sops", "nsec"] {
        std::fs::copy(
            path_in(&sb, which, "plain.yaml"),
            path_in(&sb, which, "p2.yaml"),
        )
        .unwrap();
    }
    for args in [
        &["-e", "-i", "p2.yaml"][..],
        &["-e", "--output", "o.yaml", "plain.yaml"],
    ] {
        let (s, n) = both(&sb, args);
        assert_same(args, &(s, n));
    }
    for f in ["p2.yaml", "o.yaml"] {
        let by_nsec = decrypt_with(&sb, "nsec", &path_in(&sb, "sops", f));
        let by_sops = decrypt_with(&sb, "sops", &path_in(&sb, "nsec", f));
        assert_eq!(by_nsec, PLAIN);
        assert_eq!(by_sops, PLAIN);
    }
}

#[test]
fn rotate_and_set_forms_match_sops() {
    let sb = setup();
    // -r: the rotated file on stdout, the file untouched.
    let (s, n) = both(&sb, &["-r", "enc.yaml"]);
    assert_eq!((code(&s), code(&n)), (0, 0), "{}", text(&n.stderr));
    let s_file = sb.write("nsec/rot-sops.yaml", &s.stdout);
    let n_file = sb.write("sops/rot-nsec.yaml", &n.stdout);
    assert_eq!(decrypt_with(&sb, "nsec", &s_file), PLAIN);
    assert_eq!(decrypt_with(&sb, "sops", &n_file), PLAIN);
    assert_eq!(
        std::fs::read(path_in(&sb, "sops", "enc.yaml")).unwrap(),
        std::fs::read(path_in(&sb, "nsec", "enc.yaml")).unwrap()
    );
    // -r -i and --rotate --in-place: a new data key in the file.
    for args in [
        &["-r", "-i", "enc.yaml"][..],
        &["--rotate", "--in-place", "enc.yaml"],
    ] {
        let before = std::fs::read_to_string(path_in(&sb, "nsec", "enc.yaml")).unwrap();
        assert_same(args, &both(&sb, args));
        let after = std::fs::read_to_string(path_in(&sb, "nsec", "enc.yaml")).unwrap();
        assert_ne!(before, after);
    }
    // --set 'INDEX VALUE' (in place, with or without -i).
    for args in [
        &["--set", r#"["b"]["c"] "new value""#, "enc.yaml"][..],
        &["-i", "--set", r#"["n"]   {"deep": [1, true]}"#, "enc.yaml"],
        &["--set", r#"["b"]["d"][0] 5"#, "enc.yaml"],
    ] {
        assert_same(args, &both(&sb, args));
        let by_nsec = decrypt_with(&sb, "nsec", &path_in(&sb, "sops", "enc.yaml"));
        let by_sops = decrypt_with(&sb, "sops", &path_in(&sb, "nsec", "enc.yaml"));
        assert_eq!(by_nsec, by_sops, "{args:?}");
    }
    let plain = decrypt_with(&sb, "sops", &path_in(&sb, "nsec", "enc.yaml"));
    assert!(
        plain.contains("c: new value") && plain.contains("deep:"),
        "{plain}"
    );
}

/// Writes an editor script into the sandbox.
fn editor(sb: &Sandbox, body: &str) -> PathBuf {
    let p = sb.write("editor.sh", format!("#!/bin/sh\n{body}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn bare_file_edits_like_sops() {
    let sb = setup();
    let ed = editor(&sb, r#"sed -i 's/hello/edited/' "$1""#);
    let run_edit =
        |which: &str, args: &[&str]| run(tool(&sb, which).env("SOPS_EDITOR", &ed).args(args));
    for args in [&["enc.yaml"][..], &["-i", "enc.yaml"]] {
        let s = run_edit("sops", args);
        let n = run_edit("nsec", args);
        assert_same(args, &(s, n));
    }
    let by_nsec = decrypt_with(&sb, "nsec", &path_in(&sb, "sops", "enc.yaml"));
    let by_sops = decrypt_with(&sb, "sops", &path_in(&sb, "nsec", "enc.yaml"));
    assert_eq!(by_nsec, by_sops);
    assert!(by_nsec.contains("c: edited"), "{by_nsec}");
    // A second edit changes nothing: both exit 200.
    let s = run_edit("sops", &["enc.yaml"]);
    let n = run_edit("nsec", &["enc.yaml"]);
    assert_eq!((code(&s), code(&n)), (200, 200));
    // A missing file is created from the template by the rules.
    let ed = editor(&sb, r#"printf 'created: yes\n' > "$1""#);
    for which in ["sops", "nsec"] {
        let out = run(tool(&sb, which).env("SOPS_EDITOR", &ed).arg("new.yaml"));
        assert_eq!(code(&out), 0, "{which}: {}", text(&out.stderr));
    }
    let by_nsec = decrypt_with(&sb, "nsec", &path_in(&sb, "sops", "new.yaml"));
    let by_sops = decrypt_with(&sb, "sops", &path_in(&sb, "nsec", "new.yaml"));
    assert_eq!(by_nsec, "created: \"yes\"\n");
    assert_eq!(by_sops, by_nsec);
}

#[test]
fn mistakes_and_conflicts_exit_as_sops_does() {
    let sb = setup();
    for args in [
        &["-d"][..],
        &["-d", "missing.yaml"],
        &["-e", "missing.yaml"],
        &["-r", "missing.yaml"],
        &["-d", "-i", "--output", "x.yaml", "enc.yaml"],
        &["--set", r#"["a"]"#, "enc.yaml"],
        &["--set", r#"["a"]7"#, "enc.yaml"],
        &["--set", r#"["a"] nope"#, "enc.yaml"],
        &["--set", r#"["a"] [1]"#, "enc.yaml"],
        &["-d", "--extract", r#"["a""#, "enc.yaml"],
        &["-d", "--extract", r#"["zz"]"#, "enc.yaml"],
        &["-e", "enc.yaml"],
        &["-di", "enc.yaml"],
        &["--frob", "enc.yaml"],
        &["-d", "--output"],
        // Conflicting commands: a warning, the last one (in sops' order) runs.
        &["-e", "-d", "enc.yaml"],
        &["-d", "-e", "enc.yaml"],
        &["-e", "-d", "plain.yaml"],
        // Extra arguments are ignored with a warning.
        &["-d", "enc.yaml", "plain.yaml"],
    ] {
        let (s, n) = both(&sb, args);
        assert_eq!(
            code(&s),
            code(&n),
            "{args:?}\nsops: {}\nnsec: {}",
            text(&s.stderr),
            text(&n.stderr)
        );
        if code(&s) == 0 {
            assert_eq!(text(&s.stdout), text(&n.stdout), "{args:?}");
        }
    }
    // Nothing was written by the failures.
    assert_eq!(
        std::fs::read(path_in(&sb, "nsec", "enc.yaml")).unwrap(),
        std::fs::read(path_in(&sb, "sops", "enc.yaml")).unwrap()
    );
    let n = run(tool(&sb, "nsec").args(["-e", "-d", "enc.yaml"]));
    assert!(
        text(&n.stderr).contains("more than one command"),
        "{}",
        text(&n.stderr)
    );
    // A mistyped subcommand is clap's error, not a new file.
    let n = run(tool(&sb, "nsec").arg("lsit"));
    assert_eq!(code(&n), 2);
    assert!(!path_in(&sb, "nsec", "lsit").exists());
}
