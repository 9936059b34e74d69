//! What the library asks of its caller while it works.
//!
//! nsec never prints or reads a terminal itself. When a job needs a person
//! — a passphrase for an encrypted identity file, a confirmation an age
//! plugin asks for, whether to reopen an edit that no longer parses — or
//! has progress to show, it calls the [`Callbacks`] its caller gave. Every
//! method has a default that asks nobody, so [`NoCallbacks`] (or an
//! implementation that overrides only what it can answer) fits a daemon, a
//! CI step or a test.
//!
//! This is nsec's own trait, not the `age` crate's: an embedding tool does
//! not break when age's major version moves. The bridge to age lives here
//! and is private.

use std::sync::Arc;

use secrecy::SecretString;

use crate::error::Error;

/// Questions, messages and progress from a running job.
///
/// Implementations must be shareable across threads: store-wide jobs work
/// on several files at once, and identities keep their callbacks for later
/// (an encrypted identity file asks for its passphrase only when a file
/// needs it).
pub trait Callbacks: Send + Sync {
    /// A message for the user (for example from an age plugin: "touch your
    /// YubiKey").
    fn display_message(&self, message: &str) {
        let _ = message;
    }

    /// A yes/no question; `yes` and `no` are the answers' labels (`no` may
    /// be absent: then the only choice is to go on). `None` when nobody can
    /// answer.
    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        let _ = (message, yes, no);
        None
    }

    /// A line of non-secret text (for example a PIN prompt's label). `None`
    /// when nobody can answer.
    fn request_public_string(&self, description: &str) -> Option<String> {
        let _ = description;
        None
    }

    /// A secret: the passphrase of an encrypted identity file, a plugin's
    /// PIN. `None` when nobody can answer; the identity is then skipped.
    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        let _ = description;
        None
    }

    /// An edit session's text no longer parses (`error` says where):
    /// `true` opens the editor again on the same text, `false` gives up and
    /// leaves the file as it was.
    fn reopen_edit(&self, error: &Error) -> bool {
        let _ = error;
        false
    }

    /// Checked after the editor exits: was the user's interrupt (Ctrl-C)
    /// received while it ran? `true` abandons the edit.
    fn interrupted(&self) -> bool {
        false
    }

    /// A store-wide job (rotate, revoke, re-keying after a host change)
    /// moved on.
    fn progress(&self, event: Progress<'_>) {
        let _ = event;
    }
}

/// A step of a store-wide job, for [`Callbacks::progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A file is re-encrypted (not yet in place: the job is all or nothing).
    FilePrepared {
        /// How many files are done, this one included.
        done: usize,
        /// How many files the job has.
        total: usize,
        /// The file's secret name.
        name: &'a str,
    },
}

/// Callbacks that ask nobody and show nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCallbacks;

impl Callbacks for NoCallbacks {}

impl<T: Callbacks + ?Sized> Callbacks for &T {
    fn display_message(&self, message: &str) {
        (**self).display_message(message)
    }
    fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
        (**self).confirm(message, yes, no)
    }
    fn request_public_string(&self, description: &str) -> Option<String> {
        (**self).request_public_string(description)
    }
    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        (**self).request_passphrase(description)
    }
    fn reopen_edit(&self, error: &Error) -> bool {
        (**self).reopen_edit(error)
    }
    fn interrupted(&self) -> bool {
        (**self).interrupted()
    }
    fn progress(&self, event: Progress<'_>) {
        (**self).progress(event)
    }
}

/// nsec's callbacks as the `age` crate wants them (cloneable, `'static`).
#[derive(Clone)]
pub(crate) struct AgeCallbacks(Arc<dyn Callbacks>);

impl AgeCallbacks {
    pub(crate) fn new(callbacks: impl Callbacks + 'static) -> AgeCallbacks {
        AgeCallbacks(Arc::new(callbacks))
    }
}

impl age::Callbacks for AgeCallbacks {
    fn display_message(&self, message: &str) {
        self.0.display_message(message)
    }
    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        self.0.confirm(message, yes_string, no_string)
    }
    fn request_public_string(&self, description: &str) -> Option<String> {
        self.0.request_public_string(description)
    }
    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        self.0.request_passphrase(description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bridge hands age's questions to nsec's callbacks unchanged.
    #[test]
    fn age_questions_reach_the_callbacks() {
        struct Answers;
        impl Callbacks for Answers {
            fn confirm(&self, message: &str, yes: &str, no: Option<&str>) -> Option<bool> {
                Some(message == "go?" && yes == "y" && no == Some("n"))
            }
            fn request_public_string(&self, description: &str) -> Option<String> {
                Some(format!("answer to {description}"))
            }
        }
        let bridge = AgeCallbacks::new(Answers);
        assert_eq!(
            age::Callbacks::confirm(&bridge, "go?", "y", Some("n")),
            Some(true)
        );
        assert_eq!(
            age::Callbacks::confirm(&bridge, "stop?", "y", Some("n")),
            Some(false)
        );
        assert_eq!(
            age::Callbacks::request_public_string(&bridge, "pin label").as_deref(),
            Some("answer to pin label")
        );
        assert!(age::Callbacks::request_passphrase(&bridge, "pass").is_none());
        let none = AgeCallbacks::new(NoCallbacks);
        assert_eq!(age::Callbacks::confirm(&none, "go?", "y", None), None);
    }
}
