#!/usr/bin/env python3
"""Debian's Linux on lodger mounts an ext4 image through xen-blkfront (if=xen), writes
numbered records and a 4 MiB file, syncs, unmounts and powers off; the host's `e2fsck -n -f`
must find the image clean and every record in place, and the file's MD5 the guest printed.

Usage: ext4_test.py LODGER GET_DEBIAN_KERNEL MAKE_INITRAMFS CACHE_DIR
Skips (77) with one line when /dev/kvm is unusable or the kernel package cannot be fetched.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile

from linux_guest import (E2FS_ENV, debugfs, ext4_image, initramfs, kernel, lodger_cmd,
                         require_e2fsprogs, require_kvm, save_transcript)

GUEST_SCRIPT = r"""
for i in $(seq 100); do [ -b /dev/xvda ] && break; sleep 0.1; done
[ -b /dev/xvda ] || { echo "ext4-test: no /dev/xvda"; exit 1; }
mkdir -p /mnt
mount -t ext4 /dev/xvda /mnt || exit 1
mkdir -p /mnt/records
for i in $(seq 1 200); do echo "record $i" > /mnt/records/$i; done
dd if=/dev/urandom of=/mnt/blob bs=64k count=64 2>/dev/null
sync
echo "ext4-test: blob $(md5sum /mnt/blob | cut -d' ' -f1)"
umount /mnt || exit 1
echo "ext4-test: done"
"""


def main():
    lodger, get_kernel, make_initramfs, cache = sys.argv[1:5]
    require_kvm()
    require_e2fsprogs()
    vmlinuz, moddir = kernel(get_kernel, cache)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        script = os.path.join(tmp, "t.sh")
        with open(script, "w") as f:
            f.write(GUEST_SCRIPT)
        rd = initramfs(make_initramfs, os.path.join(tmp, "initramfs.cpio"), moddir,
                       ["ext4", "xen-blkfront"], [script + ":/t.sh"])
        image = ext4_image(os.path.join(tmp, "disk.img"))
        cmd = lodger_cmd(lodger, vmlinuz, rd, "console=hvc0 -- sh /t.sh", image)
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                 timeout=1200)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            out = out.decode(errors="replace") if isinstance(out, bytes) else out
            log = save_transcript(cache, "ext4_test", out)
            sys.exit(f"FAIL: lodger timed out (transcript: {log}); last lines:\n"
                     + "\n".join(out.splitlines()[-15:]))
        out = run.stdout
        save_transcript(cache, "ext4_test", out + run.stderr)
        if run.returncode != 0 or "ext4-test: done" not in out:
            sys.exit(f"FAIL: status {run.returncode}; last lines:\n"
                     + "\n".join((out + run.stderr).splitlines()[-20:]))
        fsck = subprocess.run(["e2fsck", "-n", "-f", image], capture_output=True, text=True,
                              env=E2FS_ENV)
        if fsck.returncode != 0:
            sys.exit(f"FAIL: e2fsck -n -f: status {fsck.returncode}\n{fsck.stdout}{fsck.stderr}")
        for i in (1, 100, 200):
            got = debugfs(image, f"cat /records/{i}").strip()
            if got != f"record {i}":
                sys.exit(f"FAIL: /records/{i} on the image reads {got!r}")
        m = re.search(r"ext4-test: blob ([0-9a-f]{32})", out)
        blob = debugfs(image, "cat /blob", text=False)
        if not m or hashlib.md5(blob).hexdigest() != m.group(1):
            sys.exit("FAIL: /blob on the image differs from what the guest wrote")
    print("PASS: ext4 through xen-blkfront, e2fsck clean, records and blob on the image")


if __name__ == "__main__":
    main()
