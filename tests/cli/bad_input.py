#!/usr/bin/env python3
"""Bad input to the lodger binary: each case must give exactly one line on stderr, starting
with "lodger: " and naming the problem, and its documented exit status (docs/cli.md).
None of these cases needs /dev/kvm except the two that are about it.

Usage: bad_input.py LODGER CASE   (CASE from CASES below; --list prints them)
"""
import fcntl
import os
import shutil
import struct
import subprocess
import sys
import lzma
import tempfile
import time

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


def note(name, ntype, desc=bytes(8)):
    """One ELF note, 4-byte aligned."""
    n = name.encode() + b"\0"
    pad = lambda b: b + bytes(-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def vmlinux(xen=False):
    """An ELF64 like Linux's vmlinux: a PT_LOAD, and a PT_NOTE with a "Linux" note and,
    with xen, Xen's GUEST_OS and ENTRY (XEN_ELFNOTE_ENTRY = 1) notes."""
    notes = note("Linux", 0x100)
    if xen:
        notes += note("Xen", 6, b"linux\0\0\0") + note("Xen", 5, b"xen-3.0\0") + \
            note("Xen", 8, b"generic\0") + note("Xen", 1, struct.pack("<Q", 1 << 24))
    paddr, code = 0x1000000, b"\xf4" * 16
    ehdr_size, phdr_size = 64, 56
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, paddr, ehdr_size, 0, 0,
                               ehdr_size, phdr_size, 2, 0, 0, 0)
    note_off = ehdr_size + 2 * phdr_size
    code_off = note_off + len(notes)
    load = struct.pack("<IIQQQQQQ", 1, 5, code_off, paddr, paddr, len(code), len(code), 0x1000)
    pnote = struct.pack("<IIQQQQQQ", 4, 4, note_off, 0, 0, len(notes), len(notes), 4)
    return ehdr + load + pnote + notes + code


def bzimage(payload_elf=None, raw_payload=None, declared=None):
    """A Linux bzImage (boot protocol 2.15, EFI-stub "MZ" start) around an xz-compressed
    ELF, or around raw_payload; the decompressed size appended as Linux does."""
    if raw_payload is None:
        raw_payload = lzma.compress(payload_elf, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
        declared = len(payload_elf) if declared is None else declared
    payload = raw_payload + struct.pack("<I", declared or 0)
    setup = bytearray(1024)  # setup_sects = 1
    setup[0:2] = b"MZ"
    setup[0x1f1] = 1
    setup[0x1fe:0x200] = b"\x55\xaa"
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020f)
    struct.pack_into("<H", setup, 0x20e, 0x100)  # kernel_version: the string at 0x300
    version = b"6.1.0-99-amd64 (test) #1 SMP\0"
    setup[0x300:0x300 + len(version)] = version
    struct.pack_into("<II", setup, 0x248, 0, len(payload))
    return bytes(setup) + payload


def pe_efi():
    b = bytearray(0x200)
    b[0:2] = b"MZ"
    struct.pack_into("<I", b, 0x3c, 0x80)
    b[0x80:0x86] = b"PE\0\0\x64\x86"
    return bytes(b)


def multiboot_raw():
    return bytes(0x40) + struct.pack("<III", 0x1badb002, 0, (-0x1badb002) & 0xffffffff) + \
        bytes(0x100)


def make_fifo(path):
    os.mkfifo(path)


def make_sparse_3g(path):
    with open(path, "wb") as f:
        f.truncate(3 << 30)
def xen_notes(features=b"!writable_page_tables"):
    """Xen ELF notes as XTF's pv64 kernels carry them (<xen/elfnote.h> numbers)."""
    out = b""
    for ntype, desc in ((6, b"XTF\0"), (8, b"generic\0"), (5, b"xen-3.0\0"),
                        (10, features + b"\0")):
        desc += bytes(-len(desc) % 4)
        out += struct.pack("<III", 4, len(desc), ntype) + b"Xen\0" + desc
    return out


def xen_elf(elf_class=2, features=b"!writable_page_tables"):
    """A Xen PV kernel: one PT_LOAD (a hlt at 1 MiB) and one PT_NOTE."""
    notes, code, paddr = xen_notes(features), b"\xf4", 0x100000
    ident = b"\x7fELF" + bytes([elf_class, 1, 1]) + bytes(9)
    if elf_class == 2:
        eh, ph = 64, 56
        hdr = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, paddr, eh, 0, 0, eh, ph, 2, 0, 0, 0)
        off = eh + 2 * ph
        load = struct.pack("<IIQQQQQQ", 1, 5, off, paddr, paddr, 1, 1, 0x1000)
        note = struct.pack("<IIQQQQQQ", 4, 4, off + 1, 0, 0, len(notes), len(notes), 4)
    else:
        eh, ph = 52, 32
        hdr = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, paddr, eh, 0, 0, eh, ph, 2, 0, 0, 0)
        off = eh + 2 * ph
        load = struct.pack("<IIIIIIII", 1, off, paddr, paddr, 1, 1, 5, 0x1000)
        note = struct.pack("<IIIIIIII", 4, off + 1, 0, 0, len(notes), len(notes), 4, 4)
    return hdr + load + note + code + notes


class Case:
    def __init__(self, status, words, args=(), files=None, env=None, as_nobody=False,
                 make=None, max_seconds=None, kvm_free=False, lock=None):
        self.status, self.words, self.args = status, words, list(args)
        self.files, self.env, self.as_nobody = files or {}, env or {}, as_nobody
        # make: {name: function(path)} for what is not plain bytes (a FIFO, a sparse file)
        self.make, self.max_seconds = make or {}, max_seconds
        # kvm_free: an as_nobody case that fails before lodger opens /dev/kvm;
        # lock: a file this script holds a lock on (as another lodger would) meanwhile
        self.kvm_free, self.lock = kvm_free, lock


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
    "xen-mode-direct": Case(EXIT_USAGE, ["Xen PV", "mode=direct"],
                            ["-machine", "mode=direct", "{dir}/k.elf"], {"k.elf": xen_elf()}),
    "xen-32bit": Case(EXIT_BAD_IMAGE, ["32-bit Xen PV"], ["{dir}/k.elf"],
                      {"k.elf": xen_elf(elf_class=1)}),
    "xen-required-feature": Case(EXIT_BAD_IMAGE, ["auto_translated_physmap"], ["{dir}/k.elf"],
                                 {"k.elf": xen_elf(features=b"!auto_translated_physmap")}),
    "xen-personality-without-notes": Case(EXIT_USAGE, ["no Xen ELF notes"],
                                          ["-machine", "personality=xen", "{dir}/k.elf"],
                                          {"k.elf": elf64()}),
    "unknown-personality": Case(EXIT_USAGE, ["hvm"], ["-machine", "personality=hvm", "{dir}/k.elf"],
                                {"k.elf": elf64()}),
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
    # Kernels lodger recognises and cannot boot: one line naming each (docs/linux.md).
    "linux-vmlinux-without-xen": Case(EXIT_BAD_IMAGE, ["Linux kernel (vmlinux) without Xen PV"],
                                      ["{dir}/vmlinux"], {"vmlinux": vmlinux()}),
    "linux-bzimage-without-xen": Case(EXIT_BAD_IMAGE,
                                      ["Linux kernel (bzImage 6.1.0-99-amd64) without Xen PV"],
                                      ["{dir}/vmlinuz"], {"vmlinuz": bzimage(vmlinux())}),
    # A Xen PV kernel is accepted: its domain is built, and only the absent KVM stops it.
    "linux-bzimage-with-xen": Case(EXIT_NO_KVM, ["/nonexistent/kvm"],
                                   ["{dir}/vmlinuz"], {"vmlinuz": bzimage(vmlinux(xen=True))},
                                   env={"LODGER_KVM_DEVICE": "/nonexistent/kvm"}),
    "linux-vmlinux-with-xen": Case(EXIT_NO_KVM, ["/nonexistent/kvm"],
                                   ["{dir}/vmlinux"], {"vmlinux": vmlinux(xen=True)},
                                   env={"LODGER_KVM_DEVICE": "/nonexistent/kvm"}),
    "bzimage-bzip2": Case(EXIT_BAD_IMAGE, ["bzip2", "xz, gzip and zstd"], ["{dir}/vmlinuz"],
                          {"vmlinuz": bzimage(raw_payload=b"BZh91AY&SY" + bytes(64),
                                              declared=4096)}),
    "bzimage-truncated": Case(EXIT_BAD_IMAGE, ["outside the file"], ["{dir}/vmlinuz"],
                              {"vmlinuz": bzimage(vmlinux())[:-40]}),
    "bzimage-bomb": Case(EXIT_BAD_IMAGE, ["more than guest RAM (64 MiB)"],
                         ["-m", "64M", "{dir}/vmlinuz"],
                         {"vmlinuz": bzimage(vmlinux(), declared=128 << 20)}),
    "pe-efi": Case(EXIT_BAD_IMAGE, ["PE/COFF", "EFI"], ["{dir}/k.efi"], {"k.efi": pe_efi()}),
    "multiboot": Case(EXIT_BAD_IMAGE, ["multiboot kernel"], ["{dir}/k.bin"],
                      {"k.bin": multiboot_raw()}),
    "gzipped-vmlinux": Case(EXIT_BAD_IMAGE, ["gzip-compressed"], ["{dir}/vmlinux.gz"],
                            {"vmlinux.gz": __import__("gzip").compress(vmlinux())}),
    "random-data": Case(EXIT_BAD_IMAGE, ["not an ELF file nor a Linux bzImage"], ["{dir}/k"],
                        {"k": bytes((i * 131 + 7) & 0xff for i in range(4096))}),
    # Host input: never wait on a FIFO; refuse a file larger than guest RAM by its size.
    "kernel-fifo": Case(EXIT_BAD_IMAGE, ["not a regular file (a FIFO)"], ["{dir}/k"],
                        make={"k": make_fifo}, max_seconds=10),
    "initrd-fifo": Case(EXIT_BAD_IMAGE, ["initrd", "not a regular file (a FIFO)"],
                        ["-initrd", "{dir}/i", "{dir}/k.elf"], {"k.elf": elf64()},
                        make={"i": make_fifo}, max_seconds=10),
    "kernel-char-device": Case(EXIT_BAD_IMAGE, ["not a regular file (a character device)"],
                               ["/dev/null"]),
    "kernel-larger-than-ram": Case(EXIT_BAD_IMAGE, ["3072 MiB, larger than guest RAM (64 MiB)"],
                                   ["-m", "64M", "{dir}/k"], make={"k": make_sparse_3g},
                                   max_seconds=2),
    "initrd-larger-than-ram": Case(EXIT_BAD_IMAGE, ["initrd", "larger than guest RAM (64 MiB)"],
                                   ["-m", "64M", "-initrd", "{dir}/i", "{dir}/k.elf"],
                                   {"k.elf": elf64()}, make={"i": make_sparse_3g},
                                   max_seconds=2),
    "drive-missing": Case(EXIT_BAD_IMAGE, ["nope.img", "No such file"],
                          ["-drive", "file={dir}/nope.img", "{dir}/k.elf"], {"k.elf": elf64()}),
    "drive-bad-size": Case(EXIT_BAD_IMAGE, ["d.img", "not a multiple of 512"],
                           ["-drive", "file={dir}/d.img", "{dir}/k.elf"],
                           {"k.elf": elf64(), "d.img": bytes(1000)}),
    "drive-unreadable": Case(EXIT_BAD_IMAGE, ["d.img", "Permission denied"],
                             ["-drive", "file={dir}/d.img", "{dir}/k.elf"],
                             {"k.elf": elf64(), "d.img": (bytes(4096), 0o000)},
                             as_nobody=True, kvm_free=True),
    "drive-locked": Case(EXIT_BAD_IMAGE, ["d.img", "locked by another process"],
                         ["-drive", "file={dir}/d.img", "{dir}/k.elf"],
                         {"k.elf": elf64(), "d.img": bytes(4096)}, lock="d.img"),
    "drive-directory": Case(EXIT_BAD_IMAGE, ["drive", "directory"],
                            ["-drive", "file={dir}", "{dir}/k.elf"], {"k.elf": elf64()}),
    "drive-if-ide": Case(EXIT_USAGE, ["if=ide", "virtio or xen"],
                         ["-drive", "file={dir}/d.img,if=ide", "{dir}/k.elf"],
                         {"k.elf": elf64(), "d.img": bytes(4096)}),
    "drive-xen-missing": Case(EXIT_BAD_IMAGE, ["nope.img", "No such file"],
                              ["-drive", "file={dir}/nope.img,if=xen", "{dir}/k.elf"],
                              {"k.elf": elf64()}),
    "drive-bad-cache": Case(EXIT_USAGE, ["cache=fast"],
                            ["-drive", "file={dir}/d.img,cache=fast", "{dir}/k.elf"],
                            {"k.elf": elf64(), "d.img": bytes(4096)}),
    "drive-no-file": Case(EXIT_USAGE, ["-drive", "no file="],
                          ["-drive", "format=raw", "{dir}/k.elf"], {"k.elf": elf64()}),
    "drive-qcow2": Case(EXIT_USAGE, ["format=qcow2", "raw"],
                        ["-drive", "file={dir}/d.img,format=qcow2", "{dir}/k.elf"],
                        {"k.elf": elf64(), "d.img": bytes(4096)}),
    "config-drive-bad-key": Case(EXIT_USAGE, ["vm.cfg:3", "frob"],
                                 ["-readconfig", "{dir}/vm.cfg", "{dir}/k.elf"],
                                 {"k.elf": elf64(),
                                  "vm.cfg": b"[drive]\n  file = \"d.img\"\n  frob = \"1\"\n"}),
    "config-drive-no-file": Case(EXIT_USAGE, ["drive 0", "no file="],
                                 ["-readconfig", "{dir}/vm.cfg", "{dir}/k.elf"],
                                 {"k.elf": elf64(), "vm.cfg": b"[drive]\n  format = \"raw\"\n"}),
    # The line QEMU users boot test kernels with: accepted whole (it then fails only for
    # want of KVM, here a device that does not exist).
    "qemu-canonical-line": Case(EXIT_NO_KVM, ["/nonexistent/kvm"],
                                ["-serial", "stdio", "-display", "none", "-device",
                                 "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot",
                                 "-kernel", "{dir}/k.elf"], {"k.elf": elf64()},
                                env={"LODGER_KVM_DEVICE": "/nonexistent/kvm"}),
    "unsupported-option": Case(EXIT_USAGE, ["-netdev", "not supported by lodger", "network"],
                               ["-netdev", "user,id=n0", "{dir}/k.elf"], {"k.elf": elf64()}),
    "mistake-then-help": Case(EXIT_USAGE, ["-frobnicate"], ["-frobnicate", "--help"]),
    "option-typo": Case(EXIT_USAGE, ["-kernal", "did you mean -kernel"],
                        ["-kernal", "{dir}/k.elf"]),
    "second-serial": Case(EXIT_USAGE, ["second -serial", "COM2"],
                          ["-serial", "stdio", "-serial", "null", "{dir}/k.elf"],
                          {"k.elf": elf64()}),
    "serial-file-unwritable": Case(EXIT_USAGE, ["-serial file:", "No such file"],
                                   ["-serial", "file:{dir}/no/such/dir/out", "{dir}/k.elf"],
                                   {"k.elf": elf64()}),
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
    if case.as_nobody and not case.kvm_free and not os.path.exists("/dev/kvm"):
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
        for fname, make in case.make.items():
            make(os.path.join(d, fname))
        held = None
        if case.lock:
            held = open(os.path.join(d, case.lock), "rb+")
            fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # Arguments are bytes: "\udcXX" in a case stands for the raw byte XX.
        args = [os.fsencode(a.replace("{dir}", d)) for a in case.args]
        cmd = [os.fsencode(os.path.abspath(lodger))] + args
        if case.as_nobody:
            cmd = [b"setpriv", b"--reuid=65534", b"--regid=65534", b"--clear-groups"] + cmd
        env = dict(os.environ, **case.env)
        start = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, timeout=30, env=env,
                           stdin=subprocess.DEVNULL)
        took = time.monotonic() - start
        if held:
            held.close()
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
    if case.max_seconds is not None and took > case.max_seconds:
        problems.append(f"took {took:.1f} s, expected under {case.max_seconds} s")
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
