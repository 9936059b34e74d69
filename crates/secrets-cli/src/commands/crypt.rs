//! `encrypt`, `decrypt` and `filestatus`.

use std::path::Path;

use secrets_core::file::{self, DecryptOptions, SopsFile};
use secrets_core::ops::{self, EncryptOverrides};
use secrets_core::{store, Error};

use super::{effective_name, formats, identities, read_input, Context, Target};
use crate::cli::crypt::{DecryptArgs, EncryptArgs, FilestatusArgs};
use crate::error::CliError;
use crate::output::{write_stdout, Destination};

/// `nsec encrypt`.
pub fn encrypt(ctx: &Context, args: &EncryptArgs) -> Result<(), CliError> {
    Destination::from_flags(args.io.output.as_deref(), args.io.in_place, &args.file)?;
    let file = &ctx.resolve(&args.file, Target::Existing)?;
    let dest = Destination::from_flags(args.io.output.as_deref(), args.io.in_place, file)?;
    let name = effective_name(&args.io, file);
    let config = ctx.config_for_encryption(name.as_deref())?;
    let selectors = [
        ("encrypted_regex", &args.selectors.encrypted_regex),
        ("unencrypted_regex", &args.selectors.unencrypted_regex),
        ("encrypted_suffix", &args.selectors.encrypted_suffix),
        ("unencrypted_suffix", &args.selectors.unencrypted_suffix),
        (
            "encrypted_comment_regex",
            &args.selectors.encrypted_comment_regex,
        ),
        (
            "unencrypted_comment_regex",
            &args.selectors.unencrypted_comment_regex,
        ),
    ];
    let given: Vec<_> = selectors.iter().filter(|(_, v)| v.is_some()).collect();
    if given.len() > 1 {
        return Err(CliError::Usage(
            "cannot use more than one of --encrypted-suffix, --unencrypted-suffix, --encrypted-regex, --unencrypted-regex, --encrypted-comment-regex, --unencrypted-comment-regex".into(),
        ));
    }
    let overrides = EncryptOverrides {
        age: args
            .age
            .iter()
            .flat_map(|a| secrets_core::keys::age::split_recipient_list(a).map(str::to_string))
            .collect(),
        pgp: args
            .pgp
            .iter()
            .flat_map(|l| secrets_core::keys::pgp::split_fingerprints(l).collect::<Vec<_>>())
            .collect(),
        kms: args
            .kms
            .iter()
            .flat_map(|l| l.split(',').filter(|s| !s.trim().is_empty()))
            .map(str::to_string)
            .collect(),
        encryption_context: args.encryption_context.clone(),
        aws_profile: args.aws_profile.clone(),
        selector: given
            .first()
            .map(|(n, v)| (n.to_string(), v.as_ref().cloned().unwrap_or_default())),
        mac_only_encrypted: args.mac_only_encrypted,
        shamir_threshold: args.shamir_secret_sharing_threshold,
    };
    let rule_path = name.clone().unwrap_or_else(|| ctx.cwd.join("stdin"));
    let in_file = |e: Error| CliError::Core(e.in_file(&rule_path));
    let opts =
        ops::encrypt_options(config.as_ref(), &ctx.cwd, &rule_path, &overrides).map_err(in_file)?;
    let input = read_input(file)?;
    let (in_fmt, out_fmt) = formats(&args.io, file)?;
    let docs = store::parse(in_fmt, &input).map_err(in_file)?;
    // The tree holds what is needed; a large input is not kept beside it
    // and the output.
    drop(input);
    let encrypted = file::encrypt(out_fmt, docs, &opts).map_err(in_file)?;
    // In parts: a large file is written by two threads, and its halves are
    // not joined in memory.
    let parts = encrypted
        .to_byte_parts(&ctx.store_options(config.as_ref()))
        .map_err(in_file)?;
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let written = dest.write_parts(&parts, 0o644);
    exit_without_freeing(encrypted.documents);
    written
}

/// Leaves a large tree to the process exit instead of freeing it node by
/// node: `encrypt` and `decrypt` return to `main`, which exits, and freeing
/// a million-value tree is millions of `free` calls (about 4% of such a
/// run). Nothing is lost: the tree's strings were never wiped on drop (the
/// data key, which is, is not in it), and the memory is the process's
/// until it exits either way.
fn exit_without_freeing(documents: Vec<secrets_core::Map>) {
    std::mem::forget(documents);
}

/// `nsec decrypt`.
pub fn decrypt(ctx: &Context, args: &DecryptArgs) -> Result<(), CliError> {
    Destination::from_flags(args.io.output.as_deref(), args.io.in_place, &args.file)?;
    let extract = args
        .extract
        .as_deref()
        .map(secrets_core::parse_index)
        .transpose()
        .map_err(CliError::BadExtract)?;
    let file = &ctx.resolve(&args.file, Target::Existing)?;
    let dest = Destination::from_flags(args.io.output.as_deref(), args.io.in_place, file)?;
    let name = effective_name(&args.io, file);
    let input = read_input(file)?;
    let config = ctx.config_for(name.as_deref())?;
    let (in_fmt, out_fmt) = formats(&args.io, file)?;
    let shown = name.clone().unwrap_or_else(|| "<stdin>".into());
    let in_file = |e: Error| CliError::Core(e.in_file(&shown));
    let sops = SopsFile::parse(in_fmt, &input).map_err(in_file)?;
    // The tree holds what is needed; a large input is not kept beside it
    // and the output.
    drop(input);
    let mut opened = sops
        .open(
            &identities(),
            DecryptOptions {
                ignore_mac: args.ignore_mac,
                read_only: true,
            },
        )
        .map_err(in_file)?;
    let opts = ctx.store_options(config.as_ref());
    let bytes = match &extract {
        Some(path) => {
            let first = opened.documents.first().cloned().unwrap_or_default();
            let value = match path.is_empty() {
                true => secrets_core::Value::Map(first),
                false => first.get_path(path).cloned().ok_or_else(|| {
                    in_file(Error::PathNotFound(
                        args.extract.clone().unwrap_or_default(),
                    ))
                })?,
            };
            store::emit_value(out_fmt, &value, &opts).map_err(in_file)?
        }
        None => opened.plaintext(out_fmt, &opts).map_err(in_file)?,
    };
    let written = dest.write(&bytes, 0o600);
    // (The data key in `opened` is still wiped when it is dropped.)
    exit_without_freeing(std::mem::take(&mut opened.documents));
    written
}

/// `nsec filestatus`.
pub fn filestatus(ctx: &Context, args: &FilestatusArgs) -> Result<(), CliError> {
    let file = &ctx.resolve(&args.file, Target::Existing)?;
    let input = read_input(file)?;
    let format = args
        .input
        .format()?
        .unwrap_or_else(|| secrets_core::Format::from_path(Path::new(file)));
    let encrypted = match SopsFile::parse(format, &input) {
        Ok(f) => !f.metadata.version.is_empty() && !f.metadata.mac.is_empty(),
        // An empty or comment-only file holds nothing encrypted (sops says
        // so too).
        Err(Error::MetadataNotFound | Error::InvalidMetadata(_) | Error::EmptyFile) => false,
        Err(e) => return Err(CliError::Core(e.in_file(file))),
    };
    write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}
