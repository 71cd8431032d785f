#!/usr/bin/env python3
"""Debian's Linux on lodger, interactive, through a pseudo-terminal as a user meets it:
lodger -nographic with the initramfs and no command gives a shell on hvc0; typed keys reach
it through the Xen console ring.

Cases:
  poweroff   a command typed at the prompt runs (its output comes back), `poweroff -f`
             ends lodger with status 0 and the terminal restored
  ctrl-a-x   Ctrl-A x leaves lodger (status 14), the terminal restored
Usage: shell_test.py LODGER GET_DEBIAN_KERNEL MAKE_INITRAMFS CACHE_DIR CASE
Skips (77) with one line when /dev/kvm is unusable or the kernel package cannot be fetched.
"""
import os
import sys

from linux_guest import initramfs, kernel, require_kvm, save_transcript

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "console"))
from pty_console import EXIT_USER_QUIT, Fail, Pty, check  # noqa: E402

BOOT_TIMEOUT = 600  # seconds: a boot on a TCG-speed nested KVM takes minutes
SHELL_BANNER = "lodger-initramfs: no command on the kernel command line: a shell"


def main():
    lodger, get_kernel, make_initramfs, cache, case = sys.argv[1:6]
    require_kvm()
    vmlinuz, _ = kernel(get_kernel, cache)
    rd = os.path.join(cache, "initramfs.cpio")
    if not os.path.exists(rd):
        initramfs(make_initramfs, rd)
    t = Pty([lodger, "-m", "512M", "-nographic", "-kernel", vmlinuz, "-initrd", rd,
             "-append", "console=hvc0 quiet"])
    try:
        t.expect(SHELL_BANNER, BOOT_TIMEOUT)
        t.expect("# ", 60)
        if case == "poweroff":
            t.send(b"echo typed-$((6 * 7))\r")
            t.expect("typed-42", 60)
            t.send(b"poweroff -f\r")
            status = t.finish(120)
            check(status == 0, f"poweroff -f: status {status}, expected 0")
        elif case == "ctrl-a-x":
            t.send(b"\x01x")
            status = t.finish(60)
            check(status == EXIT_USER_QUIT, f"Ctrl-A x: status {status}, "
                  f"expected {EXIT_USER_QUIT}")
        else:
            sys.exit(f"unknown case {case}")
    except Fail as e:
        t.p.kill()
        log = save_transcript(cache, f"shell_test-{case}", t.out.decode(errors="replace"))
        print(f"FAIL: {e} (transcript: {log})")
        print("transcript tail:", t.out[-2000:].decode(errors="replace"))
        sys.exit(1)
    print(f"PASS: {case}")


if __name__ == "__main__":
    main()
