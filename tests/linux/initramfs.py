#!/usr/bin/env python3
"""scripts/make-initramfs: the archive lists (Debian's cpio) the entries /init needs, with
/dev/console a character device 5:1 though no root made it; then, where a PID and mount
namespace can be made, its /init runs on the host in a chroot of the extracted archive
and must print the marker, run the command it is given, report its status and power
off (which in a child PID namespace ends that namespace only). Skipped (77, one line)
when busybox-static cannot be had.

Usage: initramfs.py MAKE_INITRAMFS
"""
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
MARKER = "lodger-initramfs: userspace up"


def main(script):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "initramfs.cpio")
        m = subprocess.run([script, "-o", out], capture_output=True, text=True, timeout=300)
        if m.returncode and "cannot fetch busybox-static" in m.stderr:
            print(f"SKIP: {m.stderr.strip()}")
            return SKIP
        if m.returncode:
            print(f"FAIL: make-initramfs exited {m.returncode}: {m.stderr.strip()}")
            return 1
        problems = []
        with open(out, "rb") as f:
            listing = subprocess.run(["cpio", "-itv", "--quiet"], stdin=f, capture_output=True,
                                     text=True).stdout.splitlines()
        entries = {line.split()[-1] if "->" not in line else line.split()[-3]: line
                   for line in listing}
        for name, start in [("init", "-rwxr-xr-x"), ("bin/busybox", "-rwxr-xr-x"),
                            ("dev/console", "crw-------"), ("bin/sh", "lrwxrwxrwx"),
                            ("sbin/poweroff", "lrwxrwxrwx")]:
            line = entries.get(name)
            if not line or not line.startswith(start):
                problems.append(f"{name}: {line!r}, expected an entry starting {start}")
        if "5,   1" not in entries.get("dev/console", ""):
            problems.append("dev/console is not device 5:1")
        root = os.path.join(d, "root")
        os.mkdir(root)
        with open(out, "rb") as f:
            subprocess.run(["cpio", "-id", "--quiet", "--no-absolute-filenames"], cwd=root,
                           stdin=f, capture_output=True)
        if not shutil.which("unshare") or subprocess.run(
                ["unshare", "--pid", "--fork", "--mount", "true"],
                capture_output=True).returncode:
            print("note: no PID/mount namespace here: /init not run")
        else:
            r = subprocess.run(["unshare", "--pid", "--fork", "--mount", "chroot", root,
                                "/init", "echo answer=$((6 * 7)); exit 3"],
                               capture_output=True, text=True, timeout=60)
            print(r.stdout + r.stderr, end="")
            for want in [MARKER, "answer=42", "command exited with status 3"]:
                if want not in r.stdout:
                    problems.append(f"/init did not print {want!r}")
            if r.stdout.find(MARKER) > r.stdout.find("answer=42"):
                problems.append("the command ran before the marker")
            # lodger.cmd= from the kernel command line, quoted and bare.
            for line, want in [('console=hvc0 lodger.cmd="echo q$((1 + 1))" quiet', "q2"),
                               ("console=hvc0 lodger.cmd=uname quiet", "Linux")]:
                with open(os.path.join(root, "cmdline"), "w") as f:
                    f.write(line + "\n")
                r = subprocess.run(["unshare", "--pid", "--fork", "--mount", "chroot", root,
                                    "/usr/bin/env", "LODGER_INITRAMFS_CMDLINE=/cmdline", "/init"],
                                   capture_output=True, text=True, timeout=60)
                print(r.stdout + r.stderr, end="")
                if f"\n{want}\n" not in r.stdout or "exited with status 0" not in r.stdout:
                    problems.append(f"/init with {line!r} did not run its lodger.cmd")
        for p in problems:
            print(f"FAIL: {p}")
        return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
