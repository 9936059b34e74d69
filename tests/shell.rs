//! Shell completion and man pages, checked in the real programs: the
//! scripts of `nsec completion bash|zsh|fish` load in bash, zsh and fish and
//! offer subcommands and store NAMEs, and every page of `nsec man` renders
//! with man-db's `man -l`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A repository with a store in `secrets/` holding `api-keys/postgres`
/// (`postgres: pw1`) and `api-keys/token.json`, encrypted to key A.
fn setup() -> Sandbox {
    let sb = Sandbox::new();
    sb.write(
        "secrets/.sops.yaml",
        format!("creation_rules:\n  - path_regex: .*\n    age: {AGE_A}\n"),
    );
    std::fs::create_dir_all(sb.path("secrets/api-keys")).unwrap();
    for (name, plain) in [
        ("api-keys/postgres.yaml", "postgres: pw1\n"),
        ("api-keys/token.json", r#"{"token": "t0k"}"#),
    ] {
        let target = format!("secrets/{name}");
        let p = sb.write(&format!("plain-{}", name.replace('/', "-")), plain);
        ok(sb
            .nsec()
            .args([
                "encrypt",
                "--filename-override",
                &target,
                "--output",
                &target,
            ])
            .arg(&p));
        std::fs::remove_file(p).unwrap();
    }
    sb
}

/// The store's names, as completion should offer them.
const NAMES: [&str; 2] = ["api-keys/postgres", "api-keys/token.json"];

/// A shell command in the sandbox with nsec first on PATH (the scripts call
/// `nsec`), no key anywhere.
fn shell(sb: &Sandbox, name: &str) -> Command {
    let mut c = sb.cmd(tool(name));
    let bin_dir = nsec_bin().parent().unwrap().to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin_dir];
    dirs.extend(std::env::split_paths(&path));
    c.env("PATH", std::env::join_paths(dirs).unwrap());
    c
}

fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| l.split('\t').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn assert_no_values(out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    assert!(
        !text.contains("pw1") && !text.contains("t0k"),
        "a value leaked: {text}"
    );
}

// ------------------------------------------------------------- store names

#[test]
fn complete_names_lists_the_store_without_a_key() {
    let sb = setup();
    let out = ok(sb.nsec().arg("__complete-names"));
    assert_eq!(lines(&out), NAMES);
    assert_no_values(&out);
    // Where a NAME goes, and only there.
    assert_eq!(
        lines(&ok(sb.nsec().args(["__complete-names", "--", "show"]))),
        NAMES
    );
    for words in [
        &["show", "--field", "f"][..],
        &["--config", "secrets/.sops.yaml", "rm", "-y"],
        &["set", "--value-file", "v.json"],
        &["unset"],
        &["edit"],
        &["decrypt", "--extract", r#"["a"]"#],
        &["rotate", "api-keys/postgres"],
    ] {
        let out = ok(sb.nsec().arg("__complete-names").arg("--").args(words));
        assert_eq!(lines(&out), NAMES, "after {words:?}");
    }
    for words in [
        &["show", "api-keys/postgres"][..],
        &["set", "api-keys/postgres"],
        &["list"],
        &["add"],
        &["encrypt"],
        &["nosuch"],
    ] {
        let out = ok(sb.nsec().arg("__complete-names").arg("--").args(words));
        assert!(out.is_empty(), "after {words:?}: {}", text(&out));
    }
}

#[test]
fn complete_names_finds_the_store_by_dir_or_nsec_dir_and_is_quiet_without_one() {
    let sb = setup();
    let elsewhere = sb.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let store = sb.path("secrets");
    // No store: nothing, success, nothing on stderr.
    let out = run(sb.nsec().arg("__complete-names").current_dir(&elsewhere));
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
    let out = ok(sb
        .nsec()
        .arg("__complete-names")
        .env("NSEC_DIR", &store)
        .current_dir(&elsewhere));
    assert_eq!(lines(&out), NAMES);
    let out = ok(sb
        .nsec()
        .args(["__complete-names", "--", "show", "--dir"])
        .arg(&store)
        .current_dir(&elsewhere));
    assert_eq!(lines(&out), NAMES);
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// -------------------------------------------------------------------- bash

/// Runs bash's completion function for `nsec` on a command line (the last
/// word is the one completed) and returns COMPREPLY.
fn bash_complete(sb: &Sandbox, words: &[&str]) -> Vec<String> {
    let script = r#"
        source <(nsec completion bash) || exit 3
        spec=$(complete -p nsec) || exit 4
        func=${spec##*-F }; func=${func%% *}
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        "$func" nsec "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
    "#;
    let out = ok(shell(sb, "bash")
        .args(["-c", script, "bash"])
        .args(words)
        .current_dir(sb.work()));
    lines(&out)
}

#[test]
fn bash_registers_the_completion_and_offers_subcommands_and_names() {
    let sb = setup();
    let out =
        ok(shell(&sb, "bash").args(["-c", "source <(nsec completion bash) && complete -p nsec"]));
    let spec = text(&out);
    assert!(
        spec.contains("-F _nsec_with_names") && spec.trim_end().ends_with(" nsec"),
        "{spec}"
    );
    let subs = bash_complete(&sb, &["nsec", "sh"]);
    assert!(subs.contains(&"show".to_string()), "{subs:?}");
    assert!(!subs.iter().any(|s| s.starts_with("__")), "{subs:?}");
    let names = bash_complete(&sb, &["nsec", "show", "api-keys/p"]);
    assert_eq!(names, ["api-keys/postgres"]);
    let names = bash_complete(&sb, &["nsec", "decrypt", ""]);
    for n in NAMES {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }
    // Options still complete as clap defines them.
    let opts = bash_complete(&sb, &["nsec", "show", "--fi"]);
    assert_eq!(opts, ["--field"]);
}

// --------------------------------------------------------------------- zsh

#[test]
fn zsh_loads_the_completion_after_compinit() {
    let sb = setup();
    let out = run(shell(&sb, "zsh").args([
        "-f",
        "-c",
        "autoload -U compinit; compinit -u; source <(nsec completion zsh) && print -r -- $_comps[nsec]",
    ]));
    assert!(out.status.success(), "zsh failed: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "_nsec");
    assert!(
        out.stderr.is_empty(),
        "zsh complained: {}",
        text(&out.stderr)
    );
}

/// The candidates an interactive zsh offers for a command line + TAB.
fn zsh_complete(sb: &Sandbox, line: &str) -> Vec<String> {
    let capture = repo_root().join("tests/data/shell/zsh-capture.zsh");
    let out = ok(shell(sb, "zsh")
        .arg("-f")
        .arg(&capture)
        .arg(tool("zsh"))
        .arg(line));
    lines(&out)
}

#[test]
fn zsh_offers_subcommands_and_names() {
    let sb = setup();
    let subs = zsh_complete(&sb, "nsec sh");
    assert!(subs.contains(&"show".to_string()), "{subs:?}");
    let names = zsh_complete(&sb, "nsec show api");
    assert_eq!(names, NAMES);
    let opts = zsh_complete(&sb, "nsec show --fi");
    assert!(opts.contains(&"--field".to_string()), "{opts:?}");
    assert!(!opts.iter().any(|o| o.starts_with("api-keys")), "{opts:?}");
}

// -------------------------------------------------------------------- fish

fn fish_complete(sb: &Sandbox, line: &str) -> Vec<String> {
    let script = format!(
        "nsec completion fish | source; complete -C {}",
        fish_quote(line)
    );
    let out = ok(shell(sb, "fish").args(["--no-config", "-c", &script]));
    lines(&out)
}

fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[test]
fn fish_loads_the_completion_and_offers_subcommands_and_names() {
    let sb = setup();
    let subs = fish_complete(&sb, "nsec sh");
    assert!(subs.contains(&"show".to_string()), "{subs:?}");
    assert!(!subs.iter().any(|s| s.starts_with("__")), "{subs:?}");
    let names = fish_complete(&sb, "nsec show api");
    assert_eq!(names, NAMES);
    let names = fish_complete(&sb, "nsec rm ");
    for n in NAMES {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }
    let after = fish_complete(&sb, "nsec show api-keys/postgres ");
    assert!(
        !after.iter().any(|n| n.starts_with("api-keys")),
        "{after:?}"
    );
}

// -------------------------------------------------------------------- man

/// `man -l FILE` as plain text (no pager, wide lines).
fn man_text(sb: &Sandbox, page: &Path) -> String {
    let out = run(sb
        .cmd(tool("man"))
        .args(["-P", "cat", "-l"])
        .arg(page)
        .env("MANWIDTH", "200")
        .env("LC_ALL", "C.UTF-8"));
    assert!(
        out.status.success(),
        "man -l {} failed: {}",
        page.display(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn man_page_renders_and_names_every_subcommand() {
    let sb = Sandbox::new();
    let page = ok(sb.nsec().arg("man"));
    let file = sb.write("nsec.1", &page);
    let shown = man_text(&sb, &file);
    // Every subcommand `nsec --help` lists has its entry.
    let help = text(&ok(sb.nsec().arg("--help")));
    let subs: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|s| *s != "help")
        .collect();
    assert!(
        subs.contains(&"completion") && subs.contains(&"man"),
        "{subs:?}"
    );
    assert!(subs.len() > 20, "{subs:?}");
    for sub in subs {
        assert!(
            shown.contains(&format!("nsec-{sub}(1)")),
            "nsec(1) does not list nsec-{sub}(1):\n{shown}"
        );
    }
    assert!(!shown.contains("__complete-names"), "{shown}");
}

#[test]
fn man_dir_writes_one_rendering_page_per_subcommand() {
    let sb = Sandbox::new();
    let out = run(sb.nsec().args(["man", "--dir", "pages"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut pages: Vec<String> = std::fs::read_dir(sb.path("pages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "nsec.1",
        "nsec-show.1",
        "nsec-completion.1",
        "nsec-man.1",
        "nsec-groups-add.1",
        "nsec-exec-env.1",
    ] {
        assert!(
            pages.contains(&want.to_string()),
            "{want} missing: {pages:?}"
        );
    }
    assert!(
        !pages.iter().any(|p| p.contains("__") || p == "nsec-help.1"),
        "{pages:?}"
    );
    for p in &pages {
        let shown = man_text(&sb, &sb.path("pages").join(p));
        let sub = p.trim_end_matches(".1");
        assert!(
            shown.to_lowercase().contains(&sub.to_lowercase()),
            "{p} does not name {sub}:\n{shown}"
        );
    }
}

/// `completion` and `man` are subcommands, not sops' bare `nsec FILE` edit
/// form, even when a file of that name exists.
#[test]
fn new_subcommands_are_not_taken_for_the_legacy_form() {
    let sb = Sandbox::new();
    sb.write("man", "not a secret\n");
    sb.write("completion", "not a secret\n");
    let out = ok(sb.nsec().arg("man"));
    assert!(text(&out).contains(".TH nsec 1"));
    let out = run(sb.nsec().arg("completion"));
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("<SHELL>"),
        "{}",
        text(&out.stderr)
    );
    let out = ok(sb.nsec().args(["completion", "fish"]));
    assert!(text(&out).contains("complete -c nsec"));
}
