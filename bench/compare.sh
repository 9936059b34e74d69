#!/usr/bin/env bash
# Times nsec against the real Go sops 3.11 in the same run, for encrypt and
# decrypt of YAML files with 1, 10,000 and 100,000 values, and prints the
# ratios of wall time and of peak memory (RSS) next to the goals of issue 14.
# Then 1,000,000 values for nsec only (sops does not finish them in minutes):
# time and memory against the 100,000-value run (linear is 10x) and the peak
# memory per MB of input.
#
#   bench/compare.sh                       # release build, 5 runs each (100 for
#                                          # one value), median
#   RUNS=9 bench/compare.sh
#   NSEC_BEFORE=/tmp/old/nsec bench/compare.sh   # also an older build, same run
#   SIZES="1 10000" MILLION=0 bench/compare.sh   # a quicker subset
#
# Every run is one whole process (start-up included): wall time from a
# monotonic clock around spawn and wait; peak RSS from GNU time, in a
# separate run of the same command. The
# runs of nsec, the older nsec and sops are interleaved, so load that comes
# and goes hits all of them alike. Medians; the spread (max/min of the runs)
# is printed so a noisy machine shows, and so is the ratio of CPU time
# (user + system, all threads), which waiting for a loaded machine's cores
# does not change (sops spreads its work over more threads than nsec).
#
# bench/README.md has the numbers of issue 14 (before and after, one run)
# and the levers measured.
#
# Needs: the sops binary that scripts/test.sh installs (.test-tools/bin/sops,
# or $NSEC_TEST_SOPS), python3, GNU time (/usr/bin/time). Nothing is asserted: this is a measurement,
# not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-5}
sizes=${SIZES:-1 10000 100000}
million=${MILLION:-1}
sops=${NSEC_TEST_SOPS:-$root/.test-tools/bin/sops}
[ -x "$sops" ] || { echo "no sops at $sops (run scripts/test.sh once)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install time" >&2; exit 2; }
if [ -z "${NSEC:-}" ]; then
  cargo build -q --release -p secrets-cli
  NSEC=${CARGO_TARGET_DIR:-$root/target}/release/nsec
fi
before=${NSEC_BEFORE:-}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
key=$root/tests/data/vectors/keys/age-test-key-A.txt
recipient=age1s57gtcmp6dt42ctny6gcgwsf3fgjd32mjzksulrggvqfzrk65aksxmwzle
export HOME=$work/home SOPS_DISABLE_VERSION_CHECK=1 SOPS_AGE_KEY_FILE=$key
unset SOPS_CONFIG NSEC_DIR XDG_CONFIG_HOME || true

echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg), runs: $runs"
python3 - "$runs" "$sizes" "$million" "$work" "$NSEC" "$sops" "$recipient" "$before" <<'PY'
import os, subprocess, sys, time, statistics

runs, sizes, million, work, nsec, sops, recipient, before = sys.argv[1:]
runs, sizes = int(runs), [int(s) for s in sizes.split()]

def gen(n, path):
    """n string/int/bool values in nested maps of 50, with comments."""
    with open(path, "w") as f:
        if n == 1:
            f.write("openai: sk-test-0123456789abcdef\n")
            return
        groups = max(1, n // 50)
        per = n // groups
        for g in range(groups):
            f.write(f"# service {g}\nservice_{g}:\n")
            for i in range(per):
                kind = i % 3
                v = (f"secret-value-{g}-{i}-abcdefghijklmnop" if kind == 0
                     else str(g * 1000 + i) if kind == 1 else "true")
                f.write(f"    key_{i}: {v}\n")

def once(cmd):
    """Wall seconds and CPU seconds (user + system, from wait4) of one run
    of cmd."""
    t = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_utime + usage.ru_stime

def peak_mib(cmd):
    """Peak RSS (MiB) of one run of cmd, by GNU time: a small process that
    forks, where a child of this Python process would inherit Python's
    larger high-water mark across exec."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, check=True)
    return int(p.stderr.strip().splitlines()[-1]) / 1024

def measure(cmds, runs):
    """Runs the commands interleaved `runs` times: per command, the median
    wall, the median peak RSS, the spread of the walls and the median CPU
    time."""
    results = [([], [], []) for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            wall, cpu = once(c)
            results[i][0].append(wall)
            results[i][1].append(peak_mib(c))
            results[i][2].append(cpu)
    return [(statistics.median(w), statistics.median(m), max(w) / min(w), statistics.median(c))
            for w, m, c in results]

def commands(op, plain, enc, binary):
    if op == "encrypt":
        return [binary, "encrypt", "--age", recipient, plain]
    return [binary, "decrypt", enc]

goals = {1: (0.10, 0.25)}
print(f"{'op':8} {'values':>8} {'nsec s':>9} {'sops s':>9} {'ratio':>7} {'goal':>6} "
      f"{'nsec MiB':>9} {'sops MiB':>9} {'ratio':>6} {'goal':>5} {'spread':>7} {'cpu':>6}"
      + (f" {'before s':>9} {'ratio':>6} {'bef MiB':>8}" if before else ""))
hundred_k = {}
for n in sizes:
    plain, enc = f"{work}/plain-{n}.yaml", f"{work}/enc-{n}.yaml"
    gen(n, plain)
    with open(enc, "w") as f:
        subprocess.run([sops, "encrypt", "--age", recipient, plain], stdout=f, check=True)
    for op in ("encrypt", "decrypt"):
        cmds = [commands(op, plain, enc, nsec), commands(op, plain, enc, sops)]
        if before:
            cmds.append(commands(op, plain, enc, before))
        # One value takes about a millisecond: many more runs for a median
        # that holds still on a loaded machine.
        res = measure(cmds, runs * 20 if n == 1 else runs)
        (nt, nm, spread, nc), (st, sm, sspread, sc) = res[0], res[1]
        tg, mg = goals.get(n, (0.033, 0.15))
        line = (f"{op:8} {n:>8} {nt:9.4f} {st:9.4f} {nt/st:7.3f} {tg:6.3f} "
                f"{nm:9.1f} {sm:9.1f} {nm/sm:6.2f} {mg:5.2f} {max(spread, sspread):6.2f}x "
                + f"{nc / sc:6.3f}")
        if before:
            bt, bm, _, _ = res[2]
            line += f" {bt:9.4f} {bt/st:6.3f} {bm:8.1f}"
        print(line, flush=True)
        if n == 100000:
            hundred_k[op] = (nt, nm, res[2] if before else None)

if million != "0":
    n = 1_000_000
    plain, enc = f"{work}/plain-{n}.yaml", f"{work}/enc-{n}.yaml"
    gen(n, plain)
    mb = os.path.getsize(plain) / 1e6
    with open(enc, "w") as f:
        subprocess.run([nsec, "encrypt", "--age", recipient, plain], stdout=f, check=True)
    print(f"\n1,000,000 values, nsec only ({mb:.1f} MB of YAML in, "
          f"{os.path.getsize(enc) / 1e6:.1f} MB encrypted); x100k: against the 100,000-value "
          f"run above (linear is 10x, the goal at most 12x)")
    print(f"{'op':8} {'nsec s':>9} {'x100k':>6} {'MiB':>8} {'x100k':>6} {'MiB/MB in':>10} {'spread':>7} {'cpu s':>6}"
          + (f" {'before s':>9} {'x100k':>6} {'bef MiB':>8} {'x100k':>6}" if before else ""))
    for op in ("encrypt", "decrypt"):
        # The input of the memory ratio: the file the command reads.
        size_in = mb if op == "encrypt" else os.path.getsize(enc) / 1e6
        cmds = [commands(op, plain, enc, nsec)]
        if before:
            cmds.append(commands(op, plain, enc, before))
        res = measure(cmds, runs)
        t, m, spread, cpu = res[0]
        base = hundred_k.get(op)
        xt = f"{t / base[0]:6.1f}" if base else f"{'-':>6}"
        xm = f"{m / base[1]:6.1f}" if base else f"{'-':>6}"
        line = f"{op:8} {t:9.3f} {xt} {m:8.1f} {xm} {m / size_in:10.1f} {spread:6.2f}x {cpu:6.2f}"
        if before:
            bt, bm, _, _ = res[1]
            bb = base[2] if base else None
            line += (f" {bt:9.3f} " + (f"{bt / bb[0]:6.1f}" if bb else f"{'-':>6}")
                     + f" {bm:8.1f} " + (f"{bm / bb[1]:6.1f}" if bb else f"{'-':>6}"))
        print(line, flush=True)
PY
