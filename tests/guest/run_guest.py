#!/usr/bin/env python3
"""Boot one test guest under lodger and judge the run (meson suite `guest`).

For each mode given (--modes direct[,shadow]) it runs

    lodger -machine mode=MODE -m MEM -nographic [-append ARGS] GUEST.elf

with a timeout (the whole process group is killed when it expires), and classifies the
run from lodger's exit status and the serial transcript (lodger's stdout):

  pass        exit 0 (the guest powered off) and "<name>: PASS" and every --expect line
  limitation  exit RT_EXIT_LIMITATION (guests/rt/rt.h) and a "<name>: LIMITATION: ..." line,
              in direct mode: the guest detected a known departure of the backend from the
              architecture (docs/platform.md; docs/testing.md). A skip on kvm_pvm and on a
              nested KVM whose CPU is QEMU's TCG (scripts/nested-kvm), a failure on any
              other backend, and always a failure in shadow mode, which must not depend on
              the backend.
  fail        anything else; the whole transcript is printed.

With --expect-status N (a destructive attempt whose architectural end is, say, a triple
fault: lodger's status 8), a run passes instead when lodger exits with N, the transcript
has neither "<name>: PASS" nor a "<name>: FAIL" line, holds every --expect line, and ends
with a "<name>: STEP" line: the guest got as far as its attack's STEP, and nothing it did
afterwards printed anything.

With several modes that all pass, the transcripts and exit statuses must be identical:
a guest behaves the same in direct and shadow mode (docs/testing.md). A run that ends
in a limitation is not compared (its transcript stops short by design).

With --disk SIZE each run gets a fresh zeroed raw image of SIZE bytes (K/M suffix) as
-drive file=IMAGE,format=raw,if=virtio; with --disk-check blk a passing run must also have
left the blk guest's pattern in every sector of it (checked here, on the host).

Exit status: 0 pass, 77 skip (no usable /dev/kvm, or a limitation on kvm_pvm or QEMU's TCG),
1 fail.
"""

import argparse
import difflib
import json
import re
import tempfile
import os
import signal
import struct
import subprocess
import sys
import time

SKIP = 77
RT_EXIT_FAIL = 0x01  # guests/rt/rt.h: what the guest writes to isa-debug-exit
RT_EXIT_LIMITATION = 0x3E
LIMITATION_STATUS = (RT_EXIT_LIMITATION << 1) | 1

# src/front/exitcode.h: lodger's own statuses are even; odd ones come from isa-debug-exit.
LODGER_STATUS = {
    0: "guest powered off",
    2: "lodger: bad usage",
    4: "lodger: bad image",
    6: "lodger: KVM unavailable",
    8: "guest triple fault",
    10: "lodger: KVM internal error or unhandled exit",
    12: "lodger: host error",
}


def describe_status(rc):
    if rc is None:
        return "timed out (killed)"
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    if rc in LODGER_STATUS:
        return f"{rc} ({LODGER_STATUS[rc]})"
    if rc & 1:
        what = {RT_EXIT_FAIL: ": FAIL", RT_EXIT_LIMITATION: ": LIMITATION"}.get(rc >> 1, "")
        return f"{rc} (isa-debug-exit 0x{rc >> 1:x}{what})"
    return f"{rc} (unknown)"


def kvm_unavailable():
    """None if /dev/kvm can be opened read-write, else why not."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return e.strerror if e.errno != 2 else "no /dev/kvm"
    os.close(fd)
    return None


def limited_backend():
    """The backend whose known departures from the architecture a guest's LIMITATION may
    report in direct mode, or None: kvm_pvm, or a nested KVM whose CPU is QEMU's TCG
    (scripts/nested-kvm: the events KVM injects are delivered by QEMU's emulation)."""
    if os.path.exists("/sys/module/kvm_pvm"):
        return "kvm_pvm"
    try:
        with open("/proc/cpuinfo") as f:
            if re.search(r"^model name\s*:\s*QEMU TCG CPU", f.read(), re.M):
                return "QEMU TCG (nested KVM)"
    except OSError:
        pass
    return None


class Run:
    def __init__(self, mode, cmd, rc, out, err, seconds):
        self.mode, self.cmd, self.rc = mode, cmd, rc
        self.out, self.err, self.seconds = out, err, seconds
        self.verdict, self.why = None, ""

    def transcript(self):
        lines = [f"--- {self.mode} mode: {' '.join(self.cmd)}",
                 f"--- exit status: {describe_status(self.rc)} after {self.seconds:.1f} s",
                 "--- serial output (stdout):", self.out.rstrip("\n"),
                 "--- lodger stderr:", self.err.rstrip("\n"), "--- end"]
        return "\n".join(lines)


def parse_size(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def blk_pattern_problems(path):
    """guests/blk.c's pattern: word w of sector s is s << 32 | w << 16 | 0xb10c."""
    with open(path, "rb") as f:
        data = f.read()
    for s in range(len(data) // 512):
        words = struct.unpack_from("<64Q", data, s * 512)
        for w, v in enumerate(words):
            if v != (s << 32 | w << 16 | 0xB10C):
                return f"sector {s} word {w} of the image is {v:#x}, not the guest's pattern"
    return None


def run_once(args, mode):
    cmd = [args.lodger, "-machine", f"mode={mode}", "-m", args.mem, "-nographic"]
    disk = None
    if args.disk:
        fd, disk = tempfile.mkstemp(suffix=".img")
        os.ftruncate(fd, parse_size(args.disk))
        os.close(fd)
        cmd += ["-drive", f"file={disk},format=raw,if=virtio"]
    stats = None
    if mode == "shadow" and args.shadow_stats:
        stats = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
        cmd += ["-stats", stats]
    if args.append is not None:
        cmd += ["-append", args.append]
    cmd += args.lodger_arg + [args.elf]
    start = time.monotonic()
    # A session of its own, so that a timeout kills lodger and anything it started.
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
    seconds = time.monotonic() - start
    decode = lambda b: b.decode("utf-8", errors="replace").replace("\r\n", "\n")
    run = Run(mode, cmd, rc, decode(out), decode(err), seconds)
    run.disk_problem = None
    if disk:
        if args.disk_check == "blk":
            run.disk_problem = blk_pattern_problems(disk)
        os.unlink(disk)
    run.stats = None
    if stats:
        try:
            with open(stats) as f:
                run.stats = json.load(f)
        except (OSError, ValueError):
            pass
        os.unlink(stats)
    return run


def classify_expected_status(args, run):
    """--expect-status: the run must end with that status right after a STEP line."""
    lines = run.out.splitlines()
    problems = []
    if run.rc != args.expect_status:
        problems.append(f"exit status {describe_status(run.rc)}, "
                        f"not {describe_status(args.expect_status)}")
    if f"{args.name}: PASS" in lines:
        problems.append("it printed PASS")
    fails = [l for l in lines if l.startswith(f"{args.name}: FAIL")]
    if fails:
        problems.append(fails[0])
    missing = [e for e in args.expect if e not in lines]
    if missing:
        problems.append("the transcript lacks: " + "; ".join(repr(m) for m in missing))
    logs = args.expect_log + (args.expect_shadow_log if run.mode == "shadow" else [])
    missing = [e for e in logs if e not in run.err]
    if missing:
        problems.append("lodger's stderr lacks: " + "; ".join(repr(m) for m in missing))
    if not lines or not lines[-1].startswith(f"{args.name}: STEP "):
        problems.append("the transcript does not end with the attack's STEP line")
    run.verdict = "fail" if problems else "pass"
    run.why = "; ".join(problems)


def classify(args, run):
    if args.expect_status is not None:
        classify_expected_status(args, run)
        return
    lines = run.out.splitlines()
    pass_line = f"{args.name}: PASS"
    limitations = [l for l in lines if l.startswith(f"{args.name}: LIMITATION: ")]
    if run.rc == 0:
        missing = [e for e in [pass_line] + args.expect if e not in lines]
        missing += [f"(stderr) {e}" for e in args.expect_log if e not in run.err]
        if run.mode == "shadow":
            missing += [f"(stderr) {e}" for e in args.expect_shadow_log if e not in run.err]
            for expr in args.shadow_stats:
                if run.stats is None or not eval(expr, {}, {"s": run.stats}):
                    missing.append(f"(-stats) {expr} (stats: {run.stats})")
        if missing:
            run.verdict = "fail"
            run.why = "powered off, but the transcript lacks: " + "; ".join(
                repr(m) for m in missing)
        elif run.disk_problem:
            run.verdict = "fail"
            run.why = "powered off, but " + run.disk_problem
        else:
            run.verdict = "pass"
    elif run.rc == LIMITATION_STATUS and limitations and run.mode == "direct":
        # Only direct mode may stop short: shadow mode must get these right everywhere.
        run.verdict = "limitation"
        run.why = "; ".join(l.split("LIMITATION: ", 1)[1] for l in limitations)
    else:
        run.verdict = "fail"
        fails = [l for l in lines if l.startswith(f"{args.name}: FAIL")]
        run.why = ("timed out" if run.rc is None else f"exit status {describe_status(run.rc)}")
        if fails:
            run.why += ": " + fails[0]


def compare(runs):
    """Differences between the runs' transcripts and statuses (empty if none)."""
    problems = []
    first = runs[0]
    for other in runs[1:]:
        if other.rc != first.rc:
            problems.append(f"exit status differs: {first.mode} {describe_status(first.rc)}, "
                            f"{other.mode} {describe_status(other.rc)}")
        if other.out != first.out:
            diff = difflib.unified_diff(first.out.splitlines(), other.out.splitlines(),
                                        f"{first.mode}", f"{other.mode}", lineterm="")
            problems.append("serial transcripts differ:\n" + "\n".join(diff))
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lodger", required=True, help="the lodger executable")
    ap.add_argument("--elf", required=True, help="the guest image")
    ap.add_argument("--name", required=True, help="the guest's name, as it prints it")
    ap.add_argument("--modes", default="direct", help="comma-separated: direct,shadow")
    ap.add_argument("--mem", default="32M")
    ap.add_argument("--append", help="kernel command line (/chosen bootargs)")
    ap.add_argument("--expect", action="append", default=[],
                    help="a line the transcript must contain (repeatable)")
    ap.add_argument("--expect-shadow-log", action="append", default=[],
                    help="text lodger's stderr must contain in shadow mode (repeatable), "
                    "e.g. a -d reloc line showing the stub moved")
    ap.add_argument("--expect-log", action="append", default=[],
                    help="text lodger's stderr must contain in every mode (repeatable)")
    ap.add_argument("--expect-status", type=int, metavar="N",
                    help="the run must end with lodger's exit status N right after a STEP "
                    "line, without PASS (a destructive attempt, e.g. 8: triple fault)")
    ap.add_argument("--learn-target", action="store_true",
                    help="first run the guest in shadow mode with -d reloc, read where the stub "
                    "moved to (a random region: reproducible with -machine seed=) and add "
                    "target=<it> to the bootargs of the real runs")
    ap.add_argument("--shadow-stats", action="append", default=[],
                    help="a Python expression over the shadow run's -stats JSON (as `s`) that "
                    "must be true, e.g. \"s['relocation']['hot_moves'] >= 1\" (repeatable)")
    ap.add_argument("--lodger-arg", action="append", default=[],
                    help="an extra lodger argument (repeatable)")
    ap.add_argument("--disk", help="give the guest a fresh raw image of this size (-drive)")
    ap.add_argument("--disk-check", choices=["blk"],
                    help="after a passing run, the image must hold that guest's pattern")
    ap.add_argument("--timeout", type=float, default=100.0, help="seconds per run")
    args = ap.parse_args()

    why = kvm_unavailable()
    if why:
        print(f"SKIP: /dev/kvm not available ({why})")
        return SKIP

    if args.learn_target:
        saved = args.lodger_arg
        args.lodger_arg = saved + ["-d", "reloc"]
        probe = run_once(args, "shadow")
        args.lodger_arg = saved
        found = re.search(r"-> (0x[0-9a-f]+) \(random region", probe.err)
        if not found:
            print("FAIL: the probe run shows no move of the stub to a random region")
            print(probe.transcript())
            return 1
        args.append = (args.append or "") + f" target={found.group(1)}"
        print(f"the stub moves to {found.group(1)}: bootargs now {args.append!r}")

    modes = [m for m in args.modes.split(",") if m]
    runs = []
    for mode in modes:
        run = run_once(args, mode)
        classify(args, run)
        runs.append(run)
        print(f"{run.verdict}: {args.name} in {mode} mode, "
              f"{describe_status(run.rc)}, {run.seconds:.1f} s")

    failed = [r for r in runs if r.verdict == "fail"]
    limited = [r for r in runs if r.verdict == "limitation"]
    backend = limited_backend()
    if limited and not backend:
        for r in limited:
            r.why = ("LIMITATION reported, but the backend is neither kvm_pvm nor QEMU's TCG: "
                     + r.why)
        failed += limited
    if failed:
        for r in failed:
            print(f"FAIL: {args.name} in {r.mode} mode: {r.why}")
            print(r.transcript())
        return 1
    if limited:
        for r in limited:
            print(f"SKIP: {args.name} in {r.mode} mode hit a known {backend} limitation: "
                  f"{r.why}")
            print(r.transcript())
        return SKIP

    problems = compare(runs) if len(runs) > 1 else []
    if problems:
        print(f"FAIL: {args.name} does not behave the same in {', '.join(modes)} mode:")
        for p in problems:
            print(p)
        for r in runs:
            print(r.transcript())
        return 1
    print(f"PASS: {args.name} in {', '.join(modes)} mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
