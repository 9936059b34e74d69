//! `nsec revoke`: remove a host or person from `.sops.yaml` and re-key,
//! with fresh data keys, every file they could read.
//!
//! The config is edited as text so that comments, anchors and layout stay,
//! by `config_edit::remove_recipient`, the same edit as
//! `nsec host rm`: the line defining the recipient (`- &laptop age1…`,
//! `- age1… # laptop`) goes, as do alias references (`- *laptop`) and the
//! recipient inside comma-separated `age:` strings; a rule is never left
//! without recipients.
//!
//! The new config and the re-keyed files are written as one journaled
//! change (`rotate_store::run_journaled`): the files first, `.sops.yaml`
//! last, so a crash never leaves a config that says the recipient is gone
//! while a file it lists still opens for them; the next `nsec revoke` (or
//! `rotate`) completes the change.

use std::path::PathBuf;

use crate::callbacks::Callbacks;
use crate::error::{Error, Result};
use crate::file::SopsFile;
use crate::format::Format;
use crate::keys::discovery::Identities;
use crate::ops::config_edit;
use crate::ops::rotate_store::{self, ConfigChange, Job, Plan, Selection};
use crate::repo::Store;
use crate::rules::Config;

/// Who is revoked and what they could read.
#[derive(Clone, Debug)]
pub struct RevokePlan {
    /// The name given, or the recipient's name from the config.
    pub name: Option<String>,
    /// The recipient (public key) removed.
    pub recipient: String,
    /// The config text as read.
    pub old_config: String,
    /// The config text after removal.
    pub new_config: String,
    /// The secrets they could read (names), to change at their source.
    pub readable: Vec<String>,
    /// The rotation to run after the config is written.
    pub files: Vec<PathBuf>,
}

/// Resolves `who` (a recipient name from `.sops.yaml`, or the recipient
/// itself) and works out the new config and the files to re-key.
pub fn plan(repo: &Store, who: &str) -> Result<RevokePlan> {
    let config = &repo.config;
    let (recipient, name) = if who.starts_with("age1") || who.starts_with("ssh-") {
        (who.to_string(), config.name_of(who).map(str::to_string))
    } else {
        let found: Vec<&String> = config
            .recipient_names
            .iter()
            .filter(|(_, n)| n.as_str() == who)
            .map(|(r, _)| r)
            .collect();
        match found.as_slice() {
            [r] => ((*r).clone(), Some(who.to_string())),
            [] => {
                return Err(Error::InvalidOption(format!(
                    "no recipient named `{who}` in {} (give the age1… key, or name it with an anchor `- &{who} age1…`)",
                    config.path.display()
                )))
            }
            _ => {
                return Err(Error::InvalidOption(format!(
                    "`{who}` names several recipients in {}; give the age1… key",
                    config.path.display()
                )))
            }
        }
    };
    let text = String::from_utf8(crate::fsio::read_small(&config.path)?).map_err(|e| {
        Error::io(
            &config.path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    // Checks that the new config loads and keeps a recipient in every rule.
    let new_config = config_edit::remove_recipient(&config.path, &text, &recipient)?;
    if new_config == text {
        return Err(Error::InvalidOption(format!(
            "{recipient} does not appear in {}",
            config.path.display()
        )));
    }
    let mut readable = Vec::new();
    let mut files = Vec::new();
    for f in repo.secret_files()? {
        let bytes = crate::fsio::read_file(&f)?;
        let Ok(sops) = SopsFile::parse(Format::from_path(&f), &bytes) else {
            continue;
        };
        if sops.metadata.age_recipients().any(|r| r == recipient) {
            readable.push(repo.name_of(&f).unwrap_or_default());
            files.push(f);
        }
    }
    Ok(RevokePlan {
        name,
        recipient,
        old_config: text,
        new_config,
        readable,
        files,
    })
}

/// Re-keys every file they could read (new data keys, the new config's
/// recipients) and writes the new config, as one journaled change: the
/// files first, the config last (see the module docs). A failure before
/// the commit changes nothing; one during it is completed by the next
/// `nsec revoke` or `nsec rotate`.
pub fn execute(
    repo: &Store,
    plan: &RevokePlan,
    identities: &Identities,
    callbacks: &dyn Callbacks,
) -> Result<Plan> {
    let config = Config::parse(&repo.config.path, plan.new_config.as_bytes())?;
    let new_repo = Store {
        root: repo.root.clone(),
        config,
    };
    let rotation = rotate_store::plan(&new_repo, &Selection::Files(plan.files.clone()))?;
    let job = Job {
        command: "revoke".into(),
        name: plan.name.clone(),
        recipient: plan.recipient.clone(),
        secrets: plan.readable.clone(),
    };
    let change = ConfigChange {
        path: &repo.config.path,
        original: plan.old_config.as_bytes(),
        new: plan.new_config.as_bytes(),
    };
    rotate_store::execute_job(
        &new_repo,
        &rotation,
        identities,
        callbacks,
        Some(change),
        Some(&job),
    )?;
    Ok(rotation)
}
