//! Records what `nsec --version` says about the build: the package version
//! and, when built from a git checkout, the commit. On Linux it also
//! shapes the executable for a fast start: the functions of a short
//! command grouped together ([`group_startup_code`]) and, with glibc,
//! libgcc's unwinder linked in ([`link_unwinder_statically`]).
//!
//! The commit comes from `$NSEC_GIT_COMMIT` when set at build time (the Nix
//! flake passes its source revision that way), else from
//! `git rev-parse --short HEAD` when the checkout's `.git` is there and git
//! runs. A tarball, a crates.io package or the Nix sandbox (no `.git`, no
//! git) silently build without one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NSEC_GIT_COMMIT");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = std::env::var("NSEC_GIT_COMMIT")
        .ok()
        .filter(|c| is_commit(c))
        .or_else(git_commit);
    let text = match commit {
        Some(c) => format!("{version} (git {c})"),
        None => version,
    };
    println!("cargo:rustc-env=NSEC_VERSION={text}");
    group_startup_code();
    link_unwinder_statically();
}

/// An environment variable of the build, empty when unset.
fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Links with `startup.ld` (written by `bench/startup-order.sh`), which
/// places the functions a one-value `decrypt`, `encrypt`, `filestatus`,
/// `set` or `exec-env` runs before the rest of the code. Scattered over
/// 6 MB, they had the kernel map ~54 separate 64 KiB windows of the file
/// at every start; grouped, far fewer (bench/README.md has the numbers).
/// The script only adds an output section before `.text` (`INSERT`): the
/// linker's own layout stays, and names it no longer finds match nothing.
/// lld (Rust's default linker here) and GNU ld take it; mold and gold do
/// not take such scripts, so a build that names them anywhere in its
/// linker settings (`RUSTFLAGS`, the configured linker, `mold -run`) goes
/// without.
fn group_startup_code() {
    println!("cargo:rerun-if-changed=startup.ld");
    for v in ["LD_PRELOAD", "MOLD_PATH"] {
        println!("cargo:rerun-if-env-changed={v}");
    }
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    // mold (also run as `mold -run cargo …`, which preloads itself) and
    // gold, configured in any way that names them.
    let configured = [
        var("CARGO_ENCODED_RUSTFLAGS"),
        var("RUSTC_LINKER"),
        var("LD_PRELOAD"),
    ];
    if !var("MOLD_PATH").is_empty()
        || configured
            .iter()
            .any(|c| c.contains("mold") || c.contains("gold"))
    {
        return;
    }
    let script = Path::new(&var("CARGO_MANIFEST_DIR")).join("startup.ld");
    let Some(script) = script.to_str().filter(|_| script.is_file()) else {
        return;
    };
    // Two arguments: a C compiler driver and a linker both take `-T FILE`.
    println!("cargo:rustc-link-arg-bins=-T");
    println!("cargo:rustc-link-arg-bins={script}");
}

/// Links libgcc's unwinder (`libgcc_eh.a`, what `gcc -static-libgcc`
/// uses) into `nsec` on Linux with glibc, so that the dynamic loader no
/// longer finds, maps, relocates and initialises `libgcc_s.so.1` at every
/// start: a one-value `nsec decrypt` went 0.63–0.68 → 0.59–0.61 ms elapsed
/// (bench/README.md).
/// std asks for `gcc_s`; with the archive's `_Unwind_*` functions already
/// in the executable, lld's `--as-needed` drops it (GNU ld keeps it, as
/// `-lgcc_s` comes first on the command line: no gain, no harm). Panics unwind
/// as before (a test panics in the middle of a write and checks that the
/// temporary file was dropped). Where the C compiler that links knows no
/// such archive (another toolchain, a cross build without a configured
/// linker), nothing changes.
fn link_unwinder_statically() {
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // A static build (`-C target-feature=+crt-static`) links libgcc_eh
    // itself; a second copy would clash.
    if var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static")
    {
        return;
    }
    // The linker cargo was given for this target, else the default `cc`
    // (only for a native build: the host's `cc` has the host's libgcc).
    let linker = match var("RUSTC_LINKER") {
        l if !l.is_empty() => l,
        _ if var("TARGET") == var("HOST") => "cc".to_string(),
        _ => return,
    };
    let Ok(out) = Command::new(&linker)
        .arg("-print-file-name=libgcc_eh.a")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let printed = String::from_utf8_lossy(&out.stdout);
    let archive = Path::new(printed.trim());
    // Unknown names are printed back as given, not as a path; `-Wl,`
    // splits at commas.
    if !out.status.success()
        || !archive.is_absolute()
        || !archive.is_file()
        || printed.contains(',')
    {
        return;
    }
    // Linked again when the compiler's archive changes or goes away (an
    // upgraded gcc).
    println!("cargo:rerun-if-changed={}", archive.display());
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--whole-archive,{},--no-whole-archive",
        archive.display()
    );
}

/// A short or full hexadecimal commit id, with `-dirty` after it when the
/// tree had changes (what Nix flakes call `dirtyShortRev`).
fn is_commit(s: &str) -> bool {
    let hex = s.strip_suffix("-dirty").unwrap_or(s);
    (4..=40).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `git rev-parse --short HEAD` in the checkout, if it is one.
fn git_commit() -> Option<String> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")?;
    // crates/secrets-cli → the workspace root. `.git` is a directory, or a
    // file in a worktree.
    let root = Path::new(&manifest).join("../..");
    if !root.join(".git").exists() {
        return None;
    }
    let commit = git(&root, &["rev-parse", "--short", "HEAD"])?;
    if !is_commit(&commit) {
        return None;
    }
    // Build again when HEAD moves: HEAD itself, the branch it points to,
    // and packed-refs (where a branch may live instead).
    let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&root, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(branch);
    }
    for name in watch {
        if let Some(p) = git(&root, &["rev-parse", "--git-path", &name]) {
            let p = PathBuf::from(p);
            let p = if p.is_absolute() { p } else { root.join(p) };
            // A missing path would make cargo run this script every build.
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    Some(commit)
}

/// The trimmed standard output of a successful git command.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}
