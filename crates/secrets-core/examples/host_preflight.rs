//! A deploy tool's check before a rollout, embedding `secrets-core` the way
//! a tool other than nsec would: open a secrets store, ask what a host's
//! sops-nix will install, and report every reason its activation would fail
//! — without any key, and without printing a secret.
//!
//!     cargo run -p secrets-core --example host_preflight [STORE_DIR] [HOST]
//!
//! Defaults to the bundled example repository's store and its `desktop`.
//! Exits 1 when the host would fail to install a secret.

use std::path::PathBuf;
use std::process::ExitCode;

use secrets_core::ops::validate::{Problem, ValidateOptions};
use secrets_core::Store;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let store = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/nixos-repo/secrets"
        ))
    });
    let host = args.next().unwrap_or_else(|| "desktop".to_string());
    match check(&store, &host) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("host_preflight: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints what `host` gets and what would fail; true when nothing would.
fn check(store: &std::path::Path, host: &str) -> Result<bool, secrets_core::Error> {
    let secrets = Store::open(store)?;
    // What the host's sops-nix declarations install (what `nsec nix --host`
    // prints), names decided over the whole store.
    let plan = secrets.nix(Some(host))?;
    println!(
        "{host}: {} secrets to install from {}",
        plan.declarations.len(),
        store.display()
    );
    for d in &plan.declarations {
        let key = if d.key.is_empty() {
            "(whole file)"
        } else {
            &d.key
        };
        println!("  /run/secrets/{}  <- {}  {key}", d.attr, d.secret);
    }
    // The same plan, checked as the host's activation will run it.
    let report = secrets.validate(&ValidateOptions {
        host: Some(host.to_string()),
        ..Default::default()
    });
    let host_codes = ["E050", "E051", "E052", "E053", "E054"];
    let failures: Vec<&Problem> = report
        .problems
        .iter()
        .filter(|p| host_codes.contains(&p.code))
        .collect();
    for p in &failures {
        let file = p
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        println!("  FAIL {} {file}: {} (fix: {})", p.code, p.message, p.fix);
    }
    if failures.is_empty() {
        println!("{host}: every declared secret will install");
    }
    Ok(failures.is_empty())
}
