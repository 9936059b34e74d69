//! One module per subcommand: arguments in, library call, output.

pub mod crypt;
pub mod edit;
pub mod exec;
pub mod keys;
pub mod maintain;
pub mod secrets;
pub mod shell;

use std::path::{Path, PathBuf};

use secrets_core::keys::discovery::{self, Identities};
use secrets_core::keys::groups::DecryptionOrder;
pub use secrets_core::repo::{self, Target};
use secrets_core::rules::Config;
use secrets_core::store::StoreOptions;
use secrets_core::{ops, Format};

use crate::cli::crypt::IoArgs;
use crate::cli::{Cli, DirArg};
use crate::error::CliError;
use crate::ui::Terminal;

/// Settings every command shares.
pub struct Context {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--indent`.
    pub indent: Option<i64>,
    /// The working directory.
    pub cwd: PathBuf,
    /// `$NSEC_DIR`: the store whose NAMEs file commands accept.
    pub store_dir: Option<PathBuf>,
}

impl Context {
    /// The store `--dir` names, or the one found from the working directory.
    pub fn repo(&self, store: &DirArg) -> Result<repo::Store, CliError> {
        Ok(repo::Store::discover(
            store.dir.as_deref(),
            None,
            &self.cwd,
        )?)
    }

    /// From the parsed command line.
    pub fn new(cli: &Cli) -> Result<Context, CliError> {
        // The command's flag, else the variable; a bad value is refused
        // before anything runs, as in sops.
        let text = match &cli.decryption_order {
            Some(flag) => flag.clone(),
            None => std::env::var(DecryptionOrder::VAR).unwrap_or_default(),
        };
        let order = DecryptionOrder::parse(&text).map_err(|e| CliError::Usage(e.to_string()))?;
        let _ = DECRYPTION_ORDER.set(order);
        Ok(Context {
            config: cli.global.config.clone(),
            indent: cli.global.indent,
            cwd: std::env::current_dir()
                .map_err(|e| CliError::Other(format!("cannot read the working directory: {e}")))?,
            store_dir: std::env::var_os("NSEC_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        })
    }

    /// The file a FILE-or-NAME argument means (see `repo::resolve`); `-`
    /// stays standard input.
    pub fn resolve(&self, arg: &str, target: Target) -> Result<String, CliError> {
        let path = repo::resolve(arg, self.store_dir.as_deref(), &self.cwd, target)?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// The `.sops.yaml` that applies to `target`, if any.
    pub fn config_for(&self, target: Option<&Path>) -> Result<Option<Config>, CliError> {
        Ok(ops::load_config(self.config.as_deref(), target, &self.cwd)?)
    }

    /// The `.sops.yaml` whose rules will encrypt `target`. When nsec's search
    /// upward from the file's directory found another config than sops
    /// would (sops looks from the working directory only), it says which
    /// on stderr, so nobody encrypts by a config they did not expect.
    pub fn config_for_encryption(&self, target: Option<&Path>) -> Result<Option<Config>, CliError> {
        let config = self.config_for(target)?;
        if let Some(c) = &config {
            let sops_would = secrets_core::rules::find(None, None, &self.cwd);
            if self.config.is_none() && sops_would.as_deref() != Some(c.path.as_path()) {
                eprintln!(
                    "nsec: encrypting by the rules of {} (found from the file's directory)",
                    crate::output::display_path(&self.cwd, &c.path)
                );
            }
        }
        Ok(config)
    }

    /// Store options from the config, with `--indent` applied.
    pub fn store_options(&self, config: Option<&Config>) -> StoreOptions {
        let mut opts = ops::store_options(config);
        if let Some(i) = self.indent {
            if i >= 1 {
                opts.yaml_indent = i as usize;
            }
            let json = if i < 0 { None } else { Some(i as usize) };
            opts.json_indent = json;
            opts.json_binary_indent = json;
        }
        opts
    }
}

/// `--decryption-order` (else `SOPS_DECRYPTION_ORDER`), set once by
/// [`Context::new`].
static DECRYPTION_ORDER: std::sync::OnceLock<DecryptionOrder> = std::sync::OnceLock::new();

/// The identities of the environment, with terminal prompts for
/// passphrase-protected keys, and the decryption order of the command line.
pub fn identities() -> Identities {
    let mut ids = discovery::discover(&discovery::ProcessEnv, Terminal);
    if let Some(order) = DECRYPTION_ORDER.get() {
        ids.set_decryption_order(order.clone());
    }
    ids
}

/// Reads FILE, or standard input for `-`.
pub fn read_input(file: &str) -> Result<Vec<u8>, CliError> {
    // What comes from the command line may be a FIFO or a process
    // substitution: read as a stream, but never more than nsec reads from a
    // secret file.
    if file == "-" {
        return Ok(secrets_core::fs::read_capped(
            std::io::stdin().lock(),
            Path::new("standard input"),
            0,
        )?);
    }
    let path = Path::new(file);
    if !path.exists() {
        return Err(CliError::NoSuchFile(path.to_path_buf()));
    }
    let f = std::fs::File::open(path).map_err(|e| secrets_core::Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    Ok(secrets_core::fs::read_capped(f, path, size)?)
}

/// The name used for store selection and rule matching.
pub fn effective_name(io: &IoArgs, file: &str) -> Option<PathBuf> {
    io.filename_override
        .clone()
        .or_else(|| (file != "-").then(|| PathBuf::from(file)))
}

/// Input and output stores, as sops picks them, except that an
/// `--input-type` alone also sets the output type.
pub fn formats(io: &IoArgs, file: &str) -> Result<(Format, Format), CliError> {
    let by_name = effective_name(io, file)
        .map(|p| Format::from_path(&p))
        .unwrap_or(Format::Binary);
    let input = io.types.input.format()?.unwrap_or(by_name);
    let output = match (io.types.output()?, &io.types.input.input_type) {
        (Some(t), _) => t,
        (None, Some(_)) => input,
        (None, None) => by_name,
    };
    Ok((input, output))
}
