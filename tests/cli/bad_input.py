#!/usr/bin/env python3
"""Bad input to the lodger binary: each case must give exactly one line on stderr, starting
with "lodger: " and naming the problem, and its documented exit status (docs/cli.md).
None of these cases needs /dev/kvm except the two that are about it.

Usage: bad_input.py LODGER CASE   (CASE from CASES below; --list prints them)
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

EXIT_USAGE, EXIT_BAD_IMAGE, EXIT_NO_KVM = 2, 4, 6
SKIP = 77


def elf64(machine=62, elf_class=2, paddr=0x100000, entry=None, code=b"\xf4"):
    """A minimal ELF executable: one PT_LOAD holding `code` at `paddr`."""
    entry = paddr if entry is None else entry
    ehdr_size, phdr_size = 64, 56
    ident = b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, entry, ehdr_size, 0, 0,
                               ehdr_size, phdr_size, 1, 0, 0, 0)
    off = ehdr_size + phdr_size
    phdr = struct.pack("<IIQQQQQQ", 1, 5, off, paddr, paddr, len(code), len(code), 0x1000)
    return ehdr + phdr + code


class Case:
    def __init__(self, status, words, args=(), files=None, env=None, as_nobody=False):
        self.status, self.words, self.args = status, words, list(args)
        self.files, self.env, self.as_nobody = files or {}, env or {}, as_nobody


CASES = {
    "missing-kernel": Case(EXIT_BAD_IMAGE, ["nonexistent.elf", "No such file"],
                           ["{dir}/nonexistent.elf"]),
    "kernel-is-directory": Case(EXIT_BAD_IMAGE, ["not a regular file"], ["{dir}"]),
    "unreadable-kernel": Case(EXIT_BAD_IMAGE, ["Permission denied"], ["{dir}/k.elf"],
                              {"k.elf": (elf64(), 0o000)}, as_nobody=True),
    "not-elf": Case(EXIT_BAD_IMAGE, ["not an ELF"], ["{dir}/k.txt"],
                    {"k.txt": b"#!/bin/sh\necho hello\n"}),
    "empty-file": Case(EXIT_BAD_IMAGE, ["not an ELF"], ["{dir}/k.elf"], {"k.elf": b""}),
    "elf32": Case(EXIT_BAD_IMAGE, ["64-bit"], ["{dir}/k.elf"], {"k.elf": elf64(elf_class=1)}),
    "wrong-machine": Case(EXIT_BAD_IMAGE, ["x86-64"], ["{dir}/k.elf"],
                          {"k.elf": elf64(machine=183)}),
    "segment-outside-ram": Case(EXIT_BAD_IMAGE, ["outside guest RAM"],
                                ["-m", "32M", "{dir}/k.elf"], {"k.elf": elf64(paddr=1 << 30)}),
    "segment-over-reserved": Case(EXIT_BAD_IMAGE, ["reserved"], ["-m", "32M", "{dir}/k.elf"],
                                  {"k.elf": elf64(paddr=(32 << 20) - 0x8000)}),
    "entry-outside-segments": Case(EXIT_BAD_IMAGE, ["entry point"], ["{dir}/k.elf"],
                                   {"k.elf": elf64(entry=0x200000)}),
    "memory-too-small": Case(EXIT_USAGE, ["-m"], ["-m", "1M", "{dir}/k.elf"],
                             {"k.elf": elf64()}),
    "memory-too-large": Case(EXIT_USAGE, ["-m"], ["-m", "64G", "{dir}/k.elf"],
                             {"k.elf": elf64()}),
    "memory-garbled": Case(EXIT_USAGE, ["-m", "12X"], ["-m", "12X", "{dir}/k.elf"],
                           {"k.elf": elf64()}),
    "unknown-option": Case(EXIT_USAGE, ["-frobnicate"], ["-frobnicate", "{dir}/k.elf"],
                           {"k.elf": elf64()}),
    "option-missing-argument": Case(EXIT_USAGE, ["-m"], ["-m"]),
    "no-kernel": Case(EXIT_USAGE, ["kernel"], []),
    "config-syntax-error": Case(EXIT_USAGE, ["vm.cfg:3"], ["-readconfig", "{dir}/vm.cfg"],
                                {"vm.cfg": b"[memory]\n  size = \"64M\"\n[machine\n"}),
    "config-unknown-group": Case(EXIT_USAGE, ["vm.cfg:2", "frob"],
                                 ["-readconfig", "{dir}/vm.cfg"],
                                 {"vm.cfg": b"# a comment\n[frob]\n  size = \"64M\"\n"}),
    "config-unknown-key": Case(EXIT_USAGE, ["vm.cfg:2", "sise"], ["-readconfig", "{dir}/vm.cfg"],
                               {"vm.cfg": b"[memory]\n  sise = \"64M\"\n"}),
    "config-bad-value": Case(EXIT_USAGE, ["vm.cfg:2"], ["-readconfig", "{dir}/vm.cfg"],
                             {"vm.cfg": b"[memory]\n  size = \"lots\"\n"}),
    "config-missing-file": Case(EXIT_USAGE, ["nope.cfg"], ["-readconfig", "{dir}/nope.cfg"]),
    # Bytes 0x80-0xff (C1 controls to an 8-bit terminal: 0x9b is CSI) reach stderr escaped.
    "kernel-path-high-bytes": Case(EXIT_BAD_IMAGE, ["\\x9b[31m\\xc3\\xa9.elf", "No such file"],
                                   ["{dir}/\udc9b[31m\udcc3\udca9.elf"]),
    "config-value-high-bytes": Case(EXIT_USAGE, ["vm.cfg:2", "'\\x9bx\\xff'"],
                                    ["-readconfig", "{dir}/vm.cfg"],
                                    {"vm.cfg": b'[machine]\n  mode = "\x9bx\xff"\n'}),
    "kvm-absent": Case(EXIT_NO_KVM, ["/nonexistent/kvm"], ["{dir}/k.elf"], {"k.elf": elf64()},
                       env={"LODGER_KVM_DEVICE": "/nonexistent/kvm"}),
    "kvm-not-permitted": Case(EXIT_NO_KVM, ["/dev/kvm", "Permission denied"], ["{dir}/k.elf"],
                              {"k.elf": (elf64(), 0o644)}, as_nobody=True),
}


def run_case(lodger, name):
    case = CASES[name]
    if case.as_nobody and os.geteuid() != 0:
        print(f"SKIP: case {name} needs root to run lodger as an unprivileged user")
        return SKIP
    if case.as_nobody and not os.path.exists("/dev/kvm"):
        print(f"SKIP: case {name} needs a /dev/kvm whose permissions refuse an unprivileged user")
        return SKIP
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        for fname, content in case.files.items():
            data, mode = content if isinstance(content, tuple) else (content, 0o644)
            path = os.path.join(d, fname)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, mode)
        # Arguments are bytes: "\udcXX" in a case stands for the raw byte XX.
        args = [os.fsencode(a.replace("{dir}", d)) for a in case.args]
        cmd = [os.fsencode(os.path.abspath(lodger))] + args
        if case.as_nobody:
            cmd = [b"setpriv", b"--reuid=65534", b"--regid=65534", b"--clear-groups"] + cmd
        env = dict(os.environ, **case.env)
        p = subprocess.run(cmd, capture_output=True, timeout=30, env=env,
                           stdin=subprocess.DEVNULL)
    raw = p.stderr
    stderr = raw.decode("ascii", "backslashreplace")
    lines = stderr.splitlines()
    problems = []
    if any(b != 0x0a and not 0x20 <= b < 0x7f for b in raw):
        problems.append("stderr holds bytes other than printable ASCII and newlines")
    if p.returncode != case.status:
        problems.append(f"exit status {p.returncode}, expected {case.status}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, expected exactly 1")
    elif not lines[0].startswith("lodger: "):
        problems.append("stderr line does not start with 'lodger: '")
    for w in case.words:
        w = w.replace("{dir}", "")
        if w not in stderr:
            problems.append(f"stderr does not name {w!r}")
    shown = " ".join(os.fsdecode(a) for a in cmd).encode("ascii", "backslashreplace").decode()
    print(f"$ {shown}\nstatus {p.returncode}\nstderr: {raw!r}")
    for pr in problems:
        print(f"FAIL: {pr}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(CASES))
        sys.exit(0)
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.exit(f"usage: {sys.argv[0]} LODGER CASE (one of: {', '.join(CASES)})")
    sys.exit(run_case(sys.argv[1], sys.argv[2]))
