#!/usr/bin/env python3
"""Build the XTF pv64 kernels, or run one under lodger (meson suite `xtf`).

    run_xtf.py --shared DIR --out DIR --build
    run_xtf.py --shared DIR --out DIR --lodger PATH --name TEST [--timeout S]
               [--lodger-arg ARG]... [--expect-reloc] [--expect-stat KEY=MIN]...

The kernels are built by DIR/tools/xtf-build into the build tree (OUTDIR/pv64), once,
under a lock, by whichever test gets there first; lodger's own tests (tests/xtf/own/NAME,
XTF test cases of the same form) are then built with XTF's framework beside them. A run
passes when the Xen console shows
"Test result: SUCCESS", skips (77) on "Test result: SKIP", and fails otherwise; the
transcript is printed on failure. With --expect-reloc the run must also show, under
`-d reloc`, that the stub moved (stub-base= placed it where the test's kernel lives);
with --expect-stat KEY=MIN, lodger's -stats value at KEY (dotted: xen.continuations)
must be at least MIN: what the test's success must have taken.

Skips with exit 77 and one line where /dev/kvm is not usable or where the shared folder
(XTF's source and tools/xtf-build) is missing.
"""
import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP = 77


def skip(why):
    print(f"skip: {why}")
    sys.exit(SKIP)


def kvm_usable():
    dev = os.environ.get("LODGER_KVM_DEVICE", "/dev/kvm")
    return os.access(dev, os.R_OK | os.W_OK)


OWN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "own")


def build(shared, out, own=None):
    """XTF's kernels, once; then lodger's own test OWN (a name), if asked for."""
    tool = os.path.join(shared, "tools", "xtf-build")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(out, "pv64", "test-pv64-example")):
            r = subprocess.run([tool, out], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            print(r.stdout, end="")
            if r.returncode:
                print(f"xtf-build failed with status {r.returncode}")
                sys.exit(1)
        if own:
            build_own(out, own)


def build_own(out, name):
    """lodger's own XTF test NAME (tests/xtf/own/NAME), built in the XTF tree xtf-build
    copied into OUT/src, again whenever one of its files is newer than the kernel."""
    src = os.path.join(OWN, name)
    files = [os.path.join(src, f) for f in os.listdir(src)]
    kernel = os.path.join(out, "pv64", f"test-pv64-{name}")
    if os.path.isfile(kernel) and all(os.path.getmtime(f) <= os.path.getmtime(kernel)
                                      for f in files):
        return
    dst = os.path.abspath(os.path.join(out, "src", "tests", name))
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    r = subprocess.run(["make", "-C", os.path.join(out, "src"), f"TESTS={dst}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        print(f"{r.stdout}building {name} with XTF failed with status {r.returncode}")
        sys.exit(1)
    shutil.copy(os.path.join(dst, f"test-pv64-{name}"), kernel)


def variant_args(shared, name):
    """NAME~VARIANT: the cmdline of XTF's tests/NAME/VARIANT.cfg.in, as -append."""
    if "~" not in name:
        return []
    base, variant = name.split("~", 1)
    cfg = os.path.join(shared, "third-party", "xtf", "tests", base, f"{variant}.cfg.in")
    m = re.search(r'^cmdline\s*=\s*"([^"]*)"', open(cfg).read(), re.M)
    return ["-append", m.group(1)] if m else []


def run(args):
    name = args.name.split("~")[0]
    kernel = os.path.join(args.out, "pv64", f"test-pv64-{name}")
    build(args.shared, args.out, name if os.path.isdir(os.path.join(OWN, name)) else None)
    if not os.path.isfile(kernel):
        print(f"{kernel}: not built")
        return 1
    stats = tempfile.NamedTemporaryFile(suffix=".json")
    cmd = ([args.lodger, "-m", "128", "-nographic"] + args.lodger_arg +
           (["-stats", stats.name] if args.expect_stat else []) +
           variant_args(args.shared, args.name) + [kernel])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        print(f"{' '.join(cmd)}: no result within {args.timeout} s\n{out}{err}")
        return 1
    m = re.search(r"Test result: (SUCCESS|SKIP|FAILURE|ERROR)(.*)", out)
    moved = re.search(r"stub (?:0x[0-9a-f]+|0) -> 0x[0-9a-f]+", err)  # %#llx prints 0 as "0"
    if args.expect_reloc and not moved:
        print(f"{' '.join(cmd)}: no relocation of the stub under -d reloc\n"
              f"--- console ---\n{out}--- lodger ---\n{err}")
        return 1
    for want in args.expect_stat:
        key, least = want.split("=")
        try:
            with open(stats.name) as f:
                value = json.load(f)
            for part in key.split("."):
                value = value[part]
        except (OSError, ValueError, KeyError, TypeError):
            value = None
        if not isinstance(value, int) or value < int(least):
            print(f"{' '.join(cmd)}: -stats {key} is {value}, expected at least {least}\n"
                  f"--- console ---\n{out}--- lodger ---\n{err}")
            return 1
    if m and m.group(1) == "SUCCESS" and p.returncode == 0:
        print(m.group(0) + (f" (stub relocated: {moved.group(0)})" if moved else ""))
        return 0
    if m and m.group(1) == "SKIP" and p.returncode == 0:
        # the test's own reason is the console line before the result
        before = out[:m.start()].strip().splitlines()
        skip(m.group(0) + (f" ({before[-1].strip()})" if before else ""))
    print(f"{' '.join(cmd)}: exit status {p.returncode}\n--- console ---\n{out}"
          f"--- lodger ---\n{err}")
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--build", action="store_true")
    ap.add_argument("--lodger")
    ap.add_argument("--name")
    ap.add_argument("--timeout", type=int, default=30)
    ap.add_argument("--lodger-arg", action="append", default=[])
    ap.add_argument("--expect-reloc", action="store_true")
    ap.add_argument("--expect-stat", action="append", default=[])
    args = ap.parse_args()
    if not os.access(os.path.join(args.shared, "tools", "xtf-build"), os.X_OK):
        skip(f"{args.shared}/tools/xtf-build not found (XTF lives in the shared folder)")
    if not kvm_usable():
        skip("/dev/kvm is not usable")
    if args.build:
        build(args.shared, args.out)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
