//! Two threads for the large jobs: reading and writing a large YAML
//! document in two halves, and encrypting or decrypting a large tree in two
//! halves. Small
//! inputs never start a thread (a thread costs tens of microseconds, the
//! whole one-value decryption about half a millisecond).

use std::sync::OnceLock;

/// Whether this process may use a second core. Asked once: the answer
/// reads cgroup files.
pub(crate) fn two_cores() -> bool {
    static TWO: OnceLock<bool> = OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}

/// Runs `second` on another thread while `first` runs on this one, and
/// gives both results (the second thread's panic, if any, is re-raised).
pub(crate) fn in_parallel<A, B: Send>(
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let helper = scope.spawn(second);
        let a = first();
        let b = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}
