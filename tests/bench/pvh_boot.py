#!/usr/bin/env python3
"""The benchmark guest boots under QEMU through its PVH note (meson suite `bench`).

bench/run.py compares lodger with QEMU on one image, guests/bench.elf, which QEMU boots
with -kernel through the XEN_ELFNOTE_PHYS32_ENTRY note (guests/rt/pvh.S). This checks,
under QEMU TCG (no /dev/kvm needed), that
  - the guest boots, reports every event bench/run.py knows with its numbers, and passes
    (QEMU exits 0 through the power-off port);
  - events= selects events and rounds= is obeyed as far as it is checked (a bad value is
    refused with the guest's FAIL line and isa-debug-exit status 3).
Exit status: 0 pass, 1 fail, 77 skip (no qemu-system-x86_64: Debian's qemu-system-x86).
"""
import argparse
import importlib.util
import os
import shutil
import subprocess
import sys

QEMU = "qemu-system-x86_64"


def load_run_py(srcdir):
    spec = importlib.util.spec_from_file_location("bench_run",
                                                  os.path.join(srcdir, "bench", "run.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def boot(elf, append):
    cmd = [QEMU, "-accel", "tcg", "-m", "128M", "-nodefaults", "-display", "none",
           "-serial", "stdio", "-no-reboot", "-device",
           "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", elf, "-append", append]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=100)
    return p.returncode, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--elf", required=True)
    ap.add_argument("--srcdir", required=True)
    args = ap.parse_args()
    if not shutil.which(QEMU):
        print(f"{QEMU} not found (Debian: qemu-system-x86): skipping")
        return 77
    run = load_run_py(args.srcdir)
    failures = []

    rc, out = boot(args.elf, "rounds=20")
    seen = {m[0]: m for m in run.LINE.findall(out)}
    if rc != 0 or "bench: PASS" not in out:
        failures.append(f"rounds=20: exit {rc}, no 'bench: PASS'")
    for event in run.EVENTS:
        if event not in seen:
            failures.append(f"rounds=20: no line for event {event}")
        elif int(seen[event][2]) < int(seen[event][1]):
            failures.append(f"{event}: p99 {seen[event][2]} below its median {seen[event][1]}")
    if "slice" in seen and int(seen["slice"][1]) <= int(seen.get("out", (0, "0"))[1]):
        failures.append("a slice (10,000 user iterations) costs no more than one out")

    rc, out = boot(args.elf, "events=ud2,cr3-switch rounds=5")
    got = sorted(m[0] for m in run.LINE.findall(out))
    if rc != 0 or got != ["cr3-switch", "ud2"]:
        failures.append(f"events=ud2,cr3-switch: exit {rc}, events reported {got}")

    rc, out = boot(args.elf, "rounds=5000")
    if rc != 3 or "bench: FAIL rounds=5000 is not a number from 1 to" not in out:
        failures.append(f"rounds=5000: exit {rc} (expected 3 and the guest's FAIL line)")

    for f in failures:
        print("FAIL:", f)
    if failures:
        print("last transcript:\n" + out)
        return 1
    print(f"pass: {len(run.EVENTS)} events reported under QEMU TCG (PVH boot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
