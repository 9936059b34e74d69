//! `nsec completion`, `nsec man` and the hidden `nsec __complete-names`.
//!
//! Completion scripts and man pages are generated from the clap definitions
//! in `cli/` (clap_complete, clap_mangen), so they never drift from
//! `--help`. Store NAMEs are completed by a small hand-written function per
//! shell, appended to clap_complete's script, that asks
//! `nsec __complete-names -- WORDS…` for candidates: clap_complete's own
//! dynamic completion is behind its `unstable-dynamic` feature (outside its
//! semver promise), so it is not used.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use secrets_core::repo::Store;

use super::Context;
use crate::cli::shell::{CompleteNamesArgs, CompletionArgs, CompletionShell, ManArgs};
use crate::cli::Cli;
use crate::error::CliError;
use crate::output::write_stdout;

/// The subcommands that take a store NAME, and the id of the positional
/// argument that takes it.
const NAME_SLOTS: &[(&str, &str)] = &[
    ("show", "name"),
    ("rm", "name"),
    ("set", "file"),
    ("unset", "file"),
    ("edit", "file"),
    ("decrypt", "file"),
    ("rotate", "targets"),
];

/// Prints the completion script for a shell.
pub fn completion(args: &CompletionArgs) -> Result<(), CliError> {
    let text = completion_script(args.shell);
    write_stdout(text.as_bytes())
}

/// clap_complete's script for `shell`, with the store-NAME function.
pub fn completion_script(shell: CompletionShell) -> String {
    let mut cmd = Cli::command();
    let clap_shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(clap_shell, &mut cmd, "nsec", &mut buf);
    let generated = String::from_utf8_lossy(&buf).into_owned();
    match shell {
        CompletionShell::Bash => format!("{generated}\n{BASH_NAMES}"),
        CompletionShell::Zsh => zsh_script(&generated),
        CompletionShell::Fish => format!("{generated}\n{FISH_NAMES}"),
    }
}

/// bash: a wrapper around clap_complete's `_nsec` that adds store NAMEs,
/// registered in its place.
const BASH_NAMES: &str = r#"# Store NAMEs (show, rm, set, unset, edit, decrypt, rotate): asked from
# `nsec __complete-names`, which prints nothing where no NAME goes.
_nsec_with_names() {
    _nsec "$@"
    local cur="${COMP_WORDS[COMP_CWORD]}"
    [[ "$cur" == -* ]] && return 0
    local name
    while IFS= read -r name; do
        [[ -n "$name" && "$name" == "$cur"* ]] && COMPREPLY+=("$name")
    done < <("${COMP_WORDS[0]}" __complete-names -- "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)
    return 0
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _nsec_with_names -o nosort -o bashdefault -o default nsec
else
    complete -F _nsec_with_names -o bashdefault -o default nsec
fi
"#;

/// The end of clap_complete's zsh script, which calls or registers `_nsec`.
const ZSH_TRAILER: &str = "if [ \"$funcstack[1]\" = \"_nsec\" ]; then";

/// zsh: clap_complete's `_nsec` becomes `_nsec_clap`, and a new `_nsec`
/// adds the store NAMEs before calling it. The script still works both
/// when sourced and as the autoloaded `_nsec` file in `$fpath`.
fn zsh_script(generated: &str) -> String {
    let body = match generated.find(ZSH_TRAILER) {
        Some(at) => &generated[..at],
        None => generated,
    };
    let body = body.replacen("\n_nsec() {", "\n_nsec_clap() {", 1);
    format!("{body}{ZSH_NAMES}")
}

const ZSH_NAMES: &str = r#"# Store NAMEs (show, rm, set, unset, edit, decrypt, rotate): asked from
# `nsec __complete-names`, which prints nothing where no NAME goes.
_nsec() {
    local -a names
    if [[ "$PREFIX" != -* ]]; then
        names=("${(@f)$(${words[1]} __complete-names -- "${(@)words[2,CURRENT-1]}" 2>/dev/null)}")
        names=(${names:#})
    fi
    local ret=1
    if (( ${#names} )); then
        compadd -X 'secret names' -- "${names[@]}" && ret=0
    fi
    _nsec_clap "$@" && ret=0
    return ret
}

if [ "$funcstack[1]" = "_nsec" ]; then
    _nsec "$@"
else
    compdef _nsec nsec
fi
"#;

/// fish: one more completion for nsec whose candidates come from
/// `nsec __complete-names`.
const FISH_NAMES: &str = r#"# Store NAMEs (show, rm, set, unset, edit, decrypt, rotate): asked from
# `nsec __complete-names`, which prints nothing where no NAME goes.
function __fish_nsec_store_names
    set -l words (commandline -opc)
    $words[1] __complete-names -- $words[2..-1] 2>/dev/null
end
complete -c nsec -a '(__fish_nsec_store_names)' -d 'secret'
"#;

/// The version shown in man pages: one line, without the key types.
fn man_command() -> clap::Command {
    Cli::command()
        .version(env!("NSEC_VERSION"))
        .disable_help_subcommand(true)
}

/// Prints nsec(1), or writes every page into `--dir`.
pub fn man(ctx: &Context, args: &ManArgs) -> Result<(), CliError> {
    let Some(dir) = &args.dir else {
        let mut buf = Vec::new();
        render(
            &clap_mangen::Man::new(man_command()),
            &mut buf,
            Path::new("-"),
        )?;
        return write_stdout(&buf);
    };
    let dir = ctx.cwd.join(dir);
    std::fs::create_dir_all(&dir).map_err(|e| CliError::Write(dir.clone(), e))?;
    let mut cmd = man_command();
    cmd.build();
    let mut written = 0;
    write_pages(&cmd, &dir, &mut written)?;
    eprintln!("Wrote {written} man pages to {}", dir.display());
    Ok(())
}

/// Writes the page of `cmd` and of each of its visible subcommands.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut usize) -> Result<(), CliError> {
    let man = clap_mangen::Man::new(cmd.clone()).source(format!("nsec {}", env!("NSEC_VERSION")));
    let path = dir.join(man.get_filename());
    let mut buf = Vec::new();
    render(&man, &mut buf, &path)?;
    let mut file = std::fs::File::create(&path).map_err(|e| CliError::Write(path.clone(), e))?;
    file.write_all(&buf)
        .map_err(|e| CliError::Write(path.clone(), e))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

fn render(man: &clap_mangen::Man, buf: &mut Vec<u8>, path: &Path) -> Result<(), CliError> {
    man.render(buf)
        .map_err(|e| CliError::Write(path.to_path_buf(), e))
}

/// Prints the store NAMEs that fit where the next word goes (every NAME
/// without WORDS). Completion must never disturb the prompt: with no store,
/// or one that cannot be read, it prints nothing and succeeds.
pub fn complete_names(ctx: &Context, args: &CompleteNamesArgs) -> Result<(), CliError> {
    let mut dir = args.store.dir.clone();
    if !args.words.is_empty() {
        match name_slot(&args.words) {
            Some(given_dir) => {
                if given_dir.is_some() {
                    dir = given_dir;
                }
            }
            None => return Ok(()),
        }
    }
    let Ok(repo) = Store::discover(dir.as_deref(), None, &ctx.cwd) else {
        return Ok(());
    };
    let Ok(names) = repo.secret_names() else {
        return Ok(());
    };
    let mut out = String::new();
    for name in names {
        out.push_str(&name);
        out.push('\n');
    }
    write_stdout(out.as_bytes())
}

/// Whether the word after `words` is a store NAME: `Some` (with the
/// `--dir` given among the words, if any) or `None`.
fn name_slot(words: &[String]) -> Option<Option<PathBuf>> {
    let mut root = Cli::command();
    root.build();
    let mut i = 0;
    // nsec's global options, then the subcommand.
    let sub = loop {
        let word = words.get(i)?;
        if let Some(arg) = long_option(&root, word) {
            i += if takes_separate_value(arg, word) {
                2
            } else {
                1
            };
            continue;
        }
        if word.starts_with('-') {
            return None;
        }
        break root.find_subcommand(word)?;
    };
    let (_, slot_id) = NAME_SLOTS.iter().find(|(n, _)| *n == sub.get_name())?;
    i += 1;
    let mut positionals = 0;
    let mut dir = None;
    let mut only_positionals = false;
    while let Some(word) = words.get(i) {
        i += 1;
        if only_positionals || !word.starts_with('-') || word == "-" {
            positionals += 1;
            continue;
        }
        if word == "--" {
            only_positionals = true;
            continue;
        }
        let arg = match word.strip_prefix("--") {
            Some(_) => long_option(sub, word),
            None => word
                .chars()
                .nth(1)
                .and_then(|c| sub.get_arguments().find(|a| a.get_short() == Some(c))),
        };
        let Some(arg) = arg else { continue };
        let value = match word.split_once('=') {
            Some((_, v)) if word.starts_with("--") => Some(v.to_string()),
            _ if takes_separate_value(arg, word) => {
                // bash splits `--dir=d` into `--dir`, `=`, `d`.
                if words.get(i).is_some_and(|w| w == "=") {
                    i += 1;
                }
                i += 1;
                words.get(i - 1).cloned()
            }
            _ => None,
        };
        if arg.get_id() == "dir" {
            dir = value.map(PathBuf::from);
        }
    }
    let positional = sub.get_positionals().nth(positionals).or_else(|| {
        sub.get_positionals()
            .last()
            .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
    })?;
    (positional.get_id() == *slot_id).then_some(dir)
}

/// The long option `--name` or `--name=value` of `cmd`.
fn long_option<'a>(cmd: &'a clap::Command, word: &str) -> Option<&'a clap::Arg> {
    let name = word.strip_prefix("--")?;
    let name = name.split_once('=').map_or(name, |(n, _)| n);
    cmd.get_arguments().find(|a| a.get_long() == Some(name))
}

/// Whether `arg`, written as `word`, takes its value from the next word.
fn takes_separate_value(arg: &clap::Arg, word: &str) -> bool {
    let inline = if word.starts_with("--") {
        word.contains('=')
    } else {
        word.chars().count() > 2
    };
    arg.get_action().takes_values() && !inline
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(words: &[&str]) -> Option<Option<PathBuf>> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        name_slot(&words)
    }

    #[test]
    fn name_slots() {
        assert_eq!(slot(&["show"]), Some(None));
        assert_eq!(slot(&["show", "--field", "x"]), Some(None));
        assert_eq!(slot(&["show", "a"]), None);
        assert_eq!(
            slot(&["show", "--dir", "d"]),
            Some(Some(PathBuf::from("d")))
        );
        assert_eq!(slot(&["show", "--dir=d"]), Some(Some(PathBuf::from("d"))));
        assert_eq!(
            slot(&["show", "--dir", "=", "d"]),
            Some(Some(PathBuf::from("d")))
        );
        assert_eq!(slot(&["--config", "c.yaml", "rm", "-y"]), Some(None));
        assert_eq!(slot(&["--indent=2", "edit"]), Some(None));
        assert_eq!(slot(&["set", "--value-file", "v.json"]), Some(None));
        assert_eq!(slot(&["set", "a"]), None);
        assert_eq!(slot(&["unset", "--idempotent"]), Some(None));
        assert_eq!(
            slot(&["decrypt", "--extract", "[\"a\"]", "-o", "out"]),
            Some(None)
        );
        assert_eq!(slot(&["rotate", "a", "b"]), Some(None));
        assert_eq!(slot(&["list"]), None);
        assert_eq!(slot(&["add"]), None);
        assert_eq!(slot(&["nosuch"]), None);
        assert_eq!(slot(&["-d"]), None);
    }

    #[test]
    fn scripts_carry_the_name_function() {
        let bash = completion_script(CompletionShell::Bash);
        assert!(bash.contains("_nsec() {") && bash.contains("complete -F _nsec_with_names"));
        let zsh = completion_script(CompletionShell::Zsh);
        assert!(zsh.contains("\n_nsec_clap() {") && zsh.contains("__complete-names"));
        assert_eq!(zsh.matches(ZSH_TRAILER).count(), 1);
        let fish = completion_script(CompletionShell::Fish);
        assert!(fish.contains("__fish_nsec_store_names"));
    }
}
