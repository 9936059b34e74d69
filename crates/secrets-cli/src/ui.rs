//! Terminal interaction: passphrase prompts and confirmations.

use std::io::{BufRead, IsTerminal, Write};

use secrecy::SecretString;

/// Prompts on the controlling terminal, for the library's callbacks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Terminal;

impl secrets_core::Callbacks for Terminal {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        let choices = match no {
            Some(no) => format!("[{yes}/{no}]"),
            None => format!("[{yes}]"),
        };
        let answer = ask_line(&format!("{message} {choices} "))?;
        Some(answer.trim().eq_ignore_ascii_case(yes) || (no.is_none() && answer.trim().is_empty()))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        ask_line(&format!("{description} "))
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        rpassword::prompt_password(format!("{description}: "))
            .ok()
            .map(SecretString::from)
    }
}

/// Reads one line from the terminal (or stdin when it is not one).
pub fn ask_line(prompt: &str) -> Option<String> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_string()),
    }
}

/// Asks a yes/no question; `false` without a terminal.
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    matches!(
        ask_line(&format!("{question} [y/N] ")).as_deref(),
        Some("y" | "Y" | "yes")
    )
}
