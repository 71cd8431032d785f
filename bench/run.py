#!/usr/bin/env python3
"""Benchmarks: the same guest (guests/bench.elf) under QEMU and lodger, side by side, and
every lodger shadow-mode event against the floor the backend allows (bench/floor).

Usage: bench/run.py [BUILD_DIR] [--runs N] [--rounds N] [--configs a,b,...] [--no-traps]
                    [--no-relocation]
       (default build/, 3 runs of each configuration, 200 samples per event)

In one run it
  1. runs bench/floor (needs /dev/kvm): the cheapest round trips of each path lodger
     takes - (a) a CPL3 trap that exits to userspace, (b) a trap handled in the VM,
     (c) a bare exit, (d) a CPL3 syscall;
  2. boots guests/bench.elf N times in each configuration:
        qemu-tcg      QEMU 7.2 (Debian's qemu-system-x86), TCG, PVH boot (-kernel)
        qemu-kvm      the same with -accel kvm                       (needs /dev/kvm)
        direct        lodger -machine mode=direct                    (needs /dev/kvm)
        shadow        lodger -machine mode=shadow,traps=auto         (needs /dev/kvm)
        shadow-vmm    lodger -machine mode=shadow,traps=vmm          (needs /dev/kvm)
        shadow-memslot  traps=auto,kvm-sync=memslot: without EPT/NPT, removals as
                      memslot re-registrations instead of the zap log (needs /dev/kvm)
     and prints the median per operation, the spread over the runs, and ratios; a
     configuration that cannot run here is listed with the reason;
  3. for each shadow configuration, counts each event's traps (lodger's -stats, two runs
     that differ only in rounds=, so setup and output cancel) and prints the event's cost
     as a multiple of its floor and of the bound its trap count implies:
        bound = traps in lodger per op x floor (a) + traps in the stub per op x floor (b);
  4. times the stub's relocation, a displaced access and the hotspot policy
     (guests/conflict.elf, guests/fullspace.elf; DESIGN claims 10-12).
QEMU is installed from Debian when missing (one line says so).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

QEMU = "qemu-system-x86_64"
QEMU_PACKAGE = "qemu-system-x86"

# name -> (column title, kind, extra arguments)
CONFIGS = {
    "qemu-tcg": ("QEMU TCG", "qemu", ["-accel", "tcg"]),
    "qemu-kvm": ("QEMU -accel kvm", "qemu", ["-accel", "kvm"]),
    "direct": ("lodger direct", "lodger", ["-machine", "mode=direct"]),
    "shadow": ("lodger shadow", "lodger", ["-machine", "mode=shadow,traps=auto"]),
    "shadow-vmm": ("shadow traps=vmm", "lodger", ["-machine", "mode=shadow,traps=vmm"]),
    "shadow-memslot": ("shadow kvm-sync=memslot", "lodger",
                       ["-machine", "mode=shadow,traps=auto,kvm-sync=memslot"]),
}
SHADOW = ("shadow", "shadow-vmm", "shadow-memslot")

# The events guests/bench.c reports, in its order, with the words.
EVENTS = {
    "compute": "guest kernel compute, per loop iteration",
    "ud2": "kernel ud2 -> handler -> iretq",
    "pf-map-unmap": "#PF -> map -> iretq; unmap + invlpg",
    "fresh-write": "first write to a fresh page",
    "out": "out to a port",
    "cr3-reload": "CR3 reload (same value)",
    "cr3-switch": "CR3 switch between two address spaces",
    "sti-cli": "sti; cli",
    "invlpg": "invlpg",
    "syscall": "user syscall -> sysretq",
    "slice": "process-like slice (2 spaces, user compute, 4 fresh pages, switch)",
}

# src/front/phase.h's order, for the breakdown's columns
PHASE_ORDER = ["kvm_run", "exit", "memslot", "complete", "regs", "decode", "walk", "fill",
               "flush", "deliver"]

LINE = re.compile(r"^bench: (\S+) (\d+) p99=(\d+) ops=(\d+)\s*$", re.M)
CANNOT = re.compile(r"^bench: (\S+) cannot: (.*?)\s*$", re.M)


def kvm_usable():
    """None if /dev/kvm opens read-write, else why not."""
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
        return None
    except OSError as e:
        return "no /dev/kvm" if e.errno == 2 else f"/dev/kvm: {e.strerror}"


def tsc_mhz(floor):
    """The TSC rate the guests' rdtsc counts at: KVM's (from floor), else the host's."""
    if floor and floor.get("tsc_khz"):
        return floor["tsc_khz"] / 1000
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        m = re.findall(r"tsc: (?:Refined TSC clocksource calibration|Detected) ([0-9.]+) MHz", out)
        if m:
            return float(m[-1])
    except OSError:
        pass
    with open("/proc/cpuinfo") as f:
        m = re.search(r"cpu MHz\s*:\s*([0-9.]+)", f.read())
    return float(m.group(1)) if m else None


def ensure_qemu():
    """None if QEMU is there (installing Debian's package when missing), else why not."""
    if shutil.which(QEMU):
        return None
    print(f"bench: {QEMU} is missing: installing Debian's {QEMU_PACKAGE}", flush=True)
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", QEMU_PACKAGE]
    if os.geteuid() != 0:
        cmd = ["sudo", "-n"] + cmd
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except OSError as e:
        return f"{QEMU} missing, and apt-get could not run ({e.strerror})"
    if p.returncode != 0 or not shutil.which(QEMU):
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        return f"{QEMU} missing, and installing {QEMU_PACKAGE} failed ({last})"
    return None


def command(args, config, elf, append, stats=None):
    _, kind, extra = CONFIGS[config]
    if kind == "qemu":
        return [QEMU] + extra + ["-m", "128M", "-nodefaults", "-display", "none",
                                 "-serial", "stdio", "-no-reboot",
                                 "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                                 "-kernel", elf, "-append", append]
    cmd = [args.lodger, "-m", "64M", "-nographic"] + extra + ["-append", append]
    if stats:
        cmd += ["-stats", stats]
    return cmd + [elf]


def boot(args, config, elf, append, stats=None, timeout=600):
    """(stdout, None) or (None, why it failed)."""
    cmd = command(args, config, elf, append, stats)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if p.returncode != 0 or "bench: PASS" not in p.stdout:
        tail = (p.stdout + p.stderr).strip().splitlines()[-3:]
        return None, f"exit {p.returncode}: " + " / ".join(tail)
    return p.stdout, None


def run_floor(args):
    """floor's JSON, or (None, why not)."""
    floor = os.path.join(args.build, "bench", "floor")
    p = subprocess.run([floor, "-j"], capture_output=True, text=True, timeout=600)
    if p.returncode == 77:
        return None, p.stdout.strip() or "no /dev/kvm"
    if p.returncode != 0:
        return None, f"floor exited {p.returncode}: {p.stderr.strip()}"
    return json.loads(p.stdout), None


def median_spread(values):
    med = statistics.median(values)
    spread = (max(values) - min(values)) / med * 100 if med else 0.0
    return med, spread


def fmt_us(cycles, mhz):
    if cycles is None:
        return "-"
    us = cycles / mhz
    if us < 1:
        return f"{us * 1000:.0f} ns" if us >= 0.01 else f"{us * 1000:.1f} ns"
    return f"{us:,.0f} us" if us >= 100 else f"{us:.2f} us" if us < 10 else f"{us:.1f} us"


def count_traps(args, config, event):
    """One event's traps and phase times per operation, from two runs whose rounds differ
    (everything else in them cancels out): {'vmm': traps, 'stub': traps, 'phases':
    {phase: ns}}, or None if a run failed."""
    lo, hi = args.rounds // 2, args.rounds
    stats = []
    for rounds in (lo, hi):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            out, why = boot(args, config, args.bench, f"events={event} rounds={rounds}",
                            stats=f.name)
            if why:
                return None
            stats.append(json.load(open(f.name)))
        m = LINE.search(out)
        ops = int(m.group(4)) if m else 1
    n = (hi - lo) * ops
    t = {place: (stats[1]["traps"]["handled_in"][place] -
                 stats[0]["traps"]["handled_in"][place]) / n for place in ("vmm", "stub")}
    phases = [s.get("phases", {}) for s in stats]
    t["phases"] = {p: (phases[1][p]["total_ns"] - phases[0].get(p, {}).get("total_ns", 0)) / n
                   for p in phases[1]}
    return t


def relocation_figures(args):
    """The stub's relocation, one displaced access, the hotspot policy (claims 10-12)."""
    conflict = os.path.join(args.build, "guests", "conflict.elf")
    fullspace = os.path.join(args.build, "guests", "fullspace.elf")

    def lodger(extra, elf, append):
        return subprocess.run([args.lodger, "-m", "32M", "-nographic"] + extra +
                              ["-append", append, elf], capture_output=True, text=True,
                              timeout=300)

    reloc_ns = []
    for _ in range(args.runs):
        err = lodger(["-machine", "mode=shadow", "-d", "reloc"], conflict,
                     "region=0xfffffe0000000000").stderr
        reloc_ns += [int(n) for n in re.findall(r"\(unused region\).* (\d+) ns", err)]
    base = ["-m", "64M", "-machine", "mode=shadow,stub-base=0x10000000000,seed=7"]
    probe = lodger(base + ["-d", "reloc"], fullspace, "region=0x10000000000")
    target = re.search(r"-> (0x[0-9a-f]+) \(random region", probe.stderr)
    if not target:
        print("relocation figures: the fullspace guest did not relocate as expected")
        return
    target = target.group(1)
    served_us, hotspot = [], {}
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        for _ in range(args.runs):
            lodger(base + ["-machine", "reloc-hot=100000", "-stats", f.name], fullspace,
                   f"region=0x10000000000 target={target}")
            r = json.load(open(f.name))["relocation"]
            served_us.append(r["time_ns"] / max(r["displaced_accesses_served"], 1) / 1000)
            for policy, hot in (("on", "16"), ("off", "100000")):
                t0 = time.monotonic()
                lodger(base + ["-machine", f"reloc-hot={hot}", "-stats", f.name], fullspace,
                       f"region=0x10000000000 target={target} hammer=0x3e8")
                d = json.load(open(f.name))["relocation"]["displaced_accesses_served"]
                hotspot.setdefault(policy, []).append((time.monotonic() - t0, d))
    if reloc_ns:
        print(f"relocation to an unused region (in lodger, host clock): median "
              f"{statistics.median(reloc_ns) / 1000:.1f} us over {len(reloc_ns)} moves")
    print(f"one displaced access served (a step with the stub moved aside; fullspace "
          f"guest): median {statistics.median(served_us):.0f} us")
    for policy, runs in hotspot.items():
        print(f"hotspot guest, 1000 accesses to the displaced region, policy {policy}: "
              f"{statistics.median(t for t, _ in runs):.2f} s, "
              f"{statistics.median(d for _, d in runs):.0f} accesses served by a step")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=200, help="samples per event (<= 1000)")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="comma-separated subset of: " + ", ".join(CONFIGS))
    ap.add_argument("--no-traps", action="store_true", help="skip the trap counts")
    ap.add_argument("--no-relocation", action="store_true",
                    help="skip the relocation figures")
    ap.add_argument("--load", type=int, default=0, metavar="N",
                    help="run N CPU-bound processes beside the benchmarks (p99 under load)")
    args = ap.parse_args()
    args.lodger = os.path.join(args.build, "lodger")
    args.bench = os.path.join(args.build, "guests", "bench.elf")
    configs = [c for c in args.configs.split(",") if c]
    bad = [c for c in configs if c not in CONFIGS]
    if bad or not 2 <= args.rounds <= 1000 or args.runs < 1:
        ap.error(f"unknown configuration {bad[0]}" if bad else "--rounds 2..1000, --runs >= 1")
    if not os.path.exists(args.bench):
        sys.exit(f"bench: {args.bench} not found: build first (ninja -C {args.build})")

    # Which configurations can run here, and why not the others.
    no_kvm = kvm_usable()
    no_qemu = ensure_qemu() if any(CONFIGS[c][1] == "qemu" for c in configs) else None
    cannot = {}
    for c in configs:
        if CONFIGS[c][1] == "qemu" and no_qemu:
            cannot[c] = no_qemu
        elif c != "qemu-tcg" and no_kvm:
            cannot[c] = no_kvm

    # Host load, if asked for: N busy loops for the whole run (a p99 under load is then
    # compared with a quiet run's medians by hand).
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(args.load)]
    try:
        measure(args, configs, cannot, no_kvm)
    finally:
        for p in load:
            p.kill()
            p.wait()


def measure(args, configs, cannot, no_kvm):
    # 1. The floor, first.
    floor, why_no_floor = run_floor(args) if not no_kvm else (None, no_kvm)
    mhz = tsc_mhz(floor)
    if not mhz:
        sys.exit("bench: cannot tell the TSC rate (no KVM, dmesg or /proc/cpuinfo figure)")

    # 2. Every configuration, args.runs times.
    results = {}  # config -> event -> [(median, p99)]
    refused = {}  # config -> event -> reason
    for c in configs:
        for _ in range(args.runs if c not in cannot else 0):
            out, why = boot(args, c, args.bench, f"rounds={args.rounds}")
            if why:
                cannot[c] = f"failed: {why}"
                results.pop(c, None)
                break
            for event, med, p99, _ops in LINE.findall(out):
                results.setdefault(c, {}).setdefault(event, []).append((int(med), int(p99)))
            for event, reason in CANNOT.findall(out):
                refused.setdefault(c, {})[event] = reason

    def med(c, e):
        runs = results.get(c, {}).get(e)
        return median_spread([m for m, _ in runs]) if runs else (None, None)

    print(f"\nbench/run.py: guests/bench.elf, {args.runs} runs of each configuration, "
          f"{args.rounds} samples per event; median per operation over the runs "
          f"(each run's own median), spread = (max - min) / median; TSC {mhz:.0f} MHz"
          + (f"; {args.load} CPU-bound processes beside it" if args.load else ""))
    head = "| per operation |" + "".join(f" {CONFIGS[c][0]} | spread |" for c in configs)
    ratios = [(a, b) for a, b in (("shadow", "qemu-kvm"), ("shadow", "qemu-tcg"))
              if a in configs and b in configs]
    head += "".join(f" {a} / {CONFIGS[b][0]} |" for a, b in ratios)
    print(head)
    print("|---|" + "---:|---:|" * len(configs) + "---:|" * len(ratios))
    for e, words in EVENTS.items():
        row = f"| {words} |"
        for c in configs:
            m, s = med(c, e)
            if m is not None:
                row += f" {fmt_us(m, mhz)} | {s:.0f}% |"
            elif c in cannot:
                row += " n/a | |"
            else:
                row += f" cannot |  |" if e in refused.get(c, {}) else " - | |"
        for a, b in ratios:
            ma, mb = med(a, e)[0], med(b, e)[0]
            row += f" {ma / mb:.1f}x |" if ma is not None and mb else " - |"
        print(row)
    print("\np99 per operation (median over the runs):")
    print("| event |" + "".join(f" {CONFIGS[c][0]} |" for c in configs))
    print("|---|" + "---:|" * len(configs))
    for e in EVENTS:
        row = f"| {e} |"
        for c in configs:
            runs = results.get(c, {}).get(e)
            row += f" {fmt_us(statistics.median(p for _, p in runs), mhz)} |" if runs else " - |"
        print(row)
    for c in configs:
        if c in cannot:
            print(f"not run here: {CONFIGS[c][0]} ({c}): {cannot[c]}")
        for e, reason in refused.get(c, {}).items():
            print(f"{CONFIGS[c][0]}: {e} cannot run: {reason}")

    # 3. The floor, and each shadow-mode event against it.
    print()
    if not floor:
        print(f"floor (bench/floor): not measured here: {why_no_floor}")
        print("shadow-mode events against the floor: need /dev/kvm")
    else:
        paths = floor["paths"]
        print(f"floor (bench/floor, same run; backend {floor['backend']}, median of "
              f"{floor['repetitions']} x {floor['iterations']} iterations):")
        for key in ("trap_exit", "trap", "exit", "syscall"):
            p = paths.get(key, {})
            value = fmt_us(p["cycles"], mhz) if "cycles" in p else "n/a: " + p.get(
                "unavailable", "?")
            print(f"  {p.get('what', key)}: {value}")
        fa = paths.get("trap_exit", {}).get("cycles")
        fb = paths.get("trap", {}).get("cycles")
        for c in (c for c in SHADOW if c in configs and c not in cannot):
            print(f"\n{CONFIGS[c][0]} against the floor: x(a) = the event / floor (a); "
                  f"bound = traps in lodger x (a) + traps in the stub x (b)")
            print("| event | cost | x(a) | traps/op lodger | traps/op stub | bound | x bound |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            breakdown = {}
            for e in EVENTS:
                m = med(c, e)[0]
                if m is None:
                    continue
                t = None if args.no_traps else count_traps(args, c, e)
                xa = f"{m / fa:.1f}" if fa else "-"
                if t and fa and fb is not None:
                    breakdown[e] = t["phases"]
                    bound = t["vmm"] * fa + t["stub"] * fb
                    xb = f"{m / bound:.1f}" if bound > 0 else "-"
                    print(f"| {e} | {fmt_us(m, mhz)} | {xa} | {t['vmm']:.2f} | "
                          f"{t['stub']:.2f} | {fmt_us(bound, mhz)} | {xb} |")
                else:
                    print(f"| {e} | {fmt_us(m, mhz)} | {xa} | - | - | - | - |")
            names = sorted({p for b in breakdown.values() for p in b},
                           key=lambda p: (PHASE_ORDER + [p]).index(p))
            if names:
                print(f"\n{CONFIGS[c][0]}: where an operation's time goes (lodger's -stats "
                      f"phases, host clock, per operation; kvm_run includes guest time)")
                print("| event |" + "".join(f" {p} |" for p in names))
                print("|---|" + "---:|" * len(names))
                for e, b in breakdown.items():
                    print(f"| {e} |" + "".join(f" {b.get(p, 0) / 1000:.1f} us |"
                                                for p in names))

    # 4. Relocation (lodger only).
    if not args.no_relocation and not no_kvm:
        print()
        relocation_figures(args)


if __name__ == "__main__":
    main()
