#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/NAME/ (small, hand-made inputs that reach
deep into each harness; the fuzzers mutate from there). The formats are the harnesses'
(see the comment at the top of each fuzz_NAME.c). Usage: make_seeds.py [DIR]"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def write(name, seed, data):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data)


# ---- config: FILE alone (starts with '[' or '#'), or ARGV "\0\0" FILE ----

VM_CFG = b"""# lodger configuration
[machine]
  type = "lodger"
  mode = "shadow"
  accel = "kvm"
  stub-base = "0xffff800000200000"
  traps = "vmm"
  relocate = "on"
  seed = "42"
  reloc-hot = "16"
  reloc-window-ms = "100"
  kernel = "guests/hello.elf"
  append = "console=ttyS0 \\"quoted\\" a\\\\b"
  initrd = "initrd.img"

[memory]
  size = "256M"

[smp-opts]
  cpus = "1"

[chardev "serial0"]
  backend = "file"
  path = "serial.log"

[lodger]
  debug = "trap,shadow"
  logfile = "debug.log"
  no-reboot = "on"
  nographic = "off"
  stats = "-"
"""
write("config", "full.cfg", VM_CFG)
write("config", "minimal.cfg", b'[machine]\n  kernel = "k.elf"\n')
write("config", "comments.cfg", b'# c\n; c\n[memory]\nsize=64M ; bare value\n[lodger] # x\n')


def argv(*args, file=None):
    data = b"\0".join(a.encode() if isinstance(a, str) else a for a in args)
    return data if file is None else data + b"\0\0" + file


write("config", "argv-basic", argv("-kernel", "k.elf", "-m", "64M", "-append", "console=ttyS0"))
write("config", "argv-shadow", argv("-M", "lodger,mode=shadow,traps=auto,stub-base=0x40000000,"
                                    "relocate=off,seed=0x10,reloc-hot=3,reloc-window-ms=7",
                                    "-accel", "kvm,mode=shadow", "-smp", "cpus=1", "k.elf"))
write("config", "argv-files", argv("-readconfig", "@", "-m", "size=128M", "-serial",
                                   "file:out.txt", "-d", "all", "-D", "d.log", "-stats", "-",
                                   "--print-config", file=VM_CFG))
write("config", "argv-misc", argv("-nographic", "-no-reboot", "-enable-kvm", "-initrd", "i",
                                  "--", "-k"))
# Found by fuzz-config: bytes 0x80-0xff of an argument reached the error line raw.
write("config", "crash-high-bytes-in-error-line", argv("k", b"\xbb(\x9b[31m"))
# Found by fuzz-config: a line indented with a form feed was inih's continuation line.
write("config", "crash-form-feed-continuation",
      argv("-readconfig", "@", file=b'[machine]\n  type = "lodger"\n\x0ckernel"\n'))

# ---- loader: an ELF64 image ----


def elf64(segments, entry, machine=62, etype=2):
    """segments: (type, paddr, data, memsz) for each program header."""
    ehdr_size, phdr_size = 64, 56
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    phoff = ehdr_size
    off = phoff + phdr_size * len(segments)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0,
                               ehdr_size, phdr_size, len(segments), 0, 0, 0)
    phdrs, blobs = b"", b""
    for ptype, paddr, data, memsz in segments:
        phdrs += struct.pack("<IIQQQQQQ", ptype, 5, off + len(blobs), 0xffffffff80000000 + paddr,
                             paddr, len(data), memsz, 0x1000)
        blobs += data
    return ehdr + phdrs + blobs


write("loader", "one-segment", elf64([(1, 0x100000, b"\xf4" * 16, 16)], 0x100000))
write("loader", "bss", elf64([(1, 0x100000, b"\x90\xf4", 0x3000)], 0x100001))
write("loader", "three-segments", elf64([(1, 0x100000, b"\xeb\xfe", 2), (4, 0, b"note", 4),
                                         (1, 0x200000, b"data" * 8, 0x1000)], 0x100000))
write("loader", "entry-outside", elf64([(1, 0x100000, b"\xf4", 1)], 0x300000))

# ---- emulator: flags, gflags, 64 PTE flag bytes, kvm_regs, CPU state, vector, insn, RAM ----

REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp"] + [f"r{i}" for i in range(8, 16)] + \
       ["rip", "rflags"]
PAGES, DATA_PAGE = 64, 4
# Everything in pages 4-5, so that a seed stays small (the rest of RAM is zeros).
IDT, CODE, GDT, TSS, OPERAND, STACK, FRAME = 0x4000, 0x5000, 0x5800, 0x5900, 0x5a00, 0x5e00, 0x5f00


def gate(offset, dpl=3, ist=0, typ=0xe, sel=0x9b):
    lo = (offset & 0xffff) | (sel << 16) | (ist << 32) | (typ << 40) | (dpl << 45) | (1 << 47) | \
         ((offset >> 16) & 0xffff) << 48
    return struct.pack("<QQ", lo, offset >> 32)


def ram():
    """Guest RAM from page 4 on: an IDT, a GDT with a TSS, stacks and an iretq frame."""
    mem = bytearray((PAGES - DATA_PAGE) * 0x1000)

    def put(gpa, data):
        mem[gpa - DATA_PAGE * 0x1000:gpa - DATA_PAGE * 0x1000 + len(data)] = data
    for v in list(range(32)) + [0x80]:
        put(IDT + 16 * v, gate(0x5100 + v, ist=1 if v in (2, 8, 18) else 0))
    tss_desc = (0x67 | (TSS & 0xffffff) << 16 | 0x89 << 40)
    put(GDT + 0x48, struct.pack("<QQ", tss_desc, 0))
    put(TSS + 4, struct.pack("<Q", STACK))  # RSP0
    put(TSS + 0x24, struct.pack("<Q", STACK - 0x200))  # IST1
    # iretq / lret frame at RSP: RIP, CS, RFLAGS, RSP, SS (to user mode)
    put(FRAME, struct.pack("<QQQQQ", 0x5200, 0x93, 0x202, 0x5d00, 0x8b))
    put(OPERAND, struct.pack("<HQ", 0xfff, IDT))  # a lidt/lgdt operand
    return bytes(mem).rstrip(b"\0")


def emulator(insn, flags=0, gflags=0x07, vector=13, regs=None, error=0):
    r = dict(rip=CODE, rsp=FRAME, rflags=0x202, rax=OPERAND, rcx=0xc0000080, rdx=0x3f8)
    r.update(regs or {})
    state = struct.pack("<BB", flags, gflags) + bytes([0x67] * PAGES)
    state += b"".join(struct.pack("<Q", r.get(n, 0)) for n in REGS)
    state += struct.pack("<QQQ", 0, 0, 0)  # cr3 (if raw), cr0 (if given), cr4 (if given)
    state += struct.pack("<Q", 0)  # cr2
    state += struct.pack("<QH", GDT, 0x7f) + struct.pack("<QH", IDT, 0xfff)
    state += struct.pack("<Q", TSS)
    star = (0x83 << 48) | (0x08 << 32)
    state += struct.pack("<QQQQQ", star, 0x5300, 0x5300, 0x47700, 0)
    state += struct.pack("<QQ", 0, 0)  # fs, gs base
    state += struct.pack("<BH", [6, 11, 12, 13].index(vector), error)
    return state + insn.ljust(15, b"\x90") + ram()


INSNS = {
    "mov-cr3": bytes.fromhex("0f22d8"), "mov-from-cr0": bytes.fromhex("0f20c0"),
    "mov-cr4": bytes.fromhex("0f22e0"), "mov-cr0": bytes.fromhex("0f22c0"),
    "mov-dr7": bytes.fromhex("0f23f8"), "lidt": bytes.fromhex("0f0118"),
    "lgdt": bytes.fromhex("0f0110"), "sidt": bytes.fromhex("0f0108"),
    "ltr": bytes.fromhex("0f00d8"), "lldt": bytes.fromhex("0f00d0"),
    "str": bytes.fromhex("0f00c8"), "smsw": bytes.fromhex("0f01e0"),
    "lmsw": bytes.fromhex("0f01f0"), "wrmsr": bytes.fromhex("0f30"),
    "rdmsr": bytes.fromhex("0f32"), "iretq": bytes.fromhex("48cf"),
    "lret": bytes.fromhex("48cb"), "sysretq": bytes.fromhex("480f07"),
    "swapgs": bytes.fromhex("0f01f8"), "int80": bytes.fromhex("cd80"), "int3": b"\xcc",
    "int1": b"\xf1", "hlt": b"\xf4", "in-dx": b"\xec", "out-f4": bytes.fromhex("e6f4"),
    "in-pic": bytes.fromhex("e421"), "outl-dx": b"\xef", "cli": b"\xfa", "sti": b"\xfb",
    "invlpg": bytes.fromhex("0f0138"), "mov-ss": bytes.fromhex("8ed0"),
    "mov-ds": bytes.fromhex("8ed8"), "pop-fs": bytes.fromhex("0fa1"),
    "ljmp-mem": bytes.fromhex("ff28"), "lcall-mem": bytes.fromhex("ff18"),
    "clts": bytes.fromhex("0f06"), "wbinvd": bytes.fromhex("0f09"),
}
for name, insn in INSNS.items():
    write("emulator", "kernel-" + name, emulator(insn))
for name in ["iretq", "int80", "in-dx", "mov-ds", "ljmp-mem", "sidt", "hlt"]:
    write("emulator", "user-" + name, emulator(INSNS[name], flags=0x02, vector=13,
                                                regs=dict(rsp=FRAME)))
write("emulator", "user32-iretq", emulator(INSNS["iretq"], flags=0x42))
write("emulator", "wrmsr-lstar", emulator(INSNS["wrmsr"], regs=dict(rcx=0xc0000082, rax=0x5400)))
write("emulator", "wrmsr-apic", emulator(INSNS["wrmsr"], regs=dict(rcx=0x1b)))
write("emulator", "wrmsr-sysenter-cs", emulator(INSNS["wrmsr"], regs=dict(rcx=0x174, rax=0x8)))
write("emulator", "rdmsr-sysenter-eip", emulator(INSNS["rdmsr"], regs=dict(rcx=0x176)))
write("emulator", "ud-vector", emulator(bytes.fromhex("0f0b"), vector=6))
# With the zap log (gflags 0x40: a KVM without TDP): a CR4 change empties every root, an
# invlpg and a CR3 load check entries; the harness fills the shadow for what they touch.
write("emulator", "zap-mov-cr4", emulator(INSNS["mov-cr4"], gflags=0x47, regs=dict(rax=0x6a0)))
write("emulator", "zap-invlpg", emulator(INSNS["invlpg"], gflags=0x47, regs=dict(rax=CODE)))
write("emulator", "zap-mov-cr3", emulator(INSNS["mov-cr3"], gflags=0x47, regs=dict(rax=0)))
write("emulator", "direct-cmpxchg16b",
      emulator(bytes.fromhex("480fc708"), flags=0x01, regs=dict(rax=OPERAND)))
write("emulator", "direct-int3", emulator(b"\xcc", flags=0x01))
write("emulator", "direct-invpcid", emulator(bytes.fromhex("660f388200"), flags=0x01))

# ---- pagewalk: settings, entry writes, addresses ----


def entry_ram(page, index, target, flags):
    return struct.pack("<BHBHB", page, index, 0, flags, target)


def entry_large(page, index, frame_2m, flags):
    return struct.pack("<BHBHB", page, index, 1, flags, frame_2m)


def addr(i4, i3, i2, i1, off, length=8, acc=0):
    return struct.pack("<BHHHHHBB", 0, i4, i3, i2, i1, off, length, acc)


def pagewalk(flags, writes, addrs, cr3=(0, 0), stub=1):
    data = struct.pack("<BBBI", flags, cr3[0], cr3[1], stub)
    data += struct.pack("<B", len(writes)) + b"".join(writes)
    data += struct.pack("<B", len(addrs) - 1) + b"".join(addrs)
    return data


tables = [entry_ram(0, 0, 1, 0x67), entry_ram(1, 0, 2, 0x67), entry_ram(2, 0, 3, 0x67)] + \
         [entry_ram(3, i, 8 + i, 0x67 if i % 2 else 0x25) for i in range(8)]
write("pagewalk", "4k-pages", pagewalk(0x18, tables, [addr(0, 0, 0, i, 0x10 * i, 16, i * 0x11)
                                                      for i in range(8)]))
write("pagewalk", "2m-page", pagewalk(0x10, [entry_ram(0, 256, 1, 0x27), entry_ram(1, 3, 2, 0x27),
                                             entry_large(2, 5, 0, 0xe7)],
                                      [addr(256, 3, 5, 0, 0x123, 32, 0x0c),
                                       addr(256, 3, 5, 31, 0xffc, 8, 0x05)]))
write("pagewalk", "1g-page", pagewalk(0x08, [entry_ram(0, 1, 1, 0x07), entry_large(1, 0, 0, 0x87)],
                                      [addr(1, 0, 0, 2, 0x800, 64, 0x01)]))
write("pagewalk", "monitor-frame", pagewalk(0x10, tables[:3] + [
    struct.pack("<BHBHB", 3, 4, 2, 0x67, 3)], [addr(0, 0, 0, 4, 0, 8, 0x09)]))
write("pagewalk", "phys-bits", pagewalk(0x03, tables, [addr(0, 0, 0, 1, 0, 8, 0x2a)]))


# ---- xenring: u8 target (0 xenstore, 1 blkif), then fuzz_xenring.c's format ----

def xs_msg(mtype, payload, tx=0, req_id=1):
    return struct.pack("<IIII", mtype, req_id, tx, len(payload)) + payload


def xs_chunk(msg, flags=0):
    return struct.pack("<BH", flags, len(msg)) + msg


XS_READ, XS_WATCH, XS_TXN_START, XS_TXN_END, XS_WRITE, XS_DIRECTORY = 2, 4, 6, 7, 11, 1
FE = b"device/vbd/51712/"
write("xenring", "xenstore-blkfront",
      b"\0" + xs_chunk(xs_msg(XS_DIRECTORY, b"device/vbd\0")) +
      xs_chunk(xs_msg(XS_WATCH, b"/local/domain/0/backend/vbd/1/51712/state\0be\0")) +
      xs_chunk(xs_msg(XS_TXN_START, b"\0")) +
      xs_chunk(xs_msg(XS_WRITE, FE + b"ring-ref\0" + b"1", tx=1)) +
      xs_chunk(xs_msg(XS_WRITE, FE + b"event-channel\0" + b"5", tx=1)) +
      xs_chunk(xs_msg(XS_TXN_END, b"T\0", tx=1)) +
      xs_chunk(xs_msg(XS_WRITE, FE + b"state\0" + b"3")) +
      xs_chunk(xs_msg(XS_READ, b"/local/domain/0/backend/vbd/1/51712/sectors\0")))


def grant(flags, dom, frame):
    return struct.pack("<HHI", flags, dom, frame)


def blk_req(op, nseg, rid, sector, segs):
    r = struct.pack("<BBHIQQ", op, nseg, 0, 0, rid, sector)
    for gref, first, last in segs:
        r += struct.pack("<IBBH", gref, first, last, 0)
    return r.ljust(112, b"\0")


gt = grant(0, 0, 0) + grant(1, 0, 2) + b"".join(grant(1, 0, 10 + i) for i in range(8))
gt = gt.ljust(512, b"\0")
reqs = blk_req(1, 2, 1, 0, [(2, 0, 7), (3, 0, 7)]) + blk_req(0, 1, 2, 8, [(4, 1, 3)]) + \
    blk_req(3, 0, 3, 0, []) + blk_req(5, 0, 4, 0, [])
write("xenring", "blkif-rw-flush", b"\1" + gt + reqs.ljust(32 * 112, b"\0") + struct.pack("<I", 4))


# ---- virtqueue: u8 log2(num), u8 used len, u8 QUEUE_NUM, u8 pad, u32 desc, avail, used
# (guest-physical, mod 64 KiB), then guest RAM from 0 (fuzz_virtqueue.c) ----

def vq_desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def virtqueue(num, descs, heads, extra, desc=0x1000, avail=0x2000, used=0x3000):
    vram = bytearray(0x4000)
    d = b"".join(descs)
    vram[desc:desc + len(d)] = d
    a = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    vram[avail:avail + len(a)] = a
    for gpa, data in extra:
        vram[gpa:gpa + len(data)] = data
    return struct.pack("<BBBBIII", num.bit_length() - 1, 0x10, num, 0, desc, avail, used) + \
        bytes(vram)


NEXT, WRITE, INDIRECT = 1, 2, 4
# virtio-blk: a read, a write and a flush, each header / data / status as three descriptors
blk_hdr = [struct.pack("<IIQ", t, 0, s) for t, s in ((0, 0), (1, 8), (4, 0))]
write("virtqueue", "blk-read-write-flush", virtqueue(8, [
    vq_desc(0x100, 16, NEXT, 1), vq_desc(0x400, 512, NEXT | WRITE, 2), vq_desc(0x180, 1, WRITE),
    vq_desc(0x110, 16, NEXT, 4), vq_desc(0x600, 512, NEXT, 5), vq_desc(0x181, 1, WRITE),
    vq_desc(0x120, 16, NEXT, 7), vq_desc(0x182, 1, WRITE)], [0, 3, 6],
    [(0x100, blk_hdr[0]), (0x110, blk_hdr[1]), (0x120, blk_hdr[2])]))
# an indirect table, and a chain that loops back on itself (the parser must break it)
write("virtqueue", "indirect-and-loop", virtqueue(4, [
    vq_desc(0x800, 48, INDIRECT), vq_desc(0x100, 16, NEXT, 2), vq_desc(0x180, 1, WRITE | NEXT, 1)],
    [0, 1], [(0x100, blk_hdr[0]),
             (0x800, vq_desc(0x100, 16, NEXT, 1) + vq_desc(0x400, 512, NEXT | WRITE, 2) +
              vq_desc(0x180, 1, WRITE))]))
