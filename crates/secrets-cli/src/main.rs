//! nsec: a fast, sops-compatible secrets CLI for age keys.
//!
//! `main` only parses and dispatches; every operation lives in
//! `secrets-core`, and errors become exit codes in `error.rs`.

// Argument doc comments are clap's `--help` text, which shows sops indexes
// such as '["a"][0]' as they are; rustdoc would read them as links.
#![allow(rustdoc::broken_intra_doc_links)]
// nsec's `main` is the C one, without std's runtime start-up (see `main`);
// the unit tests keep the test harness's.
#![cfg_attr(not(test), no_main)]

mod cli;
mod commands;
mod error;
mod legacy;
mod output;
mod ui;
mod version;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command};
use error::CliError;

/// No core dumps and no ptrace by other processes of the same user, as
/// ssh-agent and gpg-agent do: a crash while a data key, an identity or a
/// decrypted file is in memory must not write it to disk. Commands nsec runs
/// (`exec-env`, `exec-file`, the editor) inherit the core-size limit of 0.
fn harden_process() {
    #[cfg(unix)]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads a valid rlimit; prctl with
        // PR_SET_DUMPABLE takes plain integers. Both only change this
        // process's own settings; failure leaves them as they were.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
    }
}

/// What std's runtime does before `main` that nsec keeps: stdin, stdout
/// and stderr are open (on `/dev/null` if the caller closed one, so that a
/// file nsec opens never becomes fd 1), and SIGPIPE is ignored (a write to
/// a closed pipe is an error nsec handles, not a kill).
#[cfg(not(test))]
fn std_start() {
    #[cfg(unix)]
    {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        // SAFETY: poll reads and writes the three pollfd values of `fds`;
        // open gets a NUL-terminated path; signal takes plain values. They
        // only change this process's own descriptors and signal state.
        unsafe {
            if libc::poll(fds.as_mut_ptr(), 3, 0) != -1 {
                for fd in fds {
                    if fd.revents & libc::POLLNVAL != 0
                        && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) == -1
                    {
                        libc::abort();
                    }
                }
            }
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    }
}

/// The C `main`: std's runtime start-up (its `main` wrapper) is skipped.
/// It reads `/proc/self/maps` to place a guard for stack overflows and
/// installs SIGSEGV/SIGBUS handlers and an alternate signal stack for
/// them, about 15 system calls and 100,000 instructions, a tenth of a
/// one-value `nsec decrypt`. Without it a stack overflow ends in a plain
/// SIGSEGV (no core dump: `harden_process`), and [`std_start`] does the rest
/// of what std did. Arguments still come from `std::env` (glibc hands them
/// to std before `main`).
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    std_start();
    // A panic must not unwind into C: it ends as std's would (its message
    // is printed by the panic hook), with exit status 101.
    let code = std::panic::catch_unwind(nsec_main).unwrap_or(101);
    // std flushes stdout at exit; `exit` from C does not know Rust's buffer.
    let _ = std::io::Write::flush(&mut std::io::stdout().lock());
    libc::c_int::from(code)
}

// (In unit tests the harness's `main` runs instead: keep this one's code.)
#[cfg_attr(test, allow(dead_code))]
fn nsec_main() -> u8 {
    harden_process();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The subcommands scripts run most are parsed without building the
    // whole command tree; anything else, and any error or help, by `parse`.
    let cli = match cli::parse_fast(&args) {
        Some(Ok(cli)) => cli,
        Some(Err(e)) => return fail(e),
        None => match parse(args) {
            Ok(cli) => cli,
            Err(code) => return code,
        },
    };
    let result = run(&cli);
    for w in secrets_core::fs::take_warnings() {
        eprintln!("nsec: warning: {w}");
    }
    match result {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

/// Parses the command line with the whole command tree, after turning
/// sops' legacy form into a subcommand and taking `--decryption-order` out.
/// Exits on help, version and argument errors (clap's output).
fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, u8> {
    let command = Cli::command();
    let mut names: Vec<&str> = vec!["help"];
    for sub in command.get_subcommands() {
        names.push(sub.get_name());
        names.extend(sub.get_all_aliases());
    }
    // sops' legacy form (`nsec -d FILE`, `nsec FILE`) becomes a subcommand.
    let args = match legacy::rewrite(&args, &names) {
        Ok(None) => args,
        Ok(Some(rewrite)) => {
            for w in &rewrite.warnings {
                eprintln!("nsec: warning: {}", error::warning_message(w));
            }
            rewrite.args
        }
        Err(e) => return Err(fail(CliError::Legacy(e))),
    };
    let mut args = args;
    let order = match cli::take_decryption_order(&mut args) {
        Ok(order) => order,
        Err(e) => return Err(fail(e)),
    };
    // Parse with the command built above: building clap's command is a
    // good share of nsec's start-up, so it is built once. Nor is it freed
    // (`get_matches_from` would drop it: a few thousand frees, about 3% of
    // a one-value decrypt); the process exits when `main` returns.
    let mut command = command;
    let parsed = command.try_get_matches_from_mut(args);
    std::mem::forget(command);
    let mut matches = parsed.unwrap_or_else(|e| e.exit());
    match Cli::from_arg_matches_mut(&mut matches) {
        Ok(cli) => Ok(Cli {
            decryption_order: order,
            ..cli
        }),
        Err(e) => e.exit(),
    }
}

fn fail(e: CliError) -> u8 {
    if let Some(msg) = e.message() {
        eprintln!("nsec: error: {msg}");
    }
    e.exit_code()
}

fn run(cli: &Cli) -> Result<(), CliError> {
    let ctx = commands::Context::new(cli)?;
    match &cli.command {
        Command::Encrypt(a) => commands::crypt::encrypt(&ctx, a),
        Command::Decrypt(a) => commands::crypt::decrypt(&ctx, a),
        Command::Filestatus(a) => commands::crypt::filestatus(&ctx, a),
        Command::Edit(a) => commands::edit::edit(&ctx, a),
        Command::Set(a) => commands::edit::set(&ctx, a),
        Command::Unset(a) => commands::edit::unset(&ctx, a),
        Command::Rotate(a) => {
            // File mode when the arguments name one existing file or use
            // the sops-style flags; store mode otherwise.
            let file_mode = a.sops_file
                || a.in_place
                || !a.add_age.is_empty()
                || !a.rm_age.is_empty()
                || !a.add_pgp.is_empty()
                || !a.rm_pgp.is_empty()
                || !a.add_kms.is_empty()
                || !a.rm_kms.is_empty()
                || a.output.is_some()
                || (a.targets.len() == 1 && std::path::Path::new(&a.targets[0]).is_file());
            if file_mode {
                commands::keys::rotate_file(&ctx, a)
            } else {
                commands::maintain::rotate_store(&ctx, a)
            }
        }
        Command::Updatekeys(a) => commands::keys::updatekeys(&ctx, a),
        Command::Groups(a) => commands::keys::groups(&ctx, a),
        Command::ExecEnv(a) => commands::exec::exec_env(&ctx, a),
        Command::ExecFile(a) => commands::exec::exec_file(&ctx, a),
        Command::Init(a) => commands::secrets::init(&ctx, a),
        Command::Keygen(a) => commands::secrets::keygen(&ctx, a),
        Command::SshToAge(a) => commands::secrets::ssh_to_age(&ctx, a),
        Command::Add(a) => commands::secrets::add(&ctx, a),
        Command::Show(a) => commands::secrets::show(&ctx, a),
        Command::List(a) => commands::secrets::list(&ctx, a),
        Command::Rm(a) => commands::secrets::rm(&ctx, a),
        Command::Host(a) => commands::secrets::host(&ctx, a),
        Command::Validate(a) => commands::maintain::validate(&ctx, a),
        Command::Revoke(a) => commands::maintain::revoke(&ctx, a),
        Command::Nix(a) => commands::maintain::nix(&ctx, a),
        Command::Git(a) => commands::maintain::git(&ctx, a),
        Command::Completion(a) => commands::shell::completion(a),
        Command::Man(a) => commands::shell::man(&ctx, a),
        Command::CompleteNames(a) => commands::shell::complete_names(&ctx, a),
    }
}
