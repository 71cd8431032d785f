#!/usr/bin/env python3
"""The kill test (docs/block.md, "Durability"): nothing acknowledged is ever lost.

The blklog guest writes record n to sector n and flushes it, then prints
"blklog: durable n". This script boots it under lodger on one image, kills lodger with
SIGKILL at a random moment, and checks that every record up to the last one the guest
reported holds this run's generation; then again, --kills times, alternating direct and
shadow mode, on the same image (so a restart right after a kill is tested too: the
image lock must go with the killed process).

Usage: kill_test.py --lodger LODGER --elf blklog.elf [--kills 50] [--seed N]
Exit status: 0 pass, 77 skip (no usable /dev/kvm), 1 fail.
"""

import argparse
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
RECORD_MAGIC = 0x4C4F4447524543
DURABLE = re.compile(r"^blklog: durable (\d+)$")


def kvm_unavailable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return e.strerror if e.errno != 2 else "no /dev/kvm"
    os.close(fd)
    return None


def record_ok(data, n, gen):
    magic, g, idx, check = struct.unpack_from("<4Q", data, n * 512)
    return magic == RECORD_MAGIC and g == gen and idx == n and check == RECORD_MAGIC ^ gen ^ n


def one_run(args, image, mode, gen, delay):
    cmd = [args.lodger, "-machine", f"mode={mode}", "-m", "32M", "-nographic",
           "-append", f"gen={gen:#x}", "-drive", f"file={image},format=raw,if=virtio",
           args.elf]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    lines = []

    def reader():
        for raw in proc.stdout:
            lines.append(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(delay)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended first (the disk filled up, or it failed)
    rc = proc.wait()
    t.join()
    err = proc.stderr.read().decode("utf-8", errors="replace")
    # Only whole lines count: a line cut by the kill was never a report.
    acked = [int(m.group(1)) for m in map(DURABLE.match, lines) if m]
    return cmd, rc, lines, err, (max(acked) if acked else -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lodger", required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--sectors", type=int, default=16384)
    args = ap.parse_args()

    why = kvm_unavailable()
    if why:
        print(f"SKIP: /dev/kvm not available ({why})")
        return SKIP
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    print(f"seed {seed}")
    fd, image = tempfile.mkstemp(suffix=".img")
    os.ftruncate(fd, args.sectors * 512)
    os.close(fd)
    killed = total_acked = 0
    try:
        for i in range(args.kills):
            mode = "direct" if i % 2 == 0 else "shadow"
            gen = rng.getrandbits(63) | 1
            delay = rng.uniform(0.05, 2.0)
            cmd, rc, lines, err, last = one_run(args, image, mode, gen, delay)
            with open(image, "rb") as f:
                data = f.read()
            lost = [n for n in range(last + 1) if not record_ok(data, n, gen)]
            killed += rc == -signal.SIGKILL
            total_acked += last + 1
            print(f"run {i}: {mode}, killed after {delay:.2f} s, status {rc}, "
                  f"{last + 1} records acknowledged")
            if rc not in (-signal.SIGKILL, 0) or lost:
                print(f"FAIL: run {i}: " + (f"acknowledged records lost: {lost[:10]}"
                                            if lost else f"lodger exited with {rc}"))
                print("$ " + " ".join(cmd))
                print("\n".join(lines[-20:]))
                print(err)
                return 1
        if killed < args.kills // 2:
            print(f"FAIL: only {killed} of {args.kills} runs were killed: the guest ends "
                  "too soon for this test to mean anything")
            return 1
        if total_acked == 0:
            print("FAIL: no run acknowledged any record")
            return 1
    finally:
        os.unlink(image)
    print(f"PASS: {killed} kills, {total_acked} acknowledged records, none lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
