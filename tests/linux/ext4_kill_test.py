#!/usr/bin/env python3
"""Nothing acknowledged is lost: Debian's Linux on lodger appends numbered records to an
ext4 image through xen-blkfront, `sync`s after each and prints "ext4-kill: durable N";
lodger is killed with SIGKILL at a random moment (after the first durable record, 0-2 s
later), KILLS times on the same image, each boot going on from the last record on it.
Afterwards the host replays the journal (`e2fsck -E journal_only`), `e2fsck -n -f` must find
the image clean, and every record any run reported durable must be on it.

Usage: ext4_kill_test.py LODGER GET_DEBIAN_KERNEL MAKE_INITRAMFS CACHE_DIR [KILLS [SEED]]
Skips (77) with one line when /dev/kvm is unusable or the kernel package cannot be fetched.
"""
import os
import random
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time

from linux_guest import (E2FS_ENV, debugfs, ext4_image, initramfs, kernel, lodger_cmd,
                         require_e2fsprogs, require_kvm)

GUEST_SCRIPT = r"""
for i in $(seq 100); do [ -b /dev/xvda ] && break; sleep 0.1; done
[ -b /dev/xvda ] || { echo "ext4-kill: no /dev/xvda"; exit 1; }
mkdir -p /mnt
mount -t ext4 /dev/xvda /mnt || exit 1
mkdir -p /mnt/r
n=$(ls /mnt/r | sort -n | tail -n 1)
n=$((${n:-0} + 1))
echo "ext4-kill: starting at $n"
while true; do
	echo "record $n" > /mnt/r/$n
	sync
	echo "ext4-kill: durable $n"
	n=$((n + 1))
done
"""
DURABLE = re.compile(r"ext4-kill: durable (\d+)")


def run_and_kill(cmd, rng, timeout):
    """Runs lodger until the guest reports its first durable record, then kills it 0-2 s
    later. Returns the records reported durable before the kill."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    start, kill_at, buf, durable, text = time.monotonic(), None, b"", [], ""
    while True:
        now = time.monotonic()
        if kill_at is not None and now >= kill_at:
            break
        if now - start > timeout:
            p.kill()
            p.wait()
            sys.exit("FAIL: no durable record within the timeout; last lines:\n"
                     + "\n".join(text.splitlines()[-15:]))
        wait = (kill_at - now) if kill_at is not None else 1.0
        if not sel.select(max(0.0, min(wait, 1.0))):
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            p.wait()
            sys.exit(f"FAIL: lodger ended by itself (status {p.returncode}); last lines:\n"
                     + "\n".join((text + buf.decode(errors="replace")).splitlines()[-15:]))
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            text += line + "\n"
            m = DURABLE.search(line)
            if m:
                durable.append(int(m.group(1)))
                if kill_at is None:
                    kill_at = time.monotonic() + rng.uniform(0, 2)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return durable


def main():
    lodger, get_kernel, make_initramfs, cache = sys.argv[1:5]
    kills = int(sys.argv[5]) if len(sys.argv) > 5 else 50
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else int(time.time())
    require_kvm()
    require_e2fsprogs()
    vmlinuz, moddir = kernel(get_kernel, cache)
    rng = random.Random(seed)
    print(f"ext4-kill: {kills} kills, seed {seed}")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        script = os.path.join(tmp, "t.sh")
        with open(script, "w") as f:
            f.write(GUEST_SCRIPT)
        rd = initramfs(make_initramfs, os.path.join(tmp, "initramfs.cpio"), moddir,
                       ["ext4", "xen-blkfront"], [script + ":/t.sh"])
        image = ext4_image(os.path.join(tmp, "disk.img"))
        cmd = lodger_cmd(lodger, vmlinuz, rd, "console=hvc0 -- sh /t.sh", image)
        acked = set()
        for i in range(kills):
            got = run_and_kill(cmd, rng, 900)
            acked.update(got)
            print(f"ext4-kill: run {i + 1}: records {got[0]}..{got[-1]} durable", flush=True)
        # The journal first (what the next mount would do), then a read-only check.
        subprocess.run(["e2fsck", "-E", "journal_only", "-y", image], capture_output=True,
                       env=E2FS_ENV)
        fsck = subprocess.run(["e2fsck", "-n", "-f", image], capture_output=True, text=True,
                              env=E2FS_ENV)
        if fsck.returncode != 0:
            sys.exit(f"FAIL: e2fsck -n -f after the journal: status {fsck.returncode}\n"
                     f"{fsck.stdout}{fsck.stderr}")
        names = set(int(m.group(1)) for m in
                    re.finditer(r"/\d+/\d+/\d+/\d+/(\d+)/", debugfs(image, "ls -p /r")))
        lost = sorted(acked - names)
        if lost:
            sys.exit(f"FAIL: {len(lost)} record(s) acknowledged durable are missing: {lost[:10]}")
        for n in rng.sample(sorted(acked), min(20, len(acked))):
            got = debugfs(image, f"cat /r/{n}").strip()
            if got != f"record {n}":
                sys.exit(f"FAIL: /r/{n} reads {got!r}")
    print(f"PASS: {kills} kills, {len(acked)} durable records all on the image, e2fsck clean")


if __name__ == "__main__":
    main()
