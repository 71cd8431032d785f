#!/usr/bin/env python3
"""Debian's stock kernel through lodger's bzImage path: scripts/get-debian-kernel fetches
the current linux-image-6.1.*-amd64 into the build tree's cache, and bzimage-probe must
find a 6.1 release, decompress the XZ payload into an x86-64 ELF64 and find its Xen PV
notes (XEN_ELFNOTE_ENTRY) and its Linux note. Skipped (77, one line) when the package
cannot be fetched.

Usage: debian_kernel.py GET_DEBIAN_KERNEL CACHE_DIR BZIMAGE_PROBE
"""
import subprocess
import sys

SKIP = 77


def main(script, cache, probe):
    g = subprocess.run([script, cache], capture_output=True, text=True, timeout=600)
    if g.returncode == 3:
        print(f"SKIP: Debian's kernel cannot be fetched: {g.stderr.strip()}")
        return SKIP
    if g.returncode:
        print(f"FAIL: get-debian-kernel exited {g.returncode}: {g.stderr.strip()}")
        return 1
    info = dict(line.split("=", 1) for line in g.stdout.splitlines() if "=" in line)
    print(g.stdout, end="")
    p = subprocess.run([probe, info["vmlinuz"]], capture_output=True, text=True, timeout=120)
    print(p.stdout + p.stderr, end="")
    if p.returncode:
        print(f"FAIL: bzimage-probe exited {p.returncode}")
        return 1
    got = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    want = {"release": info["release"], "elf_class": "2", "elf_machine": "62",
            "kind": "xen-pv", "xen_entry_note": "1", "linux_note": "1"}
    problems = [f"{k}={got.get(k)!r}, expected {v!r}" for k, v in want.items() if got.get(k) != v]
    if not info["release"].startswith("6.1."):
        problems.append(f"release {info['release']!r} is not 6.1")
    if int(got.get("elf_bytes", 0)) < 10 << 20:
        problems.append(f"only {got.get('elf_bytes')} bytes decompressed")
    for pr in problems:
        print(f"FAIL: {pr}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
