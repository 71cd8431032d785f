#!/usr/bin/env python3
"""The GDB stub against a guest, with Debian's gdb in batch mode (docs/debugging.md).

lodger starts the gdbtarget guest with -S -gdb tcp::PORT; gdb attaches, breaks at
gdb_add, continues, reads a variable and an argument, steps one instruction, finishes,
deletes the breakpoint and detaches; the guest then runs to its end.

Usage: gdb_test.py --lodger LODGER --elf gdbtarget.elf --mode direct|shadow
Exit status: 0 pass, 77 skip (no usable /dev/kvm, no gdb), 1 fail.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys

SKIP = 77


def kvm_unavailable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return e.strerror if e.errno != 2 else "no /dev/kvm"
    os.close(fd)
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lodger", required=True)
    ap.add_argument("--elf", required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--timeout", type=int, default=120)
    a = ap.parse_args()
    why = kvm_unavailable()
    if why:
        print(f"SKIP: {why}")
        return SKIP
    gdb = shutil.which("gdb")
    if not gdb:
        print("SKIP: no gdb (apt-get install gdb)")
        return SKIP
    port = free_port()
    lodger = subprocess.Popen(
        [a.lodger, "-kernel", a.elf, "-machine", f"mode={a.mode}", "-serial", "stdio",
         "-S", "-gdb", f"tcp:127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # lodger says it waits once it listens: only then may gdb connect.
    line = lodger.stderr.readline()
    if "waiting for a debugger" not in line:
        lodger.kill()
        print(f"FAIL: expected lodger to wait for a debugger, got {line!r}")
        return 1
    script = [
        "set pagination off", "set confirm off",
        f"target remote 127.0.0.1:{port}",
        "break gdb_add", "continue",
        "print gdb_counter", "print/x $rdi",
        "print/x $pc", "stepi", "print/x $pc",
        "finish",
        "print gdb_counter",
        "delete", "detach",
    ]
    args = [gdb, "-nx", "-batch", a.elf]
    for c in script:
        args += ["-ex", c]
    try:
        g = subprocess.run(args, capture_output=True, text=True, timeout=a.timeout)
        out, err = lodger.communicate(timeout=a.timeout)
    except subprocess.TimeoutExpired:
        lodger.kill()
        print("FAIL: timed out")
        return 1
    text = g.stdout + g.stderr
    print(text)
    print(out, err)
    problems = []
    if not re.search(r"Breakpoint 1, .*gdb_add", text):
        problems.append("the breakpoint at gdb_add was not hit")
    if not re.search(r"^\$1 = 5$", text, re.M):
        problems.append("gdb_counter did not read 5 at the first call")
    if not re.search(r"^\$2 = 0x1$", text, re.M):
        problems.append("the first argument (rdi) did not read 1")
    pcs = re.findall(r"^\$[34] = (0x[0-9a-f]+)$", text, re.M)
    if len(pcs) != 2 or int(pcs[1], 16) <= int(pcs[0], 16):
        problems.append(f"stepi did not move the pc forward: {pcs}")
    if not re.search(r"Value returned is \$\d+ = 11", text):
        problems.append("finish did not return 11")
    if not re.search(r"^\$\d+ = 16$", text, re.M):
        problems.append("gdb_counter did not read 16 after the first call")
    if "gdbtarget: total 36 counter 41" not in out or lodger.returncode != 0:
        problems.append(f"the guest did not run to its end after detach (status "
                        f"{lodger.returncode})")
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
