//! Two threads for the large jobs: reading and writing a large YAML
//! document in two halves, and encrypting or decrypting a large tree in two
//! halves. Small
//! inputs never start a thread (a thread costs tens of microseconds, the
//! whole one-value decryption about half a millisecond). On Linux, when a
//! CPU is idle, the helper thread moves off its parent's CPU if the
//! scheduler left it there ([`move_off`]).

use std::sync::OnceLock;

/// Whether this process may use a second core. Asked once: the answer
/// reads cgroup files.
pub(crate) fn two_cores() -> bool {
    cpus() >= 2
}

/// How many CPUs this process may use. Asked once: the answer reads cgroup
/// files.
fn cpus() -> usize {
    static CPUS: OnceLock<usize> = OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether a CPU has nothing to run: fewer runnable tasks in the system
/// (this thread included) than CPUs this process may use, by
/// `/proc/loadavg` (read at each split, a few microseconds against the
/// milliseconds of a split). `false` off Linux and when unknown; also
/// whenever enough other tasks happen to be runnable (on two CPUs, one),
/// and in a container that sees the host's count: then the helper is left
/// where the scheduler put it.
fn a_cpu_is_idle() -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| runnable_tasks(&text))
        .is_some_and(|running| running < cpus())
}

/// The number of runnable tasks in a `/proc/loadavg` line
/// (`0.35 0.81 1.20 2/85 20853`: the fourth field's first number). `None`
/// for 0, which Linux never writes (the reader itself runs) but gVisor
/// always does.
fn runnable_tasks(loadavg: &str) -> Option<usize> {
    let field = loadavg.split_ascii_whitespace().nth(3)?;
    let running: usize = field.split_once('/')?.0.parse().ok()?;
    (running > 0).then_some(running)
}

/// Runs `second` on another thread while `first` runs on this one, and
/// gives both results (the second thread's panic, if any, is re-raised).
pub(crate) fn in_parallel<A, B: Send>(
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    // Asked before the helper exists, which would count as runnable.
    in_parallel_placed(a_cpu_is_idle(), first, second)
}

/// [`in_parallel`], the helper moved off this thread's CPU when `idle`.
fn in_parallel_placed<A, B: Send>(
    idle: bool,
    first: impl FnOnce() -> A,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    let here = this_cpu();
    std::thread::scope(|scope| {
        let helper = scope.spawn(move || {
            if idle {
                move_off(here);
            }
            second()
        });
        // A helper queued behind this thread runs now, long enough to
        // move itself to another CPU (see `move_off`). Only while a CPU is
        // idle: on a busy machine the yield gives this thread's turn to
        // another process, and the move puts the helper on a CPU it must
        // share, so that its half ends late (a 10,000-value decrypt took
        // 22% longer with both CPUs busy, 46% with one).
        if idle {
            std::thread::yield_now();
        }
        let a = first();
        let b = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (a, b)
    })
}

/// The CPU the calling thread runs on, where the system says.
fn this_cpu() -> Option<usize> {
    #[cfg(target_os = "linux")]
    return nix::sched::sched_getcpu().ok();
    #[cfg(not(target_os = "linux"))]
    return None;
}

/// Moves the calling (helper) thread off `cpu`, its parent's CPU, if it
/// runs there and may run elsewhere; then gives it back its CPU mask.
/// Whether it moved.
///
/// What this is for, as observed on the 2-CPU build machine (a Firecracker
/// guest): a new thread was queued on its parent's CPU and stayed there
/// while the other, idle CPU went unused, starting about 0.5 ms later —
/// in a fifth of the splits of a 10,000-value decrypt, which made those
/// runs up to 1.8x slower — while a thread given an affinity to the other
/// CPU started within 50 µs. A forced move is immediate. The parent yields
/// once after the spawn so that a helper queued behind it gets to make the
/// move; restoring the mask right after leaves the scheduler free to place
/// the thread from then on. With more than one other CPU the kernel picks
/// which one, idle or not; the restored mask lets its load balancer move the
/// thread on. Where a new thread starts on another CPU (the usual case) this
/// does nothing; where the calls fail, nothing changes.
#[cfg(target_os = "linux")]
fn move_off(cpu: Option<usize>) -> bool {
    use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let this_thread = Pid::from_raw(0);
    let Some(cpu) = cpu.filter(|&cpu| sched_getcpu() == Ok(cpu)) else {
        return false;
    };
    let Ok(mask) = sched_getaffinity(this_thread) else {
        return false;
    };
    let mut elsewhere = mask;
    if elsewhere.unset(cpu).is_err()
        || !(0..CpuSet::count()).any(|other| elsewhere.is_set(other) == Ok(true))
    {
        return false;
    }
    if sched_setaffinity(this_thread, &elsewhere).is_err() {
        return false;
    }
    // The mask the thread was created with; a failure leaves it on the
    // narrower one, which is still correct.
    let _ = sched_setaffinity(this_thread, &mask);
    true
}

#[cfg(not(target_os = "linux"))]
fn move_off(_cpu: Option<usize>) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{in_parallel, in_parallel_placed, move_off, runnable_tasks, this_cpu};
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;

    fn mask() -> CpuSet {
        sched_getaffinity(Pid::from_raw(0)).expect("affinity")
    }

    fn allowed_cpus() -> usize {
        let mask = mask();
        (0..CpuSet::count())
            .filter(|&cpu| mask.is_set(cpu) == Ok(true))
            .count()
    }

    #[test]
    fn runnable_tasks_are_read_from_loadavg() {
        assert_eq!(runnable_tasks("0.35 0.81 1.20 2/85 20853\n"), Some(2));
        assert_eq!(runnable_tasks("12.00 9.50 7.25 17/1234 99"), Some(17));
        // gVisor's constant line: unknown, not "nothing runs".
        assert_eq!(runnable_tasks("0.00 0.00 0.00 0/0 0"), None);
        assert_eq!(runnable_tasks("0.35 0.81 1.20"), None);
        assert_eq!(runnable_tasks("0.35 0.81 1.20 x/85 1"), None);
        assert_eq!(runnable_tasks(""), None);
    }

    /// Both closures run and the helper ends with the mask it was created
    /// with, whether it was moved or not; the caller's mask is untouched.
    #[test]
    fn the_helper_keeps_the_callers_cpu_mask() {
        let caller = mask();
        for idle in [true, false] {
            let (a, (b, helper)) = in_parallel_placed(idle, || 6 * 7, || ("second", mask()));
            assert_eq!((a, b), (42, "second"));
            assert_eq!(helper, caller, "idle: {idle}");
            assert_eq!(mask(), caller, "the calling thread's mask is never touched");
        }
        let (a, b) = in_parallel(|| 1, || 2);
        assert_eq!((a, b), (1, 2));
    }

    /// A thread on a CPU it may leave is moved off it, and gets its mask
    /// back.
    #[test]
    fn a_thread_is_moved_off_its_cpu_and_gets_its_mask_back() {
        std::thread::spawn(|| {
            let before = mask();
            // Retried: the thread may change CPU between the two calls.
            let moved = (0..100).any(|_| move_off(this_cpu()));
            assert_eq!(moved, allowed_cpus() >= 2);
            assert_eq!(mask(), before);
            // A CPU it may not run on, so is not on: nothing to do.
            let never = (0..CpuSet::count()).find(|&cpu| before.is_set(cpu) == Ok(false));
            assert!(never.is_some_and(|cpu| !move_off(Some(cpu))));
            assert!(!move_off(None));
        })
        .join()
        .expect("thread");
    }

    /// A thread that may run on one CPU only stays there, mask unchanged.
    #[test]
    fn a_thread_bound_to_one_cpu_is_not_moved() {
        std::thread::spawn(|| {
            let cpu = this_cpu().expect("sched_getcpu");
            let mut one = CpuSet::new();
            one.set(cpu).expect("cpu index");
            sched_setaffinity(Pid::from_raw(0), &one).expect("bind");
            assert!(!move_off(Some(cpu)));
            assert_eq!(mask(), one);
            assert_eq!(this_cpu(), Some(cpu));
        })
        .join()
        .expect("thread");
    }
}
