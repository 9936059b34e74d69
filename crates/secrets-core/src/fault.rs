//! Fault injection for the crash tests, compiled in only with the cargo
//! feature `fault-injection` (which `scripts/test.sh` turns on for the
//! test build). Without it every function here is empty, so release builds
//! carry no test hooks.
//!
//! - `io`: with `NSEC_TEST_FAULT_AT=N`, the process aborts (like a
//!   `kill -9`) at the N-th file-system step of an atomic write: after
//!   writing the temporary, after its fsync, before its rename, after the
//!   rename (before the directory fsync). With `NSEC_TEST_PANIC_AT=N` it
//!   panics there instead: the panic must unwind (dropping, and so
//!   removing, the temporary file) and end in exit status 101, which checks
//!   the unwinder the binary is linked with.
//! - `step`: with `NSEC_TEST_FAIL_AFTER=N`, the store-wide rotation
//!   aborts at its N-th step (journal, prepare, commit).

#[cfg(feature = "fault-injection")]
fn step_wanted(var: &str) -> Option<usize> {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
}

#[cfg(feature = "fault-injection")]
fn abort_at(var: &str, n: usize, what: &str) {
    if step_wanted(var) == Some(n) {
        eprintln!("nsec: injected fault at {what} (step {n})");
        std::process::abort();
    }
}

/// A file-system step of an atomic write.
#[cfg(feature = "fault-injection")]
pub(crate) fn io(what: &'static str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
    abort_at("NSEC_TEST_FAULT_AT", n, what);
    if step_wanted("NSEC_TEST_PANIC_AT") == Some(n) {
        panic!("injected panic at {what} (step {n})");
    }
}

/// A file-system step of an atomic write (no-op in this build).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn io(_what: &'static str) {}

/// A step of the store-wide rotation.
#[cfg(feature = "fault-injection")]
pub(crate) fn step(counter: &mut usize) {
    *counter += 1;
    abort_at("NSEC_TEST_FAIL_AFTER", *counter, "a rotation step");
}

/// A step of the store-wide rotation (no-op in this build).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub(crate) fn step(_counter: &mut usize) {}
