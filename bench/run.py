#!/usr/bin/env python3
"""Benchmarks: boots guests/bench.elf under lodger in each configuration and prints a table
of the cost of each guest event, in TSC cycles and microseconds per event.

Usage: bench/run.py [BUILD_DIR] [--runs N]     (default build/, 3 runs: the median is shown)

Configurations:
  direct        the guest kernel at CPL0 under KVM (on kvm_pvm: interpreted)
  shadow/vmm    shadow mode, every trap handled by lodger (-machine traps=vmm)
  shadow/auto   shadow mode, the traps the stub can handle handled in the VM
Also timed: relocation of the stub to an unused region (guests/conflict.elf, -d reloc);
one displaced access served, and the hotspot guest with the policy on and off
(guests/fullspace.elf, claims 10-12).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

CONFIGS = [
    ("direct", ["-machine", "mode=direct"]),
    ("shadow/vmm", ["-machine", "mode=shadow,traps=vmm"]),
    ("shadow/auto", ["-machine", "mode=shadow,traps=auto"]),
]


def tsc_mhz():
    """The host's TSC rate, which the guest's rdtsc shares (KVM does not scale it here)."""
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


def run(lodger, args, elf, extra=()):
    p = subprocess.run([lodger, "-m", "32M", "-nographic"] + list(extra) + args + [elf],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit(f"{' '.join(p.args)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    lodger = os.path.join(args.build, "lodger")
    bench = os.path.join(args.build, "guests", "bench.elf")
    conflict = os.path.join(args.build, "guests", "conflict.elf")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("bench: /dev/kvm is not usable here")

    results = {}  # event -> config -> [cycles]
    order = []
    for name, cfg in CONFIGS:
        for _ in range(args.runs):
            out = run(lodger, cfg, bench).stdout
            for event, cycles in re.findall(r"^bench: (\S+) (\d+)$", out, re.M):
                if event not in order:
                    order.append(event)
                results.setdefault(event, {}).setdefault(name, []).append(int(cycles))

    reloc_ns = []
    for _ in range(args.runs):
        err = run(lodger, ["-machine", "mode=shadow", "-d", "reloc"], conflict,
                  ["-append", "region=0xfffffe0000000000"]).stderr
        reloc_ns += [int(n) for n in re.findall(r"\(unused region\).* (\d+) ns", err)]

    # Claims 10-12: the fullspace guest with the stub displaced into a region it uses.
    fullspace = os.path.join(args.build, "guests", "fullspace.elf")
    base = ["-m", "64M", "-machine", "mode=shadow,stub-base=0x10000000000,seed=7"]
    probe = run(lodger, base + ["-d", "reloc"], fullspace, ["-append", "region=0x10000000000"])
    target = re.search(r"-> (0x[0-9a-f]+) \(random region", probe.stderr).group(1)
    served_us, hotspot = [], {}
    for _ in range(args.runs):
        stats = "/tmp/lodger-bench-stats.json"
        run(lodger, base + ["-machine", "reloc-hot=100000", "-stats", stats], fullspace,
            ["-append", f"region=0x10000000000 target={target}"])
        with open(stats) as f:
            r = json.load(f)["relocation"]
        served_us.append(r["time_ns"] / max(r["displaced_accesses_served"], 1) / 1000)
        for policy, hot in (("on", "16"), ("off", "100000")):
            t0 = time.monotonic()
            run(lodger, base + ["-machine", f"reloc-hot={hot}", "-stats", stats], fullspace,
                ["-append", f"region=0x10000000000 target={target} hammer=0x3e8"])
            with open(stats) as f:
                d = json.load(f)["relocation"]["displaced_accesses_served"]
            hotspot.setdefault(policy, []).append((time.monotonic() - t0, d))

    mhz = tsc_mhz()
    print(f"lodger benchmarks: median of {args.runs} runs; TSC {mhz:.0f} MHz" if mhz else
          f"lodger benchmarks: median of {args.runs} runs")
    head = f"| {'event':<26} |" + "".join(f" {n + ' cycles':>19} | {'us':>7} |" for n, _ in CONFIGS)
    print(head)
    print("|" + "-" * 28 + "|" + "".join("-" * 21 + "|" + "-" * 9 + "|" for _ in CONFIGS))
    for event in order:
        row = f"| {event:<26} |"
        for name, _ in CONFIGS:
            v = results[event].get(name)
            med = statistics.median(v) if v else None
            us = f"{med / mhz:.1f}" if med is not None and mhz else "-"
            row += f" {med if med is not None else '-':>19} | {us:>7} |"
        print(row)
    if reloc_ns:
        print(f"\nrelocation to an unused region (in lodger, host clock): median "
              f"{statistics.median(reloc_ns) / 1000:.1f} us over {len(reloc_ns)} moves")
    print(f"one displaced access served (a step with the stub moved aside; fullspace guest): "
          f"median {statistics.median(served_us):.0f} us")
    for policy, runs in hotspot.items():
        secs = statistics.median(t for t, _ in runs)
        served = statistics.median(d for _, d in runs)
        print(f"hotspot guest, 1000 accesses to the displaced region, policy {policy}: "
              f"{secs:.2f} s, {served:.0f} accesses served by a step")


if __name__ == "__main__":
    main()
