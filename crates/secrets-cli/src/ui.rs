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
        read_hidden(&format!("{description}: "))
            .ok()
            .map(|p| SecretString::from(p.to_string()))
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

/// Why a hidden read gave no value.
#[derive(Debug)]
pub enum HiddenReadError {
    /// Ctrl-C or Ctrl-D at the prompt.
    Interrupted,
    /// No terminal to ask on, or it failed.
    NoTerminal(std::io::Error),
}

/// Reads a line from the terminal without echoing it.
///
/// The terminal is put in a mode where Ctrl-C arrives as a character
/// instead of a signal, so that whatever happens the terminal's echo is
/// restored before returning: a killed password prompt would otherwise
/// leave the user's shell without echo.
pub fn read_hidden(prompt: &str) -> Result<zeroize::Zeroizing<String>, HiddenReadError> {
    use std::io::Read;
    use std::os::fd::AsRawFd;

    use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};

    /// Puts the saved settings back when dropped, on every path.
    struct Restore<'a> {
        fd: i32,
        saved: &'a termios::Termios,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = termios::tcsetattr(self.fd, SetArg::TCSANOW, self.saved);
        }
    }

    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(HiddenReadError::NoTerminal)?;
    let fd = tty.as_raw_fd();
    let saved = termios::tcgetattr(fd).map_err(|e| HiddenReadError::NoTerminal(e.into()))?;
    let mut quiet = saved.clone();
    quiet
        .local_flags
        .remove(LocalFlags::ECHO | LocalFlags::ICANON | LocalFlags::ISIG | LocalFlags::IEXTEN);
    quiet.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    quiet.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    let _ = tty.write_all(prompt.as_bytes());
    let _ = tty.flush();
    termios::tcsetattr(fd, SetArg::TCSANOW, &quiet)
        .map_err(|e| HiddenReadError::NoTerminal(e.into()))?;
    let restore = Restore { fd, saved: &saved };
    let mut line = zeroize::Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    let result = loop {
        match tty.read(&mut byte) {
            Ok(0) => break Err(HiddenReadError::Interrupted),
            Ok(_) => match byte[0] {
                b'\n' | b'\r' => break Ok(()),
                // Ctrl-C, Ctrl-D, Ctrl-\\: give up without a value.
                0x03 | 0x04 | 0x1c => break Err(HiddenReadError::Interrupted),
                // Backspace and DEL remove the last character (a whole
                // UTF-8 sequence).
                0x08 | 0x7f => {
                    while let Some(b) = line.pop() {
                        if b & 0xC0 != 0x80 {
                            break;
                        }
                    }
                }
                // Ctrl-U clears the line.
                0x15 => line.clear(),
                b => line.push(b),
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(HiddenReadError::NoTerminal(e)),
        }
    };
    drop(restore);
    let _ = tty.write_all(b"\n");
    result?;
    let text = String::from_utf8(std::mem::take(&mut *line)).map_err(|e| {
        let mut bytes = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut bytes);
        HiddenReadError::NoTerminal(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the value is not UTF-8",
        ))
    })?;
    Ok(zeroize::Zeroizing::new(text))
}
