#!/usr/bin/env python3
"""Debian's stock 6.1 kernel booted by lodger through its Xen PV personality, to the
initramfs's marker, a command, and a clean power-off.

The kernel comes from scripts/get-debian-kernel (the build tree's cache), the initramfs
from scripts/make-initramfs (made once into the same cache). lodger runs

    lodger -m 512M -kernel VMLINUZ -initrd INITRAMFS -append "console=hvc0 -- echo TOKEN"

and the console must show, in order: "Linux version 6.1", "Run /init as init process",
"lodger-initramfs: userspace up", TOKEN, "lodger-initramfs: command exited with status 0";
lodger must exit 0. With --expect-reloc (and -d reloc among the lodger arguments) the stub
must also have moved. Skips (77, one line) when /dev/kvm is not usable or the package
cannot be fetched.

Usage: linux_boot.py --lodger L --get-kernel S --make-initramfs S --cache DIR
                     [--timeout SECONDS] [--lodger-arg ARG]... [--expect-reloc]
"""
import argparse
import os
import re
import signal
import subprocess
import sys

SKIP = 77
TOKEN = "lodger-linux-boot-command-ran"
MILESTONES = [
    "Linux version 6.1",
    "Run /init as init process",
    "lodger-initramfs: userspace up",
    TOKEN,
    "lodger-initramfs: command exited with status 0",
]


def skip(why):
    print(f"skip: {why}")
    sys.exit(SKIP)


def kvm_usable():
    dev = os.environ.get("LODGER_KVM_DEVICE", "/dev/kvm")
    return os.access(dev, os.R_OK | os.W_OK)


def kernel(script, cache):
    g = subprocess.run([script, cache], capture_output=True, text=True, timeout=600)
    if g.returncode == 3:
        skip(f"Debian's kernel cannot be fetched: {g.stderr.strip()}")
    if g.returncode:
        print(f"FAIL: get-debian-kernel exited {g.returncode}: {g.stderr.strip()}")
        sys.exit(1)
    info = dict(line.split("=", 1) for line in g.stdout.splitlines() if "=" in line)
    return info["vmlinuz"]


def initramfs(script, cache):
    out = os.path.join(cache, "initramfs.cpio")
    if os.path.isfile(out):
        return out
    r = subprocess.run([script, "-o", out], capture_output=True, text=True, timeout=600)
    if r.returncode == 3:
        skip(f"Debian's busybox-static cannot be fetched: {r.stderr.strip()}")
    if r.returncode:
        print(f"FAIL: make-initramfs exited {r.returncode}: {r.stderr.strip()}")
        sys.exit(1)
    return out


def in_order(text, wanted):
    """The first milestone missing from text (in order), or None."""
    at = 0
    for w in wanted:
        i = text.find(w, at)
        if i < 0:
            return w
        at = i + len(w)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lodger", required=True)
    ap.add_argument("--get-kernel", required=True)
    ap.add_argument("--make-initramfs", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--timeout", type=int,
                    default=int(os.environ.get("LINUX_BOOT_TIMEOUT", "600")))
    ap.add_argument("--lodger-arg", action="append", default=[])
    ap.add_argument("--expect-reloc", action="store_true")
    args = ap.parse_args()
    if not kvm_usable():
        skip("/dev/kvm is not usable")
    vmlinuz = kernel(args.get_kernel, args.cache)
    initrd = initramfs(args.make_initramfs, args.cache)
    cmd = [args.lodger, "-m", "512M", "-kernel", vmlinuz, "-initrd", initrd, "-append",
           f"console=hvc0 -- echo {TOKEN}"] + args.lodger_arg
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, errors="replace",
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        print(f"FAIL: no power-off within {args.timeout} s\n--- console (tail) ---\n"
              f"{out[-4000:]}\n--- lodger (tail) ---\n{err[-4000:]}")
        return 1
    missing = in_order(out, MILESTONES)
    moved = re.search(r"stub 0x[0-9a-f]+ -> 0x[0-9a-f]+", err)
    problems = []
    if missing:
        problems.append(f"console lacks {missing!r} (in order)")
    if p.returncode:
        problems.append(f"lodger exited {p.returncode}, expected 0")
    if args.expect_reloc and not moved:
        problems.append("the stub did not move (-d reloc)")
    if problems:
        print("FAIL: " + "; ".join(problems) + f"\n--- console (tail) ---\n{out[-4000:]}"
              f"\n--- lodger (tail) ---\n{err[-4000:]}")
        return 1
    print("ok: " + ", ".join(MILESTONES[:3]) + ", the command, status 0" +
          (f"; stub relocated ({moved.group(0)})" if moved else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
