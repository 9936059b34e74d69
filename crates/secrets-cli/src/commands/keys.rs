//! `rotate` (file mode), `updatekeys`, `groups`.

use std::path::{Path, PathBuf};

use secrets_core::keys::age::{parse_recipient_list, AgeRecipient};
use secrets_core::keys::groups::GroupKeys;
use secrets_core::keys::kms::{parse_context, KmsKey};
use secrets_core::keys::pgp::split_fingerprints;
use secrets_core::ops::keys::{self, GroupsOutput, UpdateKeysOutcome, UpdateKeysPlan};
use secrets_core::rules::Config;
use secrets_core::{Error, Format};

use std::io::IsTerminal;

use super::{identities, Context, Target};
use crate::cli::keys::{GroupsAction, GroupsArgs, RotateArgs, UpdatekeysArgs};
use crate::error::shell_quote;
use crate::error::CliError;
use crate::output::{write_stdout, Destination};

fn parse_recipients(lists: &[String]) -> Result<Vec<AgeRecipient>, CliError> {
    let mut all = Vec::new();
    for list in lists {
        all.extend(parse_recipient_list(list)?);
    }
    Ok(all)
}

/// The keys of `--age`-, `--pgp`- and `--kms`-style flags, as one group;
/// KMS keys get `context` (`--encryption-context`) and `profile`.
fn group_keys(
    age: &[String],
    pgp: &[String],
    kms: &[String],
    context: Option<&str>,
    profile: Option<&str>,
) -> Result<GroupKeys, CliError> {
    let context = parse_context(context.unwrap_or(""))?;
    Ok(GroupKeys {
        age: parse_recipients(age)?,
        pgp: pgp
            .iter()
            .flat_map(|l| split_fingerprints(l).collect::<Vec<_>>())
            .collect(),
        kms: kms
            .iter()
            .flat_map(|l| KmsKey::parse_list(l, &context, profile.unwrap_or("")))
            .collect(),
    })
}

/// `nsec rotate FILE` (sops-style).
pub fn rotate_file(ctx: &Context, args: &RotateArgs) -> Result<(), CliError> {
    let [arg] = args.targets.as_slice() else {
        return Err(CliError::Usage(
            "rotate in file mode takes exactly one FILE".into(),
        ));
    };
    Destination::from_flags(args.output.as_deref(), args.in_place, arg)?;
    let file = &ctx.resolve(arg, Target::Existing)?;
    let path = Path::new(file);
    let dest = Destination::from_flags(args.output.as_deref(), args.in_place, file)?;
    let by_name = Format::from_path(path);
    let in_fmt = args.types.input.format()?.unwrap_or(by_name);
    let out_fmt = args.types.output()?.unwrap_or(in_fmt);
    let (context, profile) = (
        args.encryption_context.as_deref(),
        args.aws_profile.as_deref(),
    );
    let add = group_keys(
        &args.add_age,
        &args.add_pgp,
        &args.add_kms,
        context,
        profile,
    )?;
    let rm = group_keys(&args.rm_age, &args.rm_pgp, &args.rm_kms, None, None)?;
    let config = ctx.config_for(Some(path))?;
    if !path.is_file() {
        return Err(CliError::NoSuchFile(path.to_path_buf()));
    }
    let bytes = keys::rotate_file(
        path,
        (in_fmt, out_fmt),
        &identities(),
        &ctx.store_options(config.as_ref()),
        &add,
        &rm,
        args.in_place,
    )?;
    if args.in_place {
        return Ok(());
    }
    if args.output.is_none() && std::io::stdout().is_terminal() {
        eprintln!(
            "nsec: note: the rotated file is printed below; nothing was changed on disk. To rotate it in place: nsec rotate -i {}",
            shell_quote(arg)
        );
    }
    dest.write(&bytes, 0o644)
}

/// A recipient with its `.sops.yaml` name, when it has one.
fn named(config: &Config, r: &str) -> String {
    match config.name_of(r) {
        Some(n) => format!("{r} ({n})"),
        None => r.to_string(),
    }
}

/// Prints the plan the way sops does (`+++` added, `---` removed), with
/// names from `.sops.yaml`.
fn print_plan(file: &str, config: &Config, plan: &UpdateKeysPlan) {
    eprintln!("The following changes will be made to the file's groups ({file}):");
    for (i, g) in plan.groups.iter().enumerate() {
        eprintln!("Group {}", i + 1);
        for r in &g.kept {
            eprintln!("    {}", named(config, r));
        }
        for r in &g.added {
            eprintln!("+++ {}", named(config, r));
        }
        for r in &g.removed {
            eprintln!("--- {}", named(config, r));
        }
    }
    if plan.threshold.0 != plan.threshold.1 {
        eprintln!(
            "shamir_threshold: {} -> {}",
            plan.threshold.0, plan.threshold.1
        );
    }
}

/// `nsec updatekeys`.
pub fn updatekeys(ctx: &Context, args: &UpdatekeysArgs) -> Result<(), CliError> {
    for arg in &args.files {
        let file = &ctx.resolve(arg, Target::Existing)?;
        let path = Path::new(file);
        let Some(config) = ctx.config_for(Some(path))? else {
            return Err(CliError::Core(Error::Config {
                path: Path::new(".sops.yaml").into(),
                rule: None,
                problem: secrets_core::ConfigProblem::Invalid,
                message: format!("no .sops.yaml found for {file}"),
            }));
        };
        if !path.is_file() {
            return Err(CliError::NoSuchFile(path.to_path_buf()));
        }
        let outcome = keys::update_keys_file(
            path,
            &identities(),
            &config,
            &ctx.cwd,
            &ctx.store_options(Some(&config)),
            args.rotate,
            |plan| {
                if !plan.is_empty() {
                    print_plan(file, &config, plan);
                }
                if args.rotate {
                    eprintln!("A new data key will be made and every value re-encrypted.");
                }
                args.yes || crate::ui::confirm("Is this okay?")
            },
        )?;
        match outcome {
            UpdateKeysOutcome::UpToDate => eprintln!("{file}: already up to date"),
            UpdateKeysOutcome::Declined => eprintln!("{file}: changes have not been applied"),
            UpdateKeysOutcome::Updated => eprintln!("{file}: updated"),
        }
    }
    Ok(())
}

/// `nsec groups`.
pub fn groups(ctx: &Context, args: &GroupsArgs) -> Result<(), CliError> {
    let (file, in_place) = match &args.action {
        GroupsAction::Add { file, in_place, .. } | GroupsAction::Delete { file, in_place, .. } => {
            (file, *in_place)
        }
    };
    let file = PathBuf::from(ctx.resolve(&file.to_string_lossy(), Target::Existing)?);
    let path = file.as_path();
    let config = ctx.config_for(Some(path))?;
    let store_opts = ctx.store_options(config.as_ref());
    let output = match &args.action {
        GroupsAction::Add {
            age,
            pgp,
            kms,
            shamir_secret_sharing_threshold,
            ..
        } => keys::groups_add_file(
            path,
            &identities(),
            &store_opts,
            group_keys(age, pgp, kms, None, None)?,
            *shamir_secret_sharing_threshold,
            in_place,
        ),
        GroupsAction::Delete { index, .. } => {
            keys::groups_delete_file(path, &identities(), &store_opts, *index, in_place)
        }
    }?;
    match output {
        GroupsOutput::InPlace => Ok(()),
        GroupsOutput::Bytes(bytes) => write_stdout(&bytes),
    }
}
