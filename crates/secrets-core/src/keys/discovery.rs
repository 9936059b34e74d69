//! Where age identities come from.
//!
//! sops collects identities from **every** source below, in this order, and
//! decrypts with whichever one matches (spec §12):
//!
//! 1. `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, then `~/.ssh/id_ed25519` and
//!    `~/.ssh/id_rsa` if they exist (OpenSSH private keys; sops 3.11 does
//!    *not* also derive the `ssh-to-age` X25519 identity from an ed25519
//!    key — checked with the real binary — so neither do we);
//! 2. `SOPS_AGE_KEY`: identity lines;
//! 3. `SOPS_AGE_KEY_FILE`: an identity file;
//! 4. `SOPS_AGE_KEY_CMD`: a command (split shell-style, run without a shell)
//!    whose standard output is an identity file;
//! 5. `$XDG_CONFIG_HOME/sops/age/keys.txt` or `~/.config/sops/age/keys.txt`,
//!    read even when the variables above are set.
//!
//! A source that fails (a bad line, an unreadable file, a failing command)
//! is recorded as a [`LoadProblem`] and the other sources still count.
//! Places that yielded no keys are remembered too, so the "no key could
//! decrypt" error can list them the way sops does
//! ([`crate::KeyReport`]).
//!
//! The environment is read through the [`Env`] trait so tests need no real
//! environment. What a source's contents become, and when passphrases (for
//! passphrase-protected SSH keys and passphrase-encrypted identity files)
//! are asked for, is [`super::identities`]' job.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::callbacks::{AgeCallbacks, Callbacks};
use zeroize::Zeroizing;

use super::groups::DecryptionOrder;

// The key ring moved to `keys::identities`; these paths keep working.
pub use super::identities::{Identities, LoadProblem};

/// `SOPS_AGE_SSH_PRIVATE_KEY_FILE`: path of an OpenSSH private key.
pub(crate) const SSH_PRIVATE_KEY_FILE_VAR: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
/// `SOPS_AGE_KEY`: identities, one per line.
pub(crate) const KEY_VAR: &str = "SOPS_AGE_KEY";
/// `SOPS_AGE_KEY_FILE`: path of an identity file.
pub(crate) const KEY_FILE_VAR: &str = "SOPS_AGE_KEY_FILE";
/// `SOPS_AGE_KEY_CMD`: command printing an identity file.
pub(crate) const KEY_CMD_VAR: &str = "SOPS_AGE_KEY_CMD";

/// Identity sources larger than this are refused (age's own limit).
const SIZE_LIMIT: u64 = 1 << 24;

/// The process environment as identity discovery needs it.
pub trait Env {
    /// The variable's value; `Some("")` when it is set but empty (sops
    /// distinguishes set from unset).
    fn var(&self, name: &str) -> Option<String>;
    /// The user's home directory (`$HOME`, as Go's `os.UserHomeDir`).
    fn home_dir(&self) -> Option<PathBuf>;
}

/// The real environment of this process.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    fn home_dir(&self) -> Option<PathBuf> {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    }
}

/// Loads identities from every source sops 3.11 reads (see the module docs).
///
/// Never fails: problems are recorded in the result. `callbacks` is used for
/// passphrase prompts and age plugins.
pub fn discover(env: &dyn Env, callbacks: impl Callbacks + 'static) -> Identities {
    let callbacks = AgeCallbacks::new(callbacks);
    let mut found = Identities::new();

    // The order keys are tried in. A bad value (a type named twice) is a
    // problem the failure report shows; the CLI refuses it up front, as
    // sops does.
    if let Some(text) = env.var(DecryptionOrder::VAR) {
        match DecryptionOrder::parse(&text) {
            Ok(order) => found.set_decryption_order(order),
            Err(e) => found.note_problem(DecryptionOrder::VAR, e.to_string()),
        }
    }

    // 1. SSH keys.
    match env.var(SSH_PRIVATE_KEY_FILE_VAR) {
        Some(path) => add_ssh_key_file(&mut found, Path::new(&path), callbacks.clone()),
        None => found.note_unused(SSH_PRIVATE_KEY_FILE_VAR),
    }
    if let Some(home) = env.home_dir() {
        for name in ["id_ed25519", "id_rsa"] {
            let path = home.join(".ssh").join(name);
            if path.exists() {
                add_ssh_key_file(&mut found, &path, callbacks.clone());
            } else {
                found.note_unused(path.display().to_string());
            }
        }
    }

    // 2.–4. Identity files given through the environment. They are read
    // first and parsed afterwards, as sops does, so that whether the
    // default file's absence counts as an unused location depends on
    // whether anything else was found.
    let mut sources: Vec<(String, Zeroizing<Vec<u8>>)> = Vec::new();
    match env.var(KEY_VAR) {
        Some(text) => sources.push((KEY_VAR.to_string(), Zeroizing::new(text.into_bytes()))),
        None => found.note_unused(KEY_VAR),
    }
    match env.var(KEY_FILE_VAR) {
        Some(path) => match read_limited(Path::new(&path)) {
            // Name the file too: "SOPS_AGE_KEY_FILE" alone does not say
            // which file was wrong.
            Ok(contents) => sources.push((format!("{KEY_FILE_VAR} ({path})"), contents)),
            Err(e) => found.note_problem(
                KEY_FILE_VAR,
                format!("failed to open {KEY_FILE_VAR} file {path}: {e}"),
            ),
        },
        None => found.note_unused(KEY_FILE_VAR),
    }
    match env.var(KEY_CMD_VAR) {
        Some(command) => match run_key_command(&command) {
            Ok(output) => sources.push((KEY_CMD_VAR.to_string(), output)),
            Err(reason) => found.note_problem(KEY_CMD_VAR, reason),
        },
        None => found.note_unused(KEY_CMD_VAR),
    }

    // 5. The default keys file.
    match user_config_dir(env) {
        Ok(dir) => {
            let path = dir.join("sops").join("age").join("keys.txt");
            let location = path.display().to_string();
            match read_limited(&path) {
                Ok(contents) => sources.push((location, contents)),
                // sops lists the missing default file only when no other
                // source was given; nsec always says every place it looked.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => found.note_unused(location),
                Err(e) => found.note_problem(location, format!("failed to open file: {e}")),
            }
        }
        Err(reason) => {
            if sources.is_empty() && found.is_empty() {
                found.note_problem(
                    "default keys file",
                    format!("user config directory could not be determined: {reason}"),
                );
            }
        }
    }

    for (location, contents) in &sources {
        found.add_source_with(location, contents, callbacks.clone());
    }
    found
}

/// The directory holding `sops/age/keys.txt`, as Go's `os.UserConfigDir`
/// (with sops' macOS exception for `XDG_CONFIG_HOME`).
fn user_config_dir(env: &dyn Env) -> Result<PathBuf, String> {
    let xdg = env.var("XDG_CONFIG_HOME").filter(|d| !d.is_empty());
    if cfg!(target_os = "macos") {
        if let Some(dir) = xdg {
            return Ok(PathBuf::from(dir));
        }
        return env
            .home_dir()
            .map(|h| h.join("Library").join("Application Support"))
            .ok_or_else(|| "$HOME is not defined".to_string());
    }
    match xdg {
        Some(dir) if Path::new(&dir).is_absolute() => Ok(PathBuf::from(dir)),
        Some(_) => Err("path in $XDG_CONFIG_HOME is relative".to_string()),
        None => env
            .home_dir()
            .map(|h| h.join(".config"))
            .ok_or_else(|| "neither $XDG_CONFIG_HOME nor $HOME are defined".to_string()),
    }
}

/// Reads a whole file, refusing anything larger than [`SIZE_LIMIT`].
fn read_limited(path: &Path) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // A FIFO named like an identity file must not block nsec.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        nix::fcntl::OFlag::O_NONBLOCK.bits(),
    );
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file",
                path.display(),
                crate::fsio::file_kind(&meta)
            ),
        ));
    }
    // Sized up front so that the buffer never grows: a grown buffer would
    // leave a copy of the keys in freed memory, unwiped.
    let len = file.metadata().map_or(0, |m| m.len()).min(SIZE_LIMIT) as usize;
    let mut contents = Zeroizing::new(Vec::with_capacity(len + 1));
    file.take(SIZE_LIMIT + 1).read_to_end(&mut contents)?;
    if contents.len() as u64 > SIZE_LIMIT {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "file too long",
        ));
    }
    Ok(contents)
}

/// Runs `SOPS_AGE_KEY_CMD` without a shell and returns its standard output.
fn run_key_command(command: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let words = split_shell_words(command)
        .map_err(|e| format!("failed to parse command {command} from {KEY_CMD_VAR}: {e}"))?;
    let (program, args) = words
        .split_first()
        .ok_or_else(|| format!("failed to parse command {command} from {KEY_CMD_VAR}: empty"))?;
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("failed to execute command {command} from {KEY_CMD_VAR}: {e}"))?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(format!(
            "failed to execute command {command} from {KEY_CMD_VAR}: {}",
            output.status
        ));
    }
    Ok(stdout)
}

/// Splits a command line into words the way sops' shlex does: blanks
/// separate words, `'…'` is literal, `"…"` allows `\"`, `\\`, `\$` and
/// `` \` `` escapes, a backslash outside quotes escapes the next character,
/// and `#` at the start of a word comments out the rest of the line.
pub(crate) fn split_shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unclosed single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unclosed double quote".to_string()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unclosed double quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("trailing backslash".to_string()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Loads an OpenSSH private key file, recording a problem if it is bad.
fn add_ssh_key_file(found: &mut Identities, path: &Path, callbacks: AgeCallbacks) {
    let location = path.display().to_string();
    let contents = match read_limited(path) {
        Ok(c) => c,
        Err(e) => {
            found.note_problem(location, format!("failed to open file: {e}"));
            return;
        }
    };
    found.add_ssh_source(location, &contents, callbacks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY_A_PUB: &str = "age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle";

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/vectors");

    /// A map-backed environment.
    #[derive(Default)]
    struct MapEnv {
        vars: HashMap<String, String>,
        home: Option<PathBuf>,
    }

    impl MapEnv {
        fn home(dir: &Path) -> MapEnv {
            MapEnv {
                vars: HashMap::new(),
                home: Some(dir.to_path_buf()),
            }
        }
        fn set(mut self, k: &str, v: impl Into<String>) -> MapEnv {
            self.vars.insert(k.to_string(), v.into());
            self
        }
    }

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.vars.get(name).cloned()
        }
        fn home_dir(&self) -> Option<PathBuf> {
            self.home.clone()
        }
    }

    fn key_text(name: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/keys/{name}")).unwrap()
    }

    /// The single AGE-SECRET-KEY line of a vector key file.
    fn key_line(name: &str) -> String {
        key_text(name)
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .unwrap()
            .to_string()
    }

    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn nothing_configured_lists_every_location() {
        let home = tempfile::tempdir().unwrap();
        let env = MapEnv::home(home.path());
        let ids = discover(&env, crate::NoCallbacks);
        assert!(ids.is_empty());
        assert!(ids.problems().is_empty());
        let h = home.path().display();
        assert_eq!(
            strs(ids.unused_locations()),
            vec![
                "SOPS_AGE_SSH_PRIVATE_KEY_FILE".to_string(),
                format!("{h}/.ssh/id_ed25519"),
                format!("{h}/.ssh/id_rsa"),
                "SOPS_AGE_KEY".to_string(),
                "SOPS_AGE_KEY_FILE".to_string(),
                "SOPS_AGE_KEY_CMD".to_string(),
                format!("{h}/.config/sops/age/keys.txt"),
            ]
        );
        assert_eq!(
            ids.key_report().to_string(),
            format!(
                "No identities were loaded. Did not find keys in locations 'SOPS_AGE_SSH_PRIVATE_KEY_FILE', \
                 '{h}/.ssh/id_ed25519', '{h}/.ssh/id_rsa', 'SOPS_AGE_KEY', \
                 'SOPS_AGE_KEY_FILE', 'SOPS_AGE_KEY_CMD', and '{h}/.config/sops/age/keys.txt'."
            )
        );
    }

    #[test]
    fn each_source_alone() {
        let home = tempfile::tempdir().unwrap();
        let key_file = format!("{VECTORS}/keys/age-test-key-A.txt");

        let ids = discover(
            &MapEnv::home(home.path()).set(KEY_VAR, key_line("age-test-key-B.txt")),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 1);
        assert!(!ids.unused_locations().iter().any(|l| l == KEY_VAR));

        let ids = discover(
            &MapEnv::home(home.path()).set(KEY_FILE_VAR, key_file.clone()),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 1);
        assert!(ids.problems().is_empty());
        // The missing default file is listed even though something was
        // found (sops would leave it out; nsec names every place it looked).
        assert!(ids
            .unused_locations()
            .iter()
            .any(|l| l.ends_with("keys.txt")));
        assert_eq!(ids.loaded_locations().len(), 1);
        assert!(ids.loaded_locations()[0].starts_with(KEY_FILE_VAR));

        let ids = discover(
            &MapEnv::home(home.path()).set(KEY_CMD_VAR, format!("cat '{key_file}'")),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 1, "{:?}", ids.problems());

        let ids = discover(
            &MapEnv::home(home.path()).set(
                SSH_PRIVATE_KEY_FILE_VAR,
                format!("{VECTORS}/keys/ssh_ed25519"),
            ),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 1, "{:?}", ids.problems());
    }

    #[test]
    fn default_file_xdg_and_home_config() {
        let home = tempfile::tempdir().unwrap();
        let xdg = tempfile::tempdir().unwrap();
        let in_home = home.path().join(".config/sops/age");
        std::fs::create_dir_all(&in_home).unwrap();
        std::fs::write(in_home.join("keys.txt"), key_text("age-test-key-A.txt")).unwrap();
        let ids = discover(&MapEnv::home(home.path()), crate::NoCallbacks);
        assert_eq!(ids.len(), 1);

        // With XDG_CONFIG_HOME set, ~/.config is not read.
        let env =
            MapEnv::home(home.path()).set("XDG_CONFIG_HOME", xdg.path().display().to_string());
        let ids = discover(&env, crate::NoCallbacks);
        assert_eq!(ids.len(), 0);
        let expected = format!("{}/sops/age/keys.txt", xdg.path().display());
        assert_eq!(ids.unused_locations().last().unwrap(), &expected);

        let in_xdg = xdg.path().join("sops/age");
        std::fs::create_dir_all(&in_xdg).unwrap();
        std::fs::write(in_xdg.join("keys.txt"), key_text("age-test-key-B.txt")).unwrap();
        let ids = discover(&env, crate::NoCallbacks);
        assert_eq!(ids.len(), 1);
    }

    #[test]
    fn all_sources_combined_and_bad_line_isolated() {
        let home = tempfile::tempdir().unwrap();
        let cfg = home.path().join(".config/sops/age");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("keys.txt"), key_text("age-test-key-C.txt")).unwrap();
        let bad = home.path().join("bad.txt");
        std::fs::write(
            &bad,
            format!(
                "# comment\n\n{}\n  {}\n",
                key_line("age-test-key-A.txt"),
                "AGE-SECRET-KEY-1SECRETSTUFF"
            ),
        )
        .unwrap();
        let env = MapEnv::home(home.path())
            .set(
                SSH_PRIVATE_KEY_FILE_VAR,
                format!("{VECTORS}/keys/ssh_ed25519"),
            )
            .set(KEY_VAR, format!("{}\r\n", key_line("age-test-key-B.txt")))
            .set(KEY_FILE_VAR, bad.display().to_string())
            .set(
                KEY_CMD_VAR,
                format!("cat {VECTORS}/keys/age-test-key-A.txt"),
            );
        let ids = discover(&env, crate::NoCallbacks);
        // ssh + B + A (cmd) + C (default); the bad file adds nothing.
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.problems().len(), 1);
        let problem = &ids.problems()[0];
        assert!(
            problem.location.starts_with(KEY_FILE_VAR) && problem.location.ends_with("bad.txt)")
        );
        assert!(problem.reason.contains("line 4"), "{}", problem.reason);
        assert!(!problem.reason.contains("SECRETSTUFF"));
        assert!(ids
            .key_report()
            .to_string()
            .contains(". Errors while loading age identities: SOPS_AGE_KEY_FILE ("));
        let h = home.path().display();
        assert_eq!(
            strs(ids.unused_locations()),
            vec![format!("{h}/.ssh/id_ed25519"), format!("{h}/.ssh/id_rsa")]
        );
    }

    #[test]
    fn missing_key_file_and_failing_command_are_problems() {
        let home = tempfile::tempdir().unwrap();
        let env = MapEnv::home(home.path())
            .set(KEY_FILE_VAR, "/nonexistent/keys.txt")
            .set(KEY_CMD_VAR, "false");
        let ids = discover(&env, crate::NoCallbacks);
        assert!(ids.is_empty());
        let locations: Vec<&str> = ids.problems().iter().map(|p| p.location.as_str()).collect();
        assert_eq!(locations, vec![KEY_FILE_VAR, KEY_CMD_VAR]);
        let cmd = discover(
            &MapEnv::home(home.path()).set(KEY_CMD_VAR, "'unterminated"),
            crate::NoCallbacks,
        );
        assert!(cmd.problems()[0].reason.contains("failed to parse command"));
    }

    #[test]
    fn home_ssh_keys_are_read() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
        std::fs::copy(
            format!("{VECTORS}/keys/ssh_ed25519"),
            home.path().join(".ssh/id_ed25519"),
        )
        .unwrap();
        let ids = discover(&MapEnv::home(home.path()), crate::NoCallbacks);
        assert_eq!(ids.len(), 1);
        let h = home.path().display();
        assert!(ids.unused_locations().contains(&format!("{h}/.ssh/id_rsa")));
        // The default keys file is listed too: every place looked at is.
        assert!(ids
            .unused_locations()
            .iter()
            .any(|l| l.ends_with("keys.txt")));
        assert_eq!(ids.loaded_locations(), [format!("{h}/.ssh/id_ed25519")]);
    }

    /// Answers every passphrase request with a fixed passphrase and counts
    /// the requests.
    #[derive(Clone)]
    struct Passphrase {
        answer: Option<&'static str>,
        asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Passphrase {
        fn new(answer: Option<&'static str>) -> Passphrase {
            Passphrase {
                answer,
                asked: Default::default(),
            }
        }
        fn asked(&self) -> usize {
            self.asked.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Callbacks for Passphrase {
        fn display_message(&self, _: &str) {}
        fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
            None
        }
        fn request_public_string(&self, _: &str) -> Option<String> {
            None
        }
        fn request_passphrase(&self, _: &str) -> Option<age::secrecy::SecretString> {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.answer.map(age::secrecy::SecretString::from)
        }
    }

    fn go_age_encrypt(args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut child = Command::new(crate::test_tools::tool("age"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the Go `age` binary must be installed");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn passphrase_protected_ssh_key_prompts_once_and_only_when_needed() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id_ed25519");
        let status = Command::new(crate::test_tools::tool("ssh-keygen"))
            .args(["-q", "-t", "ed25519", "-N", "hunter2", "-C", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen must be installed");
        assert!(status.success());
        let pub_path = format!("{}.pub", key.display());
        let to_ssh = go_age_encrypt(&["-a", "-R", &pub_path], b"locked");
        let to_a = go_age_encrypt(&["-a", "-r", KEY_A_PUB], b"other");
        let env = MapEnv::home(dir.path()).set(SSH_PRIVATE_KEY_FILE_VAR, key.display().to_string());

        let callbacks = Passphrase::new(Some("hunter2"));
        let ids = discover(&env, callbacks.clone());
        assert_eq!(ids.len(), 1);
        assert_eq!(callbacks.asked(), 0, "no prompt while loading");
        // A block for another key does not prompt.
        assert!(crate::keys::age::unwrap(&ids, &to_a).unwrap().is_none());
        assert_eq!(callbacks.asked(), 0);
        for _ in 0..2 {
            let out = crate::keys::age::unwrap(&ids, &to_ssh).unwrap().unwrap();
            assert_eq!(&out[..], b"locked");
        }
        assert_eq!(callbacks.asked(), 1, "the passphrase is asked once");

        // No way to ask: the key simply does not match.
        let ids = discover(&env, Passphrase::new(None));
        assert!(crate::keys::age::unwrap(&ids, &to_ssh).unwrap().is_none());
        // A wrong passphrase is an error.
        let ids = discover(&env, Passphrase::new(Some("wrong")));
        assert!(crate::keys::age::unwrap(&ids, &to_ssh).is_err());
    }

    #[test]
    fn passphrase_encrypted_identity_file() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let encryptor =
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("open sesame"));
        let mut armored = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(key_text("age-test-key-A.txt").as_bytes())
            .unwrap();
        w.finish().unwrap().finish().unwrap();
        let path = dir.path().join("keys.age");
        std::fs::write(&path, &armored).unwrap();
        let env = MapEnv::home(dir.path()).set(KEY_FILE_VAR, path.display().to_string());
        let to_a = go_age_encrypt(&["-a", "-r", KEY_A_PUB], b"via encrypted file");

        let callbacks = Passphrase::new(Some("open sesame"));
        let ids = discover(&env, callbacks.clone());
        assert_eq!(ids.len(), 1);
        assert!(ids.problems().is_empty());
        let out = crate::keys::age::unwrap(&ids, &to_a).unwrap().unwrap();
        assert_eq!(&out[..], b"via encrypted file");
        crate::keys::age::unwrap(&ids, &to_a).unwrap().unwrap();
        assert_eq!(callbacks.asked(), 1);

        let ids = discover(&env, Passphrase::new(Some("wrong")));
        assert!(crate::keys::age::unwrap(&ids, &to_a).is_err());
    }

    /// age 1.3's post-quantum identities load from every source, beside
    /// X25519 ones in the same file, and from passphrase-encrypted files.
    #[test]
    fn post_quantum_identities_in_every_source() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let pq_text = key_text("pq-spec-example.txt");
        let pq_public = pq_text
            .lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .unwrap();
        let pq_line = pq_text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-PQ-1"))
            .unwrap();
        let to_pq = crate::keys::age::wrap(
            &crate::keys::age::AgeRecipient::parse(pq_public).unwrap(),
            b"for the pq key",
        )
        .unwrap();
        let to_a = go_age_encrypt(&["-a", "-r", KEY_A_PUB], b"for key A");

        // One file with both kinds (and CR LF line ends, indentation).
        let both = format!(
            "{}\r\n  {pq_line}  \r\n",
            key_text("age-test-key-A.txt").trim_end()
        );
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, &both).unwrap();
        let ids = discover(
            &MapEnv::home(dir.path()).set(KEY_FILE_VAR, path.display().to_string()),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 2, "{:?}", ids.problems());
        let open = |ids: &Identities, block: &str| {
            crate::keys::age::unwrap(ids, block)
                .unwrap()
                .map(|p| p.to_vec())
        };
        assert_eq!(open(&ids, &to_pq).unwrap(), b"for the pq key");
        assert_eq!(open(&ids, &to_a).unwrap(), b"for key A");

        // SOPS_AGE_KEY with the PQ line alone: only the PQ block opens.
        let ids = discover(
            &MapEnv::home(dir.path()).set(KEY_VAR, pq_line),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 1);
        assert!(open(&ids, &to_pq).is_some());
        assert!(open(&ids, &to_a).is_none());

        // A passphrase-encrypted identity file holding the PQ key.
        let encryptor =
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("pq pass"));
        let mut armored = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = encryptor.wrap_output(armor).unwrap();
        w.write_all(pq_text.as_bytes()).unwrap();
        w.finish().unwrap().finish().unwrap();
        let locked = dir.path().join("keys.age");
        std::fs::write(&locked, &armored).unwrap();
        let callbacks = Passphrase::new(Some("pq pass"));
        let ids = discover(
            &MapEnv::home(dir.path()).set(KEY_FILE_VAR, locked.display().to_string()),
            callbacks.clone(),
        );
        assert_eq!(open(&ids, &to_pq).unwrap(), b"for the pq key");
        assert_eq!(callbacks.asked(), 1);

        // A bad PQ line fails its source, naming the line, not the key.
        let broken = pq_line.replace("XX76", "XX77");
        let ids = discover(
            &MapEnv::home(dir.path())
                .set(KEY_VAR, format!("# one\n{broken}\n"))
                .set(KEY_FILE_VAR, path.display().to_string()),
            crate::NoCallbacks,
        );
        assert_eq!(ids.len(), 2, "the good file still counts");
        assert_eq!(ids.problems().len(), 1);
        let problem = ids.problems()[0].to_string();
        assert!(problem.contains("line 2") && problem.contains("post-quantum"));
        assert!(!problem.contains(&broken[19..40]), "{problem}");
        assert!(!format!("{ids:?}").contains(&pq_line[19..40]));
    }

    /// sops 3.11 lists a set-but-empty source after the unset ones (checked
    /// with the real binary: `SOPS_AGE_KEY=""` gives '…', 'SOPS_AGE_KEY_FILE',
    /// 'SOPS_AGE_KEY_CMD', and 'SOPS_AGE_KEY'), and then does not list the
    /// missing default file.
    #[test]
    fn empty_sources_are_unused_locations() {
        let home = tempfile::tempdir().unwrap();
        let comments = home.path().join("comments.txt");
        std::fs::write(&comments, "# only comments\n\n").unwrap();
        let env = MapEnv::home(home.path())
            .set(KEY_VAR, "")
            .set(KEY_FILE_VAR, comments.display().to_string());
        let ids = discover(&env, crate::NoCallbacks);
        assert!(ids.is_empty());
        assert!(ids.problems().is_empty(), "{:?}", ids.problems());
        let h = home.path().display();
        assert_eq!(
            strs(ids.unused_locations()),
            vec![
                SSH_PRIVATE_KEY_FILE_VAR.to_string(),
                format!("{h}/.ssh/id_ed25519"),
                format!("{h}/.ssh/id_rsa"),
                KEY_CMD_VAR.to_string(),
                format!("{h}/.config/sops/age/keys.txt"),
                KEY_VAR.to_string(),
                format!("{KEY_FILE_VAR} ({})", comments.display()),
            ]
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            split_shell_words(r#"cat "a b" 'c d' e\ f "x\"y" # tail"#).unwrap(),
            vec!["cat", "a b", "c d", "e f", "x\"y"]
        );
        assert!(split_shell_words("'open").is_err());
        assert!(split_shell_words("").unwrap().is_empty());
    }

    #[test]
    fn debug_hides_keys() {
        let ids = discover(
            &MapEnv::default().set(KEY_VAR, key_line("age-test-key-A.txt")),
            crate::NoCallbacks,
        );
        let shown = format!("{ids:?}");
        assert!(shown.contains("count: 1"));
        assert!(!shown.contains("AGE-SECRET-KEY"));
    }
}
