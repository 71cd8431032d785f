#!/usr/bin/env python3
"""Debian's Linux on lodger mounts an ext4 image through xen-blkfront (if=xen), writes
numbered records and a 4 MiB file, syncs, unmounts and powers off; the host's `e2fsck -n -f`
must find the image clean and every record in place, and the file's MD5 the guest printed.

Usage: ext4_test.py LODGER GET_DEBIAN_KERNEL MAKE_INITRAMFS CACHE_DIR
Skips (77) with one line when /dev/kvm is unusable or the kernel package cannot be fetched.
"""
import os
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile

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


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def main():
    lodger, get_kernel, make_initramfs, cache = sys.argv[1:5]
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        skip(f"/dev/kvm is not usable ({e.strerror})")
    for tool in ("mkfs.ext4", "e2fsck", "debugfs"):
        if not shutil.which(tool) and not os.path.exists("/sbin/" + tool):
            skip(f"{tool} (e2fsprogs) is missing")
    k = subprocess.run([get_kernel, cache], capture_output=True, text=True)
    if k.returncode == 3:
        skip("Debian's kernel package cannot be fetched")
    if k.returncode:
        sys.exit(f"get-debian-kernel failed: {k.stderr.strip()}")
    info = dict(line.split("=", 1) for line in k.stdout.splitlines() if "=" in line)
    vmlinuz, release = info["vmlinuz"], info["release"]
    moddir = os.path.join(os.path.dirname(os.path.dirname(vmlinuz)), "lib", "modules", release)
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/sbin:/usr/sbin")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        script = os.path.join(tmp, "t.sh")
        with open(script, "w") as f:
            f.write(GUEST_SCRIPT)
        initramfs = os.path.join(tmp, "initramfs.cpio")
        subprocess.run([make_initramfs, "-o", initramfs, "--modules", moddir, "--module", "ext4",
                        "--module", "xen-blkfront", "--add", script + ":/t.sh"], check=True,
                       capture_output=True)
        image = os.path.join(tmp, "disk.img")
        with open(image, "wb") as f:
            f.truncate(64 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", image], check=True, env=env)
        cmd = [lodger, "-m", "512M", "-serial", "stdio", "-display", "none", "-kernel", vmlinuz,
               "-initrd", initramfs, "-append", "console=hvc0 -- sh /t.sh",
               "-drive", f"file={image},format=raw,if=xen"]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                                 timeout=1200)
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) \
                else (e.stdout or "")
            sys.exit("FAIL: lodger timed out; last lines:\n" + "\n".join(out.splitlines()[-15:]))
        out = run.stdout
        if run.returncode != 0 or "ext4-test: done" not in out:
            sys.exit(f"FAIL: status {run.returncode}; last lines:\n"
                     + "\n".join((out + run.stderr).splitlines()[-20:]))
        fsck = subprocess.run(["e2fsck", "-n", "-f", image], capture_output=True, text=True,
                              env=env)
        if fsck.returncode != 0:
            sys.exit(f"FAIL: e2fsck -n -f: status {fsck.returncode}\n{fsck.stdout}{fsck.stderr}")
        for i in (1, 100, 200):
            got = subprocess.run(["debugfs", "-R", f"cat /records/{i}", image],
                                 capture_output=True, text=True, env=env).stdout
            if got.strip() != f"record {i}":
                sys.exit(f"FAIL: /records/{i} on the image reads {got.strip()!r}")
        m = re.search(r"ext4-test: blob ([0-9a-f]{32})", out)
        blob = subprocess.run(["debugfs", "-R", "cat /blob", image], capture_output=True,
                              env=env).stdout

        if not m or hashlib.md5(blob).hexdigest() != m.group(1):
            sys.exit("FAIL: /blob on the image differs from what the guest wrote")
    print("PASS: ext4 through xen-blkfront, e2fsck clean, records and blob on the image")


if __name__ == "__main__":
    main()
