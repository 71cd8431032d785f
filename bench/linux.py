#!/usr/bin/env python3
"""Linux benchmark: Debian's stock kernel and one initramfs booted, in one run, under QEMU
TCG, QEMU -accel kvm and lodger (shadow mode, Xen PV personality), with a workload inside.

Usage: bench/linux.py [BUILD_DIR] [--runs N] [--configs a,b,...] [--no-workload]
                      [--timeout S] [--kvm-timeout S] [--memory MIB]
       (default build/, 3 runs of each configuration)

In one run it
  1. fetches Debian's kernel package (scripts/get-debian-kernel, into BUILD_DIR/linux/) and
     takes the vmlinux out of its bzImage (for QEMU's PVH boot, which wants the ELF);
  2. makes one initramfs (scripts/make-initramfs) holding bench/linux-workload.sh;
  3. boots it N times in each configuration:
        qemu-tcg   QEMU 7.2 (Debian's qemu-system-x86), TCG, vmlinux through PVH, -M pc,
                   console on the UART (console=ttyS0)
        qemu-kvm   the same with -accel kvm                       (needs /dev/kvm)
        lodger     lodger with the bzImage as shipped, console=hvc0 (needs /dev/kvm)
     timing from outside (wall clock, from the start of the process) the kernel's first
     line, "Run /init as init process", the initramfs's marker and the end of the process
     (power-off); then the workload: 1,000 fork+exec, 100 MB through sort and md5sum in
     tmpfs, a shell compute loop, each timed inside the guest (/proc/uptime) and from
     outside (the lines' arrival);
  4. prints one table: per milestone and workload part, each configuration's median and
     spread over the runs, and the ratio lodger / QEMU TCG.
A configuration that does not get everywhere (QEMU -accel kvm on kvm_pvm dies in the kernel)
shows how far it got; one that cannot run here is listed with the reason.
QEMU is installed from Debian when missing (one line says so).
"""
import argparse
import lzma
import os
import selectors
import statistics
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from run import QEMU, ensure_qemu, kvm_usable  # noqa: E402  (bench/run.py)

MARKER = "lodger-initramfs: userspace up"
MILESTONES = [  # (key, text on the console, row title)
    ("kernel", "Linux version", "kernel's first line"),
    ("init", "Run /init as init process", "Run /init"),
    ("marker", MARKER, "initramfs marker (userspace)"),
]
PARTS = [("fork-exec", "1,000 fork+exec"), ("sort-md5", "100 MB through sort and md5sum"),
         ("compute", "shell compute loop (300,000 iterations)")]
CONFIGS = {
    "qemu-tcg": "QEMU TCG",
    "qemu-kvm": "QEMU -accel kvm",
    "lodger": "lodger shadow",
}


def get_kernel(build):
    out = subprocess.run([os.path.join(ROOT, "scripts", "get-debian-kernel"),
                          os.path.join(build, "linux")], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench: Debian's kernel package cannot be fetched "
                 f"(scripts/get-debian-kernel: status {out.returncode})")
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def extract_vmlinux(bzimage, dest):
    """The ELF inside a bzImage (boot protocol: setup_sects, payload_offset/length)."""
    if os.path.exists(dest) and os.path.getmtime(dest) >= os.path.getmtime(bzimage):
        return dest
    with open(bzimage, "rb") as f:
        img = f.read()
    if img[0x202:0x206] != b"HdrS":
        sys.exit(f"bench: {bzimage}: not a bzImage")
    setup_sects = img[0x1f1] or 4
    off, length = struct.unpack_from("<II", img, 0x248)
    payload = img[(setup_sects + 1) * 512 + off:][:length]
    if payload.startswith(b"\xfd7zXZ"):
        elf = lzma.LZMADecompressor().decompress(payload)
    elif payload.startswith(b"\x1f\x8b"):
        elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)
    else:
        sys.exit(f"bench: {bzimage}: payload compression not handled here "
                 f"(magic {payload[:4].hex()}); give an xz or gzip kernel")
    if not elf.startswith(b"\x7fELF"):
        sys.exit(f"bench: {bzimage}: payload is not an ELF")
    with open(dest + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(dest + ".tmp", dest)
    return dest


def make_initramfs(build):
    out = os.path.join(build, "linux", "bench-initramfs.cpio")
    subprocess.run([os.path.join(ROOT, "scripts", "make-initramfs"), "-o", out, "--add",
                    os.path.join(ROOT, "bench", "linux-workload.sh") + ":/bench.sh"],
                   check=True, capture_output=True)
    return out


def command(args, config, cmdline):
    if config.startswith("qemu"):
        return [QEMU, "-accel", "tcg" if config == "qemu-tcg" else "kvm", "-M", "pc",
                "-cpu", "max" if config == "qemu-tcg" else "host", "-m", str(args.memory),
                "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
                "-kernel", args.vmlinux, "-initrd", args.initramfs,
                "-append", "console=ttyS0 " + cmdline] + getattr(args, "extra", [])
    return [args.lodger, "-m", f"{args.memory}M", "-serial", "stdio", "-display", "none",
            "-kernel", args.vmlinuz, "-initrd", args.initramfs,
            "-append", "console=hvc0 " + cmdline] + getattr(args, "extra", [])


def run_once(args, config, cmdline, timeout):
    """Times (s since start) of each milestone and workload line seen, and the end."""
    start = time.monotonic()
    p = subprocess.Popen(command(args, config, cmdline), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen, inside, buf, tail, lines_all = {}, {}, b"", [], []
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    timed_out = False
    while True:
        left = start + timeout - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if not sel.select(min(left, 1.0)):
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        now = time.monotonic() - start
        for raw in lines:
            line = raw.decode(errors="replace").rstrip("\r")
            tail = (tail + [line])[-5:]
            if line.startswith(("bench: ", "disk-io: ")):
                lines_all.append(line)
            for key, text, _ in MILESTONES:
                if key not in seen and text in line:
                    seen[key] = now
            words = line.split()
            if line.startswith("bench: ") and len(words) == 4:
                try:
                    inside[words[1]] = float(words[3]) - float(words[2])
                    seen["out:" + words[1]] = now
                except ValueError:
                    pass
            elif line.startswith("bench: begin"):
                seen["out:begin"] = now
    if timed_out:
        p.kill()
    rc = p.wait()
    if not timed_out:
        seen["end"] = time.monotonic() - start
    return {"seen": seen, "inside": inside, "rc": rc, "timed_out": timed_out, "tail": tail,
            "lines": lines_all}


def med(values):
    if not values:
        return None, None
    m = statistics.median(values)
    return m, ((max(values) - min(values)) / m * 100 if m else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--no-workload", action="store_true", help="boot and power off only")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per boot")
    ap.add_argument("--kvm-timeout", type=int, default=120,
                    help="seconds for QEMU -accel kvm, which may never get to userspace")
    ap.add_argument("--memory", type=int, default=1024, help="guest RAM in MiB")
    args = ap.parse_args()
    configs = [c for c in args.configs.split(",") if c]
    bad = [c for c in configs if c not in CONFIGS]
    if bad or args.runs < 1:
        ap.error(f"unknown configuration {bad[0]}" if bad else "--runs >= 1")
    args.lodger = os.path.join(args.build, "lodger")

    k = get_kernel(args.build)
    args.vmlinuz = k["vmlinuz"]
    args.vmlinux = extract_vmlinux(args.vmlinuz, os.path.join(
        args.build, "linux", f"vmlinux-{k['release']}"))
    args.initramfs = make_initramfs(args.build)
    cmdline = "-- poweroff -f" if args.no_workload else "-- sh /bench.sh"

    no_kvm = kvm_usable()
    no_qemu = ensure_qemu() if any(c.startswith("qemu") for c in configs) else None
    cannot = {}
    for c in configs:
        if c.startswith("qemu") and no_qemu:
            cannot[c] = no_qemu
        elif c != "qemu-tcg" and no_kvm:
            cannot[c] = no_kvm
        elif c == "lodger" and not os.path.exists(args.lodger):
            cannot[c] = f"{args.lodger} not built"
    print(f"bench: kernel {k.get('package', k['release'])}, {args.memory} MiB, "
          f"{args.runs} run(s) each, command line '{cmdline}'", flush=True)

    results = {c: [] for c in configs if c not in cannot}
    for r in range(args.runs):
        for c in results:
            t = args.kvm_timeout if c == "qemu-kvm" else args.timeout
            res = run_once(args, c, cmdline, t)
            results[c].append(res)
            got = [key for key, _, _ in MILESTONES if key in res["seen"]]
            how = ("timed out" if res["timed_out"] else f"status {res['rc']}")
            print(f"bench: {c} run {r + 1}: {how}, reached "
                  f"{got[-1] if got else 'nothing'}"
                  + ("" if "end" in res["seen"] and res["rc"] == 0 else
                     f"; last lines: {' | '.join(res['tail'][-2:])}"), flush=True)

    rows = [(title, lambda res, key=key: res["seen"].get(key)) for key, _, title in MILESTONES]
    rows.append(("power-off (process end)" if args.no_workload else "workload done, power-off",
                 lambda res: res["seen"].get("end") if res["rc"] == 0 else None))
    if not args.no_workload:
        for key, title in PARTS:
            rows.append((title + " (inside)", lambda res, key=key: res["inside"].get(key)))
        rows.append(("workload (outside: begin to end line)",
                     lambda res: res["seen"]["out:compute"] - res["seen"]["out:begin"]
                     if "out:compute" in res["seen"] and "out:begin" in res["seen"]
                     else None))

    cols = list(results)
    head = ["wall time from start"] + [CONFIGS[c] for c in cols]
    if "lodger" in cols and "qemu-tcg" in cols:
        head.append("lodger / TCG")
    print()
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
    for title, get in rows:
        cells, meds = [title], {}
        for c in cols:
            vals = [v for v in (get(res) for res in results[c]) if v is not None]
            m, spread = med(vals)
            meds[c] = m
            if m is None:
                cells.append("not reached")
            else:
                partial = "" if len(vals) == len(results[c]) else f" ({len(vals)}/{len(results[c])})"
                cells.append(f"{m:.2f} s ±{spread / 2:.0f}%{partial}")
        if len(head) > len(cols) + 1:
            a, b = meds.get("lodger"), meds.get("qemu-tcg")
            cells.append(f"{a / b:.2f}x" if a and b else "-")
        print("| " + " | ".join(cells) + " |")
    for c, why in cannot.items():
        print(f"not run here: {CONFIGS[c]}: {why}")
    print("(median of the runs; ± half the spread, max-min, as a % of the median)")


if __name__ == "__main__":
    main()
