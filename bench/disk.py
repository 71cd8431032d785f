#!/usr/bin/env python3
"""Disk benchmark: one raw image, read and written by a Linux guest on lodger (Xen's
blkif: xen-blkfront), by the same Linux under QEMU TCG (virtio-blk, aio=io_uring), and by
the host itself (the limit), in one run.

Usage: bench/disk.py [BUILD_DIR] [--runs N] [--configs a,b,...] [--size MIB] [--scale F]
                     [--image PATH]
       (default build/, 3 runs of each configuration, a 1024 MiB image in BUILD_DIR)

The same static program, build/bench/disk-io (bench/disk_io.c), does every pattern with
O_DIRECT: inside the guests (from an initramfs with the block driver's modules, taken from
the kernel package) on /dev/xvda or /dev/vda, and on the host on the image file:
    sequential read and write, 1 MiB requests, queue depth 1
    random 4 KiB reads and writes, queue depth 1 and 32 (32 threads)
Writes end with fdatasync inside the timed interval. Configurations:
    host       build/bench/disk-io on the image file
    qemu-tcg   QEMU 7.2, TCG, -drive if=none,aio=io_uring + virtio-blk-pci
    lodger     lodger, -drive if=xen (needs /dev/kvm)
Prints MB/s (sequential) and IOPS (random): each configuration's median and spread over the
runs, and lodger against the host and against QEMU TCG.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from linux import extract_vmlinux, get_kernel, run_once  # noqa: E402  (bench/linux.py)
from run import ensure_qemu, kvm_usable  # noqa: E402

PATTERNS = [  # (mode, block bytes, queue depth, MiB moved at --scale 1, row title)
    ("seqread", 1 << 20, 1, 256, "sequential read, 1 MiB, QD1 (MB/s)"),
    ("seqwrite", 1 << 20, 1, 256, "sequential write, 1 MiB, QD1 (MB/s)"),
    ("randread", 4096, 1, 8, "random read, 4 KiB, QD1 (IOPS)"),
    ("randread", 4096, 32, 32, "random read, 4 KiB, QD32 (IOPS)"),
    ("randwrite", 4096, 1, 8, "random write, 4 KiB, QD1 (IOPS)"),
    ("randwrite", 4096, 32, 32, "random write, 4 KiB, QD32 (IOPS)"),
]
CONFIGS = {"host": "host (image file)", "qemu-tcg": "QEMU TCG virtio-blk",
           "lodger": "lodger xen-blkfront"}
LINE = re.compile(r"disk-io: (\S+) bs=(\d+) qd=(\d+) .* MBps=([0-9.]+) iops=([0-9.]+)")
# The block driver each guest needs (Debian builds them as modules; make-initramfs adds
# what they depend on).
MODULES = {"qemu-tcg": ["virtio_blk", "virtio_pci"], "lodger": ["xen-blkfront"]}


def key(mode, bs, qd):
    return f"{mode}:{bs}:{qd}"


def parse(text):
    """{pattern key: (MB/s, IOPS)} from disk-io's lines."""
    return {key(m.group(1), m.group(2), m.group(3)): (float(m.group(4)), float(m.group(5)))
            for m in LINE.finditer(text)}


def make_image(path, mib):
    if os.path.exists(path) and os.path.getsize(path) == mib << 20:
        return
    # Written, not sparse: a sparse file reads as holes, faster than any disk.
    with open(path + ".tmp", "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(mib):
            f.write(block)
    os.replace(path + ".tmp", path)


def make_initramfs(args, k, config):
    moddir = os.path.join(os.path.dirname(os.path.dirname(k["vmlinuz"])), "lib", "modules",
                          k["release"])
    out = os.path.join(args.build, "linux", f"disk-initramfs-{config}.cpio")
    cmd = [os.path.join(ROOT, "scripts", "make-initramfs"), "-o", out,
           "--add", f"{args.disk_io}:/bin/disk-io",
           "--add", os.path.join(ROOT, "bench", "disk-workload.sh") + ":/disk.sh",
           "--modules", moddir]
    for name in MODULES[config]:
        cmd += ["--module", name]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def patterns(args):
    return [(m, bs, qd, max(1, int(mib * args.scale))) for m, bs, qd, mib, _ in PATTERNS]


def run_host(args):
    text = ""
    for m, bs, qd, mib in patterns(args):
        p = subprocess.run([args.disk_io, args.image, m, str(bs), str(qd), str(mib)],
                           capture_output=True, text=True)
        text += p.stdout
        if p.returncode:
            print(f"bench: host {m}: {p.stderr.strip()}", flush=True)
    return parse(text)


def run_guest(args, config):
    cmd = "-- sh /disk.sh " + " ".join(f"{m}:{bs}:{qd}:{mib}" for m, bs, qd, mib in
                                        patterns(args))
    args.initramfs = args.initramfs_for[config]
    if config == "qemu-tcg":
        extra = ["-drive", f"file={args.image},format=raw,if=none,id=d0,aio=io_uring",
                 "-device", "virtio-blk-pci,drive=d0"]
    else:
        extra = ["-drive", f"file={args.image},format=raw,if=xen"]
    args.extra = extra
    res = run_once(args, config, cmd, args.timeout)
    text = "\n".join(res.get("lines", []))
    if res["timed_out"] or res["rc"] != 0:
        print(f"bench: {config}: {'timed out' if res['timed_out'] else 'status %d' % res['rc']}"
              f"; last lines: {' | '.join(res['tail'][-3:])}", flush=True)
    return parse(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--size", type=int, default=1024, help="image size in MiB")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the MiB moved")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per guest boot")
    ap.add_argument("--memory", type=int, default=512, help="guest RAM in MiB")
    ap.add_argument("--image", help="the raw image (default BUILD/bench-disk.img): its "
                    "filesystem is the one measured")
    args = ap.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    bad = [c for c in configs if c not in CONFIGS]
    if bad or args.runs < 1 or args.size < 64:
        ap.error(f"unknown configuration {bad[0]}" if bad else "--runs >= 1, --size >= 64")
    args.lodger = os.path.join(args.build, "lodger")
    args.disk_io = os.path.join(args.build, "bench", "disk-io")
    if not os.path.exists(args.disk_io):
        sys.exit(f"bench: {args.disk_io} not found: build first (ninja -C {args.build})")
    args.image = args.image or os.path.join(args.build, "bench-disk.img")
    make_image(args.image, args.size)

    cannot, k = {}, None
    no_kvm = kvm_usable()
    if any(c != "host" for c in configs):
        k = get_kernel(args.build)
        args.vmlinuz = k["vmlinuz"]
        args.vmlinux = extract_vmlinux(args.vmlinuz, os.path.join(
            args.build, "linux", f"vmlinux-{k['release']}"))
    if "qemu-tcg" in configs:
        why = ensure_qemu()
        if why:
            cannot["qemu-tcg"] = why
    if "lodger" in configs and no_kvm:
        cannot["lodger"] = no_kvm
    args.initramfs_for = {c: make_initramfs(args, k, c) for c in configs
                          if c != "host" and c not in cannot}
    print(f"bench: image {args.image} ({args.size} MiB), {args.runs} run(s) each, "
          f"scale {args.scale}", flush=True)

    results = {c: [] for c in configs if c not in cannot}
    for r in range(args.runs):
        for c in results:
            got = run_host(args) if c == "host" else run_guest(args, c)
            results[c].append(got)
            print(f"bench: {c} run {r + 1}: {len(got)} of {len(PATTERNS)} patterns", flush=True)

    cols = list(results)
    head = ["pattern"] + [CONFIGS[c] for c in cols]
    ratios = [(a, b) for a, b in (("lodger", "host"), ("lodger", "qemu-tcg"))
              if a in cols and b in cols]
    head += [f"{a} / {b}" for a, b in ratios]
    print()
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
    for (m, bs, qd, _, title) in PATTERNS:
        kk, which = key(m, bs, qd), 0 if m.startswith("seq") else 1
        cells, meds = [title], {}
        for c in cols:
            vals = [run[kk][which] for run in results[c] if kk in run]
            if not vals:
                cells.append("not measured")
                continue
            med = statistics.median(vals)
            spread = (max(vals) - min(vals)) / med * 100 if med else 0
            meds[c] = med
            cells.append(f"{med:,.1f} ±{spread / 2:.0f}%" if which == 0
                         else f"{med:,.0f} ±{spread / 2:.0f}%")
        for a, b in ratios:
            cells.append(f"{meds[a] / meds[b]:.2f}x" if a in meds and b in meds and meds[b]
                         else "-")
        print("| " + " | ".join(cells) + " |")
    for c, why in cannot.items():
        print(f"not run here: {CONFIGS[c]}: {why}")
    print("(median of the runs; ± half the spread, max-min, as a % of the median)")


if __name__ == "__main__":
    main()
